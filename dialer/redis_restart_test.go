package dialer_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dialertest"
	"github.com/fsivr/fsivr/internal/redistest"
)

// TestRedisRestartMidCampaign SIGKILLs redis-server (AOF, appendfsync
// always) while a campaign runs and starts it again: claiming pauses, no
// attempt record is lost, nobody is dialed twice, and the campaign
// finishes by itself.
func TestRedisRestartMidCampaign(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{AppendOnly: true})
	client := srv.Client(t)
	store := dialer.NewRedisStore(client)
	var placed atomic.Int64
	fake := dialertest.New(nil, func(c dialer.Call, n int) dialertest.Step {
		placed.Add(1)
		return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Answered}, Delay: 40 * time.Millisecond}
	})
	camp := smallCampaign("rr")
	camp.Trunks[0].CPS = 40
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: store, Backend: fake, Logger: discard(),
		Lease: 2 * time.Second, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := eng.Create(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 80
	contacts := utcContacts(n)
	if _, _, err := eng.Add(ctx, contacts); err != nil {
		t.Fatal(err)
	}
	type result struct {
		p   dialer.Progress
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := eng.Run(ctx)
		done <- result{p, err}
	}()
	for placed.Load() < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	srv.Kill()
	down := placed.Load()
	time.Sleep(1500 * time.Millisecond)
	if during := placed.Load() - down; during > int64(camp.Trunks[0].Ports) {
		t.Errorf("%d calls placed while Redis was down (at most the %d already claimed may go)", during, camp.Trunks[0].Ports)
	}
	srv.Start()
	r := <-done
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if r.p.Final[dialer.StatusAnswered] != n || r.p.Attempts != n {
		t.Errorf("progress %+v", r.p)
	}
	perNumber := map[string]int{}
	for _, o := range fake.Originates() {
		perNumber[o.Call.Number]++
	}
	for _, c := range contacts {
		if perNumber[c.Number] != 1 {
			t.Errorf("%s dialed %d times", c.ID, perNumber[c.Number])
		}
		st, atts, err := store.Contact(ctx, "rr", c.ID)
		if err != nil || st != dialer.StatusAnswered || len(atts) != 1 || atts[0].Disposition != dialer.Answered {
			t.Errorf("%s: %s %+v %v", c.ID, st, atts, err)
		}
	}
}
