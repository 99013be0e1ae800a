package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/amidial"
)

// demoContacts: the fake Asterisk's dialplan decides by extension (200
// busy, 300 no answer, 250 congestion, 260 rejected, 999 no such number);
// the demo's trunk dials Local/<last three digits>@test.
const demoContacts = `id,number,timezone,name
ann,+44 20 7946 0100,Europe/London,Ann
bob,+44 20 7946 0200,Europe/London,Bob
cid,+44 20 7946 0300,Europe/London,Cid
dee,+44 20 7946 0250,Europe/London,Dee
eve,+44 20 7946 0260,Europe/London,Eve
fay,+44 20 7946 0999,Europe/London,Fay
gus,+1 212 555 0100,,Gus
hal,12345,,Hal
`

// demoOutcome plays each number's scripted outcome; busy ones answer on
// their second try.
func demoOutcome() func(amitest.Originate) amitest.Outcome {
	var mu sync.Mutex
	tries := map[string]int{}
	return func(o amitest.Originate) amitest.Outcome {
		mu.Lock()
		defer mu.Unlock()
		tries[o.Channel]++
		out := amitest.DefaultOutcome(o)
		if out.Kind == amitest.Busy && tries[o.Channel] > 1 {
			out = amitest.Outcome{Kind: amitest.Answered}
		}
		out.Ring = 150 * time.Millisecond
		if out.Kind == amitest.NoAnswer {
			out.Ring = 0 // the Originate's Timeout
		}
		if out.Kind == amitest.Answered {
			out.Talk = 300 * time.Millisecond
		}
		return out
	}
}

func cmdDemo(ctx context.Context, stdout io.Writer) error {
	quiet := slog.New(slog.DiscardHandler)
	srv := amitest.NewServer(amitest.Config{Outcome: demoOutcome(), Logger: quiet})
	defer srv.Close()
	fmt.Fprintf(stdout, "fake Asterisk (ami/amitest) on %s; in-process store; no Redis\n", srv.Addr)

	backendCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	b := amidial.New(amidial.Config{Addr: srv.Addr, Username: "dialer", Secret: "secret", Logger: quiet,
		AMI: ami.Config{Logger: quiet}})
	go func() { _ = b.Run(backendCtx) }()
	<-b.Ready()

	spool, err := os.MkdirTemp("", "dialer-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(spool)
	var out sync.Mutex
	results, err := calllog.NewWriter(calllog.Config{Stream: "attempts", Summary: "attempt", SpoolDir: spool,
		Tee: func(e calllog.Entry) {
			out.Lock()
			defer out.Unlock()
			f := e.Fields
			switch e.Kind {
			case dialer.KindAttempt:
				fmt.Fprintf(stdout, "  attempt %s  %-4s %-14s try %s  %-14s reason %s cause %s\n",
					e.Call[:8], f["contact"], f["number"], f["seq"], f["disposition"], f["reason"], f["cause"])
			case dialer.KindContact:
				fmt.Fprintf(stdout, "  contact %-4s %s after %s attempt(s)\n", f["contact"], f["status"], f["attempts"])
			}
		}}, nil, quiet)
	if err != nil {
		return err
	}
	defer results.Close(context.WithoutCancel(ctx))

	camp := dialer.Campaign{
		ID:          "demo",
		Trunks:      []dialer.Trunk{{Name: "local", Channel: "Local/${number}@test", Ports: 2, CPS: 5}},
		Answer:      dialer.Answer{Context: "test", Exten: "100", Priority: "1"},
		CallerID:    `"fsivr demo" <1000>`,
		RingTimeout: time.Second,
		Hours:       dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}},
		Retries: map[dialer.Disposition]dialer.Retry{
			dialer.Busy: {Max: 1, Delay: 500 * time.Millisecond}, dialer.NoAnswer: {Max: 1, Delay: 500 * time.Millisecond},
			dialer.Congestion: {Max: 1, Delay: 500 * time.Millisecond},
		},
	}
	// The trunk template gets the last three digits: amitest's dialplan.
	norm := &dialer.Normalizer{DefaultRegion: "GB"}
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: dialer.NewMemStore(), Backend: lastDigits{b},
		DNC: dialer.NewDNCSet("+12125550100"), Recorder: dialer.CallLogRecorder{W: results}, Logger: quiet,
		Normalizer: norm, Poll: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	if err := eng.Create(ctx); err != nil {
		return err
	}
	var pre dialer.Preflight
	rep, err := dialer.ImportCSV(ctx, strings.NewReader(demoContacts), norm, func(cs []dialer.Contact) error {
		if err := pre.Count(ctx, eng, cs, dialer.NewDNCSet("+12125550100"), time.Now()); err != nil {
			return err
		}
		_, _, err := eng.Add(ctx, cs)
		return err
	})
	if err != nil {
		return err
	}
	pre.Report(rep)
	pre.Ping(ctx, b)
	printPreflight(stdout, rep, pre)
	p, err := eng.Run(ctx)
	if err != nil {
		return err
	}
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(stdout, "done: %d attempts; contacts %v; attempts %v; Originates seen by the fake Asterisk: %d, at most %d in flight (2 ports)\n",
		p.Attempts, p.Final, p.ByDisposition, len(srv.ActionsNamed("Originate")), srv.PeakInFlightOriginates())
	return nil
}

// lastDigits dials Local/<last 3 digits>@test, so the demo's numbers land
// on amitest's scripted extensions.
type lastDigits struct{ *amidial.Backend }

func (l lastDigits) Originate(ctx context.Context, c dialer.Call) (dialer.Outcome, error) {
	c.Channel = strings.Replace(c.Channel, c.Number, c.Number[len(c.Number)-3:], 1)
	return l.Backend.Originate(ctx, c)
}
