package ivr_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/internal/cputime"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

// BenchmarkWholeCall drives one complete sales-flow call per op through the
// real engine as ivrd runs it: a loopback outbound socket, the esl reader
// and parser, the session, looplab/fsm, the call-log entries, Prometheus
// metrics and an Info-level JSON slog logger. The call is "menu 1": connect
// reply, answer, welcome playback, time routing, the main menu (digit 1),
// transfer to fifo_hst, then the caller hangs up.
//
// The fake FreeSWITCH (esltest) runs in the same process, so ns/op and
// cpu-µs/call include its work too; the CPU profile separates the two.
// Prompts and executes are near-instant, so a call's wall time is its CPU
// time plus scheduling; the figure to compare is cpu-µs/call and
// allocs/op, not a latency. It runs at -benchtime 1x in CI.
func BenchmarkWholeCall(b *testing.B) {
	now := newYork(b, time.Wednesday, 10, 0)
	calls := &countingLog{}
	eng := ivr.NewEngine(ivr.Config{
		Flows: loadFlows(b), DefaultFlow: "sales", CallLog: calls,
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Metrics: ivr.NewMetrics(prometheus.NewRegistry()),
		Now:     func() time.Time { return now },
	})
	srv := ivrtest.NewServer(eng, ivr.ServeOptions{DrainTimeout: 5 * time.Second})
	defer func() {
		if err := srv.Close(); err != nil {
			b.Errorf("serve: %v", err)
		}
	}()
	script := esltest.Script{
		CallerIDNumber: "5559999", DestinationNumber: "5000", Digits: []string{"1"},
		PlaybackDuration: time.Microsecond, ExecuteDelay: time.Microsecond,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var events, sent int
	cpu0 := cputime.Process(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := script
		transferred := make(chan struct{})
		s.Observer = func(r esltest.Record) {
			if r.Verb == "sendmsg" && r.App == "transfer" {
				close(transferred)
			}
		}
		c, err := esltest.StartOutbound(ctx, srv.Addr, s)
		if err != nil {
			b.Fatal(err)
		}
		select {
		case <-transferred:
			c.Hangup("NORMAL_CLEARING")
		case <-c.Done():
		}
		if err := c.Wait(); err != nil {
			b.Fatalf("call %d: %v", i, err)
		}
		if c.HangupCause() != "NORMAL_CLEARING" {
			b.Fatalf("call %d ended without the caller's hangup (cause %q)", i, c.HangupCause())
		}
		events += len(c.Events())
		for _, r := range c.Commands() {
			if r.Verb == "sendmsg" {
				sent++
			}
		}
	}
	b.StopTimer()
	cpu := cputime.Process(b) - cpu0
	// Every call wrote its hangup entry (the session writes it before the
	// socket closes; wait for the last one, bounded).
	deadline := time.Now().Add(5 * time.Second)
	for calls.hangups() < b.N && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := calls.hangups(); got != b.N {
		b.Fatalf("%d hangup entries for %d calls", got, b.N)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
	b.ReportMetric(float64(events)/float64(b.N), "events/call")
	b.ReportMetric(float64(sent)/float64(b.N), "sendmsg/call")
}

// countingLog is an ivr.CallLog that counts the hangup entries and drops
// the rest (the benchmark measures the session, not a store).
type countingLog struct{ hangup atomic.Int64 }

func (l *countingLog) Append(e calllog.Entry) {
	if e.Kind == calllog.KindHangup {
		l.hangup.Add(1)
	}
}

func (l *countingLog) hangups() int { return int(l.hangup.Load()) }
