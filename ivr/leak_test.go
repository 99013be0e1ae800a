package ivr_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/crm"
	"github.com/fsivr/fsivr/crm/crmtest"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

// TestNoGoroutineLeakAfterManyCalls runs 1,000 calls of every shape the
// sales flow has (transfers, bridges answered and failed, invalid input,
// caller hangups mid-menu) through a real outbound server and the CRM
// prefetch, shuts everything down and checks that no goroutine is left.
func TestNoGoroutineLeakAfterManyCalls(t *testing.T) {
	const calls, parallel = 1000, 50
	defer goleak.VerifyNone(t)

	crmSrv := crmtest.NewServer(map[string]crmtest.Answer{"5551001": {Extension: "1001"}})
	defer crmSrv.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client, err := crm.New(crm.Config{BaseURL: crmSrv.URL, Timeout: time.Second, CacheSize: -1, BreakerFailures: -1},
		&http.Client{Transport: transport}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := newYork(t, time.Wednesday, 10, 0)
	log := &ivrtest.CallLog{}
	eng := ivr.NewEngine(ivr.Config{
		Flows: loadFlows(t), DefaultFlow: "sales", CallLog: log,
		Prefetchers: map[string]ivr.Prefetcher{"crm": client},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:         func() time.Time { return now },
	})
	srv := ivrtest.NewServer(eng, ivr.ServeOptions{DrainTimeout: 5 * time.Second})

	scripts := []func(i int) (esltest.Script, bool){
		func(int) (esltest.Script, bool) {
			return esltest.Script{CallerIDNumber: "5559999", Digits: []string{"1"}}, true
		},
		func(int) (esltest.Script, bool) {
			return esltest.Script{CallerIDNumber: "5551001", Digits: []string{"2"},
				Bridges: []esltest.BridgeOutcome{{Answer: true, TalkTime: time.Millisecond}}}, false
		},
		func(int) (esltest.Script, bool) {
			return esltest.Script{CallerIDNumber: "5551001", Digits: []string{"2", "2"},
				Bridges: []esltest.BridgeOutcome{{Cause: "USER_BUSY"}}}, true
		},
		func(int) (esltest.Script, bool) {
			return esltest.Script{CallerIDNumber: "5552222", Digits: []string{"", "9", "0"}}, false
		},
		func(int) (esltest.Script, bool) {
			return esltest.Script{CallerIDNumber: "5552222", Digits: []string{"1"},
				HangupAt: &esltest.HangupPoint{App: "play_and_get_digits", Delay: time.Millisecond}}, false
		},
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer ccancel()
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	sem := make(chan struct{}, parallel)
	for i := range calls {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s, hangupOnTransfer := scripts[i%len(scripts)](i)
			s.PlaybackDuration = time.Millisecond
			s.UUID = "leak-" + strconv.Itoa(i)
			transferred := make(chan struct{})
			var once sync.Once
			s.Observer = func(r esltest.Record) {
				if hangupOnTransfer && r.App == "transfer" {
					once.Do(func() { close(transferred) })
				}
			}
			c, err := esltest.StartOutbound(cctx, srv.Addr, s)
			if err != nil {
				errs <- err
				return
			}
			select {
			case <-transferred:
				c.Hangup("NORMAL_CLEARING")
			case <-c.Done():
			}
			<-c.Done()
			if c.HangupCause() == "" {
				errs <- &callError{uuid: c.UUID(), msg: "ended without hangup: " + errString(c.Err())}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	// Every call wrote its hangup entry before its handler returned, and
	// Serve returned only after every handler did.
	hangups := 0
	for _, e := range log.Entries() {
		if e.Kind == calllog.KindHangup {
			hangups++
		}
	}
	if hangups != calls {
		t.Fatalf("%d hangup entries, want %d", hangups, calls)
	}
	crmSrv.Close()
	transport.CloseIdleConnections()
}

type callError struct{ uuid, msg string }

func (e *callError) Error() string { return e.uuid + ": " + e.msg }

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
