package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dialertest"
	"github.com/fsivr/fsivr/internal/redistest"
)

func smallCampaign(id string) dialer.Campaign {
	return dialer.Campaign{
		ID:     id,
		Trunks: []dialer.Trunk{{Name: "t", Channel: "PJSIP/${number}@t", Ports: 4, CPS: 50}},
		Hours:  dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}},
		Retries: map[dialer.Disposition]dialer.Retry{
			dialer.Busy: {Max: 1, Delay: 100 * time.Millisecond},
		},
	}
}

func utcContacts(n int) []dialer.Contact {
	cs := make([]dialer.Contact, n)
	for i := range cs {
		cs[i] = dialer.Contact{ID: fmt.Sprintf("u%03d", i), Number: fmt.Sprintf("+4420794600%02d", i), Zones: []string{"Europe/London"}}
	}
	return cs
}

// TestEngineOnRedis runs a real-time campaign on a real redis-server: every
// contact answered once or busy then answered, nothing over the ports.
func TestEngineOnRedis(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	store := dialer.NewRedisStore(srv.Client(t))
	fake := dialertest.New(nil, func(c dialer.Call, n int) dialertest.Step {
		if n == 0 && c.Number[len(c.Number)-1]%3 == 0 { // last digit 0, 3, 6 or 9: 12 of 30
			return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Busy}, Delay: 5 * time.Millisecond}
		}
		return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Answered}, Delay: 10 * time.Millisecond}
	})
	eng, err := dialer.NewEngine(smallCampaign("redis1"), dialer.Options{Store: store, Backend: fake, Logger: discard(), Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := eng.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Add(ctx, utcContacts(30)); err != nil {
		t.Fatal(err)
	}
	p, err := eng.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Final[dialer.StatusAnswered] != 30 || p.ByDisposition[dialer.Busy] != 12 || p.Attempts != 42 {
		t.Errorf("progress %+v", p)
	}
	if got := len(fake.Originates()); got != 42 {
		t.Errorf("fake saw %d originates, want 42", got)
	}
	if m := fake.MaxInFlight("t"); m > 4 {
		t.Errorf("%d in flight, 4 ports", m)
	}
}

// TestTakeoverReconciles: a dialer stops while its calls live (its leases
// stay); a second dialer takes the expired leases over, asks the backend
// (Reconciler) and records each outcome once, dialing nobody twice.
func TestTakeoverReconciles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := dialer.NewOffsetClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		store := dialer.NewMemStore()
		fake := dialertest.New(clock, dialertest.Fixed(dialer.Outcome{Disposition: dialer.Answered}, 90*time.Second))
		camp := smallCampaign("tk")
		opts := dialer.Options{Store: store, Backend: fake, Clock: clock, Logger: discard(), Lease: 10 * time.Second,
			DrainTimeout: time.Second, Owner: "first"}
		first, err := dialer.NewEngine(camp, opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		if err := first.Create(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := first.Add(ctx, utcContacts(6)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := first.Run(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("first Run: %v", err)
			}
		}()
		time.Sleep(5 * time.Second) // 4 calls placed (4 ports), 2 waiting
		stop()
		wg.Wait()
		if n := len(fake.Originates()); n != 4 {
			t.Fatalf("first dialer placed %d, want 4", n)
		}
		opts.Owner = "second"
		second, err := dialer.NewEngine(camp, opts)
		if err != nil {
			t.Fatal(err)
		}
		p, err := second.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		recs := fake.Originates()
		if len(recs) != 6 {
			t.Errorf("%d originates in all, want 6 (4 reconciled, 2 dialed by the second)", len(recs))
		}
		seen := map[string]int{}
		for _, r := range recs {
			seen[r.Call.Number]++
		}
		for n, k := range seen {
			if k != 1 {
				t.Errorf("%s dialed %d times", n, k)
			}
		}
		if p.Final[dialer.StatusAnswered] != 6 || p.Attempts != 6 {
			t.Errorf("progress %+v", p)
		}
	})
}

