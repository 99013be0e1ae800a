package dialer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // the zones must not depend on the host

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dialertest"
)

// inWindow is the test's own reading of the campaign's hours below
// (mon-fri 09:00-20:00, sat 10:00-14:00, never on Dec 25), independent of
// the engine's Schedule.
func inWindow(t time.Time, zone string) bool {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		panic(err)
	}
	lt := t.In(loc)
	if lt.Month() == time.December && lt.Day() == 25 {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	switch lt.Weekday() {
	case time.Saturday:
		return m >= 10*60 && m < 14*60
	case time.Sunday:
		return false
	}
	return m >= 9*60 && m < 20*60
}

// TestAcceptanceRandomOutcomes runs more than 10,000 attempts with random
// outcomes and delays on a fake clock and checks, from the fake backend's
// own records: ports never exceeded, no 1 s window over the cps cap,
// retries exactly per policy and only for retryable dispositions, calling
// windows respected for contacts in two time zones, DNC never dialed.
func TestAcceptanceRandomOutcomes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Friday 2026-1204 18:00 UTC: New York 13:00 (open), Paris 19:00
		// (open one more hour); the weekend and the windows close and open
		// again while the campaign runs.
		start := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
		clock := dialer.NewOffsetClock(start)
		camp := dialer.Campaign{
			ID: "acc",
			Trunks: []dialer.Trunk{
				{Name: "a", Channel: "PJSIP/${number}@a", Ports: 24, CPS: 20},
				{Name: "b", Channel: "PJSIP/${number}@b", Ports: 6, CPS: 3.5},
			},
			MaxAttempts: 5,
			Retries: map[dialer.Disposition]dialer.Retry{
				dialer.Busy:       {Max: 2, Delay: 10 * time.Minute},
				dialer.NoAnswer:   {Max: 2, Delay: 30 * time.Minute},
				dialer.Congestion: {Max: 1, Delay: 2 * time.Minute},
				dialer.Failed:     {Max: 1, Delay: 5 * time.Minute},
				dialer.Throttled:  {Max: 6, Delay: 30 * time.Second},
			},
			Hours: dialer.Hours{
				Windows:  []dialer.Window{{Days: "mon-fri", From: "09:00", To: "20:00"}, {Days: "sat", From: "10:00", To: "14:00"}},
				Holidays: []string{"12-25"},
			},
		}
		script := dialertest.Random(7, []dialertest.Weighted{
			{Disposition: dialer.Answered, Weight: 22},
			{Disposition: dialer.Busy, Weight: 20},
			{Disposition: dialer.NoAnswer, Weight: 30},
			{Disposition: dialer.Congestion, Weight: 8},
			{Disposition: dialer.Failed, Weight: 8},
			{Disposition: dialer.Throttled, Weight: 4},
			{Disposition: dialer.InvalidNumber, Weight: 4},
			{Disposition: dialer.Rejected, Weight: 4},
		}, 200*time.Millisecond, 45*time.Second)
		fake := dialertest.New(clock, script)
		store := dialer.NewMemStore()
		dnc := dialer.NewDNCSet()
		eng, err := dialer.NewEngine(camp, dialer.Options{
			Store: store, Backend: fake, DNC: dnc, Clock: clock, Logger: discard(),
			Poll: time.Minute, Lease: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := eng.Create(ctx); err != nil {
			t.Fatal(err)
		}
		const n = 4600
		zoneOf := map[string]string{}
		listed := map[string]bool{}
		var contacts []dialer.Contact
		for i := range n {
			c := dialer.Contact{ID: fmt.Sprintf("c%05d", i)}
			if i%2 == 0 {
				c.Number, c.Zones = fmt.Sprintf("+1212555%04d", i), []string{"America/New_York"}
			} else {
				c.Number, c.Zones = fmt.Sprintf("+3314%07d", i), []string{"Europe/Paris"}
			}
			zoneOf[c.Number] = c.Zones[0]
			if i%97 == 0 {
				listed[c.Number] = true
				if i%2 == 0 {
					dnc.Add(c.Number) // listed before the import
				}
			}
			contacts = append(contacts, c)
		}
		if added, never, err := eng.Add(ctx, contacts); err != nil || added != n || len(never) != 0 {
			t.Fatalf("Add = %d, %d never, %v", added, len(never), err)
		}
		for num := range listed {
			dnc.Add(num) // the rest listed after they were queued
		}
		prog, err := eng.Run(ctx)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		recs := fake.Originates()
		t.Logf("%d attempts, fake time %v, progress %+v", len(recs), clock.Now().Sub(start), prog)
		if len(recs) < 10000 {
			t.Fatalf("only %d attempts; the test needs more than 10,000", len(recs))
		}
		for _, tr := range camp.Trunks {
			if got := fake.MaxInFlight(tr.Name); got > tr.Ports || got == 0 {
				t.Errorf("trunk %s: %d calls in flight at once, ports %d", tr.Name, got, tr.Ports)
			}
			if got := fake.MaxPerWindow(tr.Name, time.Second); got > int(tr.CPS) {
				t.Errorf("trunk %s: %d originates in one 1 s window, cap %v", tr.Name, got, tr.CPS)
			}
		}
		byNumber := map[string][]dialertest.Originate{}
		for _, r := range recs {
			if listed[r.Call.Number] {
				t.Errorf("DNC number %s dialed at %v", r.Call.Number, r.At)
			}
			if !inWindow(r.At, zoneOf[r.Call.Number]) {
				t.Errorf("%s dialed at %v, outside its hours in %s", r.Call.Number, r.At.In(mustLoc(zoneOf[r.Call.Number])), zoneOf[r.Call.Number])
			}
			byNumber[r.Call.Number] = append(byNumber[r.Call.Number], r)
		}
		for num, rs := range byNumber {
			checkPolicy(t, camp, num, rs)
		}
		if got := prog.Final[dialer.StatusDNC]; got != len(listed) {
			t.Errorf("DNC finals %d, listed %d", got, len(listed))
		}
		finals := 0
		for _, v := range prog.Final {
			finals += v
		}
		if finals != n || prog.Attempts != len(recs) {
			t.Errorf("finals %d of %d contacts; store attempts %d, fake %d", finals, n, prog.Attempts, len(recs))
		}
		// The store's records agree with the fake's.
		for _, i := range []int{1, 2, 3, 500, 4599} {
			c := contacts[i]
			_, atts, err := store.Contact(ctx, "acc", c.ID)
			if err != nil || len(atts) != len(byNumber[c.Number]) {
				t.Errorf("contact %s: store %d attempts (%v), fake %d", c.ID, len(atts), err, len(byNumber[c.Number]))
			}
		}
	})
}

