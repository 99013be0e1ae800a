package esldial_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/esldial"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/esl/esltest"
)

// cutProxy forwards TCP to target; Cut drops every connection, and while
// refusing it closes new ones at once (the switch unreachable).
type cutProxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	conns    []net.Conn
	refusing bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.Cut(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			refusing := p.refusing
			p.mu.Unlock()
			if refusing {
				_ = c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	return p
}

// Cut closes every proxied connection; refuse decides whether new ones
// are dropped until the next Cut.
func (p *cutProxy) Cut(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns, p.refusing = nil, refuse
}

// The event socket drops in the middle of answered calls. A call still up
// after the reconnect (uuid_exists) is followed to its hangup with its
// result; one that ended while nobody listened is answered (its answer was
// seen) with "hangup not seen", never re-dialed.
func TestEventSocketDropMidCall(t *testing.T) {
	ivrSrv, _ := startIVR(t)
	fs := esltest.NewServer(esltest.Config{OutboundAddr: ivrSrv.Addr, Script: func(string) esltest.Script {
		return esltest.Script{Digits: []string{"1"}, PlaybackDuration: 500 * time.Millisecond}
	}})
	defer fs.Close()
	proxy := newCutProxy(t, fs.Addr)
	b := esldial.New(esldial.Config{Addr: proxy.ln.Addr().String(), Password: "ClueCon", Logger: quiet(), Conn: esl.Config{Logger: quiet()}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-b.Ready()

	for _, tc := range []struct {
		name       string
		downFor    time.Duration // how long the switch stays unreachable
		wantReason string
	}{
		{"reconnect during the call", 0, "NORMAL_CLEARING"},
		{"call ends while unreachable", 2500 * time.Millisecond, "hangup not seen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := call("+12125550199")
			res := make(chan dialer.Outcome, 1)
			go func() {
				out, err := b.Originate(context.Background(), cl)
				if err != nil {
					t.Errorf("originate: %v", err)
				}
				res <- out
			}()
			time.Sleep(200 * time.Millisecond) // answered, in the message
			proxy.Cut(tc.downFor > 0)
			if tc.downFor > 0 {
				time.Sleep(tc.downFor)
				proxy.Cut(false)
			}
			select {
			case out := <-res:
				if out.Disposition != dialer.Answered || out.Reason != tc.wantReason {
					t.Errorf("%+v; want answered, reason %q", out, tc.wantReason)
				}
				if tc.downFor == 0 && out.Vars["notify_result"] != "confirmed" {
					t.Errorf("result lost over the reconnect: %v", out.Vars)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no outcome after the reconnect")
			}
			if n := bgapis(fs); n == 0 {
				t.Fatal("nothing originated")
			}
		})
	}
	// One originate per attempt, none repeated by the reconnects.
	if n := bgapis(fs); n != 2 {
		t.Errorf("%d originates for 2 attempts", n)
	}
}