// TestThrottledBacksOffAndIsNotBusy: throttled attempts slow the trunk
// down, are retried by their own rule and never count as busy.
func TestThrottledBacksOffAndIsNotBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := dialer.NewOffsetClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		fake := dialertest.New(clock, func(c dialer.Call, n int) dialertest.Step {
			if n < 2 {
				return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Throttled, Cause: "503"}, Delay: 10 * time.Millisecond}
			}
			return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Answered}, Delay: 10 * time.Millisecond}
		})
		camp := smallCampaign("thr")
		camp.Trunks[0].CPS = 20
		camp.Retries = map[dialer.Disposition]dialer.Retry{dialer.Throttled: {Max: 5, Delay: time.Second}}
		eng, err := dialer.NewEngine(camp, dialer.Options{Store: dialer.NewMemStore(), Backend: fake, Clock: clock, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_ = eng.Create(ctx)
		if _, _, err := eng.Add(ctx, utcContacts(20)); err != nil {
			t.Fatal(err)
		}
		p, err := eng.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.Final[dialer.StatusAnswered] != 20 || p.ByDisposition[dialer.Throttled] != 40 || p.ByDisposition[dialer.Busy] != 0 {
			t.Errorf("progress %+v", p)
		}
		// Unthrottled, 20 cps would start the 20 first attempts within 1 s;
		// after the first 503s the trunk runs at a fraction of that.
		recs := fake.Originates()
		last := recs[len(recs)-1].At.Sub(recs[0].At)
		if w := fake.MaxPerWindow("t", time.Second); w > 20 {
			t.Errorf("%d in one second, cap 20", w)
		}
		if last < 5*time.Second {
			t.Errorf("60 attempts took %v: throttling did not slow the trunk", last)
		}
	})
}

// TestNotPlacedIsRedialedWithoutCounting: a backend error wrapping
// ErrNotPlaced leaves the attempt uncounted and the contact dialed again;
// any other error is Unknown and never re-dialed.
func TestNotPlacedIsRedialedWithoutCounting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := dialer.NewOffsetClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		fake := dialertest.New(clock, func(c dialer.Call, n int) dialertest.Step {
			switch {
			case c.ContactID == "u001":
				return dialertest.Step{Err: errors.New("connection reset after the action was written")}
			case n == 0:
				return dialertest.Step{Err: fmt.Errorf("not connected: %w", dialer.ErrNotPlaced)}
			}
			return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Answered}}
		})
		camp := smallCampaign("np")
		camp.MaxAttempts = 1
		store := dialer.NewMemStore()
		eng, err := dialer.NewEngine(camp, dialer.Options{Store: store, Backend: fake, Clock: clock, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_ = eng.Create(ctx)
		_, _, _ = eng.Add(ctx, utcContacts(3))
		p, err := eng.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.Final[dialer.StatusAnswered] != 2 || p.Final[dialer.StatusUnknown] != 1 || p.Attempts != 3 {
			t.Errorf("progress %+v", p)
		}
		st, atts, _ := store.Contact(ctx, "np", "u000")
		if st != dialer.StatusAnswered || len(atts) != 2 || atts[0].Disposition != dialer.NotPlaced || atts[1].Seq != 1 {
			t.Errorf("u000: %s %+v", st, atts)
		}
		// The records say what happened in fixed words: a backend's error
		// text (which may name addresses) stays in the log.
		if len(atts) > 0 && atts[0].Reason != "not placed" {
			t.Errorf("u000's not-placed attempt recorded reason %q, want \"not placed\"", atts[0].Reason)
		}
		if _, atts, _ := store.Contact(ctx, "np", "u001"); len(atts) != 1 || atts[0].Disposition != dialer.Unknown || atts[0].Reason != "backend error" {
			t.Errorf("u001: %+v, want one unknown attempt with reason \"backend error\"", atts)
		}
	})
}