func mustLoc(z string) *time.Location {
	l, err := time.LoadLocation(z)
	if err != nil {
		panic(err)
	}
	return l
}

// checkPolicy verifies one contact's attempts against the retry policy.
func checkPolicy(t *testing.T, camp dialer.Campaign, num string, rs []dialertest.Originate) {
	t.Helper()
	sort.Slice(rs, func(i, j int) bool { return rs[i].At.Before(rs[j].At) })
	counts := map[dialer.Disposition]int{}
	for i, r := range rs {
		d := r.Outcome.Disposition
		counts[d]++
		rule, retryable := camp.Retries[d]
		retryAllowed := d.Retryable() && retryable && counts[d] <= rule.Max && i+1 < camp.MaxAttempts
		last := i == len(rs)-1
		switch {
		case !last && !retryAllowed:
			t.Errorf("%s: attempt %d (%s) was retried against the policy (counts %v)", num, i+1, d, counts)
			return
		case last && retryAllowed:
			t.Errorf("%s: attempt %d (%s) should have been retried (counts %v)", num, i+1, d, counts)
			return
		case !last:
			if gap := rs[i+1].At.Sub(r.Ended); gap < rule.Delay {
				t.Errorf("%s: retry after %s came %v after, delay %v", num, d, gap, rule.Delay)
			}
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
