// Package backendtest is the conformance suite every dialer.Backend passes
// (dialer/amidial, dialer/callfile, dialer/esldial): the same table of
// network outcomes to dispositions, the same port-limit test through the
// engine and the same kill-and-reconcile test, each run against the
// backend's protocol fake (amitest, amitest's pbx_spool, esltest).
//
// A backend's test describes how to provoke each outcome on its fake in a
// Harness and calls Run:
//
//	backendtest.Run(t, backendtest.Harness{Backend: b, Restart: ..., Call: ..., Peak: ...})
package backendtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
)

// Outcome names what the network does with one call.
type Outcome string

// The outcomes of the shared table.
const (
	Answered      Outcome = "answered"
	Busy          Outcome = "busy"
	NoAnswer      Outcome = "no_answer"
	Congestion    Outcome = "congestion"
	Rejected      Outcome = "rejected"
	InvalidNumber Outcome = "invalid_number"
)

// Table is the shared table: what each outcome must come back as.
var Table = []struct {
	Outcome Outcome
	Want    dialer.Disposition
}{
	{Answered, dialer.Answered},
	{Busy, dialer.Busy},
	{NoAnswer, dialer.NoAnswer},
	{Congestion, dialer.Congestion},
	{Rejected, dialer.Rejected},
	{InvalidNumber, dialer.InvalidNumber},
}

// Harness is one backend on its fake.
type Harness struct {
	// Backend is running and connected.
	Backend dialer.Backend
	// Restart returns a new instance of the backend on the same fake, as a
	// restarted dialer process would have (the old one stays as it is).
	Restart func(t *testing.T) dialer.Backend
	// Call returns a call (fresh attempt id) that the fake will end with o.
	Call func(o Outcome) dialer.Call
	// Coarser lists the outcomes the backend's protocol cannot tell apart
	// and the disposition it gives instead (e.g. call files without a
	// hangup cause: invalid number is only "failed"). Each entry is still
	// checked.
	Coarser map[Outcome]dialer.Disposition
	// LongChannel is a dial string (a trunk channel template) the fake
	// answers and keeps up for at least ~300 ms.
	LongChannel string
	// Peak is the most calls the fake had up at once so far.
	Peak func() int
	// Originates is how many times the fake was asked to place attemptID.
	Originates func(attemptID string) int
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	// First, while the fake's peak is still this test's own.
	t.Run("PortLimit", func(t *testing.T) { PortLimit(t, h) })
	t.Run("Outcomes", func(t *testing.T) { Outcomes(t, h) })
	t.Run("KillAndReconcile", func(t *testing.T) { KillAndReconcile(t, h) })
}

// Outcomes checks the table, all calls at once.
func Outcomes(t *testing.T, h Harness) {
	var wg sync.WaitGroup
	for _, c := range Table {
		want := c.Want
		if d, ok := h.Coarser[c.Outcome]; ok {
			want = d
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := h.Call(c.Outcome)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := h.Backend.Originate(ctx, cl)
			if err != nil || out.Disposition != want {
				t.Errorf("%s: %+v, %v; want %s", c.Outcome, out, err, want)
				return
			}
			if (want == dialer.Answered) != !out.Answered.IsZero() {
				t.Errorf("%s: answer time %v with disposition %s", c.Outcome, out.Answered, out.Disposition)
			}
			if n := h.Originates(cl.AttemptID); n != 1 {
				t.Errorf("%s: the fake saw %d originates of the attempt", c.Outcome, n)
			}
		}()
	}
	wg.Wait()
}

// PortLimit (on a fresh fake) runs a campaign of 8 long answered calls on a 2-port trunk
// through the engine: the fake never has more than 2 up, and every contact
// is answered.
func PortLimit(t *testing.T, h Harness) {
	const ports, n = 2, 8
	if p := h.Peak(); p != 0 {
		t.Fatalf("the fake already had %d calls up: run PortLimit on a fresh fake", p)
	}
	camp := dialer.Campaign{ID: "ports", CallerID: `"Dialer" <1234>`,
		Trunks: []dialer.Trunk{{Name: "t", Channel: h.LongChannel, Ports: ports}},
		Answer: h.Call(Answered).Answer, RingTimeout: 5 * time.Second}
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: dialer.NewMemStore(), Backend: h.Backend,
		// Inside New York's default calling hours whatever the hour of the run.
		Clock: dialer.NewOffsetClock(time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)),
		Poll:  50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := eng.Create(ctx); err != nil {
		t.Fatal(err)
	}
	var cs []dialer.Contact
	for i := range n {
		cs = append(cs, dialer.Contact{ID: fmt.Sprintf("p%d", i), Number: fmt.Sprintf("+1212555%04d", 7000+i), Zones: []string{"America/New_York"}})
	}
	if _, _, err := eng.Add(ctx, cs); err != nil {
		t.Fatal(err)
	}
	p, err := eng.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, p)
	}
	if p.Final[dialer.StatusAnswered] != n {
		t.Errorf("%d of %d contacts answered: %+v", p.Final[dialer.StatusAnswered], n, p)
	}
	peak := h.Peak()
	if peak > ports {
		t.Errorf("%d calls up at once at the fake, %d ports", peak, ports)
	}
	if peak == 0 {
		t.Error("the fake never saw a call up: the test proves nothing")
	}
}

// KillAndReconcile: a dialer stops waiting in the middle of a long call (it
// died); a restarted backend finds the call live while it is up, and then
// ended (or unknown, when the protocol keeps no trace), never "never
// started"; an attempt that was never placed is never live or ended; and
// nothing was originated twice.
func KillAndReconcile(t *testing.T, h Harness) {
	cl := h.Call(Answered)
	cl.Channel = strings.ReplaceAll(h.LongChannel, "${number}", cl.Number)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h.Backend.Originate(ctx, cl)
		errc <- err
	}()
	// Wait until the fake has the call, then "kill" the dialer.
	deadline := time.Now().Add(10 * time.Second)
	for h.Originates(cl.AttemptID) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h.Originates(cl.AttemptID) == 0 {
		cancel()
		t.Fatal("the call never reached the fake")
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("Originate returned no error after its context was cancelled mid-call")
	}
	b2 := h.Restart(t)
	rec, ok := b2.(dialer.Reconciler)
	if !ok {
		t.Fatalf("%T is not a dialer.Reconciler", b2)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	st, _, err := rec.Reconcile(rctx, cl)
	if err != nil || st != dialer.StateLive {
		t.Fatalf("reconcile during the call: %v, %v; want live", st, err)
	}
	for st == dialer.StateLive && rctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		st, _, err = rec.Reconcile(rctx, cl)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st != dialer.StateEnded && st != dialer.StateUnknown {
		t.Errorf("reconcile after the call: %v; want ended or unknown (it rang)", st)
	}
	if n := h.Originates(cl.AttemptID); n != 1 {
		t.Errorf("the fake saw %d originates of the attempt", n)
	}
	never := h.Call(Answered)
	st, _, err = rec.Reconcile(rctx, never)
	if err != nil || (st != dialer.StateNeverStarted && st != dialer.StateUnknown) {
		t.Errorf("reconcile of an attempt never placed: %v, %v; want never_started or unknown", st, err)
	}
	if n := h.Originates(never.AttemptID); n != 0 {
		t.Errorf("reconcile placed the call: %d originates", n)
	}
}