// TestPauseResume: a paused campaign places nothing until resumed.
func TestPauseResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := dialer.NewOffsetClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		fake := dialertest.New(clock, dialertest.Fixed(dialer.Outcome{Disposition: dialer.Answered}, time.Second))
		store := dialer.NewMemStore()
		eng, _ := dialer.NewEngine(smallCampaign("pz"), dialer.Options{Store: store, Backend: fake, Clock: clock, Logger: discard()})
		ctx := context.Background()
		_ = eng.Create(ctx)
		_, _, _ = eng.Add(ctx, utcContacts(3))
		_ = store.SetState(ctx, "pz", dialer.CampaignPaused)
		done := make(chan dialer.Progress)
		go func() {
			p, _ := eng.Run(ctx)
			done <- p
		}()
		time.Sleep(time.Hour)
		if n := len(fake.Originates()); n != 0 {
			t.Fatalf("%d placed while paused", n)
		}
		_ = store.SetState(ctx, "pz", dialer.CampaignRunning)
		p := <-done
		if p.Final[dialer.StatusAnswered] != 3 {
			t.Errorf("progress %+v", p)
		}
	})
}

// TestCallLogRecorder writes results through calllog into their own stream
// on a real redis-server and reads them back.
func TestCallLogRecorder(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w, err := calllog.NewWriter(calllog.Config{Stream: "attempts", Summary: "attempt", SpoolDir: t.TempDir()}, client, discard())
	if err != nil {
		t.Fatal(err)
	}
	fake := dialertest.New(nil, dialertest.Fixed(dialer.Outcome{Disposition: dialer.Answered, Reason: "4", Cause: "16"}, 20*time.Millisecond))
	eng, _ := dialer.NewEngine(smallCampaign("rec"), dialer.Options{Store: dialer.NewMemStore(), Backend: fake,
		Recorder: dialer.CallLogRecorder{W: w}, Logger: discard()})
	ctx := context.Background()
	_ = eng.Create(ctx)
	_, _, _ = eng.Add(ctx, utcContacts(2))
	if _, err := eng.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := client.XRange(ctx, "{fsivr}:attempts", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, m := range msgs {
		kinds[m.Values["kind"].(string)]++
		if m.Values["kind"] == dialer.KindAttempt {
			if m.Values["campaign"] != "rec" || m.Values["disposition"] != "answered" || m.Values["cause"] != "16" ||
				m.Values["seq"] != "1" || m.Values["start"] == "" || m.Values["v"] != calllog.SchemaVersion {
				t.Errorf("attempt entry %v", m.Values)
			}
		}
		if m.Values["kind"] == dialer.KindContact && (m.Values["status"] != "answered" || m.Values["attempts"] != "1") {
			t.Errorf("contact entry %v", m.Values)
		}
	}
	if kinds[dialer.KindAttempt] != 2 || kinds[dialer.KindContact] != 2 {
		t.Errorf("entries by kind %v, want 2 attempts and 2 contacts", kinds)
	}
}

// TestRedisDNCAddedAfterQueueing: a number added to the Redis DNC set after
// its contact was queued is never dialed (checked at claim time).
func TestRedisDNCAddedAfterQueueing(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	fake := dialertest.New(nil, dialertest.Fixed(dialer.Outcome{Disposition: dialer.Answered}, time.Millisecond))
	eng, _ := dialer.NewEngine(smallCampaign("dnc"), dialer.Options{Store: dialer.NewMemStore(), Backend: fake,
		DNC: dialer.RedisDNC{Client: client, Key: "{fsivr}:dnc"}, Logger: discard()})
	ctx := context.Background()
	_ = eng.Create(ctx)
	cs := utcContacts(10)
	if _, _, err := eng.Add(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if err := client.SAdd(ctx, "{fsivr}:dnc", cs[3].Number, cs[7].Number).Err(); err != nil {
		t.Fatal(err)
	}
	p, err := eng.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range fake.Originates() {
		if o.Call.Number == cs[3].Number || o.Call.Number == cs[7].Number {
			t.Errorf("DNC number %s dialed", o.Call.Number)
		}
	}
	if p.Final[dialer.StatusDNC] != 2 || p.Final[dialer.StatusAnswered] != 8 {
		t.Errorf("progress %+v", p)
	}
}
