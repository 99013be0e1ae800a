package amidial_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/amidial"
	"github.com/fsivr/fsivr/dialer/dialertest"
)

// TestTenThousandAttemptsAgainstAmitest: the engine over AMI against the
// fake Asterisk, more than 10,000 attempts with random outcomes, ring and
// talk times. Counted at the fake: never more originates in flight than the
// ports, no 1 s window over the cps cap, retries exactly per policy and only
// after retryable outcomes, DNC numbers never dialed.
func TestTenThousandAttemptsAgainstAmitest(t *testing.T) {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(5, 6))
	kindOf := map[string]amitest.OutcomeKind{} // by ChannelId
	kinds := []amitest.OutcomeKind{amitest.Answered, amitest.Busy, amitest.Busy, amitest.NoAnswer, amitest.Congestion, amitest.Rejected}
	// WriteTimeout: this test is about the retry bookkeeping of 10,000
	// attempts; with the race detector on a loaded machine the dialer's
	// reader can fall 100 ms behind the event flood, and the fake then cuts
	// it as Asterisk's writetimeout would, which ends the calls in flight
	// unknown (never re-dialed, as they should). amitest's TestSlowClientCut
	// and ami's TestE2EDropMidOriginate cover that; here a cut is reported
	// as such below.
	srv := amitest.NewServer(amitest.Config{Logger: quiet(), RandomOrder: true, Seed: 9, WriteTimeout: 5 * time.Second, Outcome: func(o amitest.Originate) amitest.Outcome {
		mu.Lock()
		defer mu.Unlock()
		k := kinds[rng.IntN(len(kinds))]
		kindOf[o.ChannelID] = k
		out := amitest.Outcome{Kind: k, Ring: time.Duration(1+rng.IntN(15)) * time.Millisecond, Talk: time.Duration(rng.IntN(10)) * time.Millisecond}
		if k == amitest.NoAnswer {
			out.Ring = time.Duration(1+rng.IntN(15)) * time.Millisecond
		}
		return out
	}})
	defer srv.Close()
	// Random congestion on a sixth of the calls is not the trunk
	// throttling here (TestThrottleBurst covers that).
	b := start(t, srv, func(c *amidial.Config) { c.ThrottleBurst = 1 << 30 })
	const ports, cps = 40, 1000
	camp := dialer.Campaign{
		ID:     "load",
		Trunks: []dialer.Trunk{{Name: "local", Channel: "Local/${number}@test", Ports: ports, CPS: cps}},
		Answer: dialer.Answer{Context: "test", Exten: "100", Priority: "1"},
		Hours:  dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}},
		Retries: map[dialer.Disposition]dialer.Retry{
			dialer.Busy: {Max: 2, Delay: time.Millisecond}, dialer.NoAnswer: {Max: 1, Delay: time.Millisecond},
			dialer.Congestion: {Max: 1, Delay: time.Millisecond},
		},
		MaxAttempts: 4,
		RingTimeout: time.Second,
	}
	dnc := dialer.NewDNCSet()
	store := dialer.NewMemStore()
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: store, Backend: b, DNC: dnc, Logger: quiet(), Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	_ = eng.Create(ctx)
	n := 5200
	if s := os.Getenv("LOAD_CONTACTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	var cs []dialer.Contact
	listed := map[string]bool{}
	for i := range n {
		c := dialer.Contact{ID: fmt.Sprintf("c%04d", i), Number: fmt.Sprintf("+44207946%04d", i), Zones: []string{"UTC"}}
		if i%101 == 0 {
			listed[c.ID] = true
			dnc.Add(c.Number)
		}
		cs = append(cs, c)
	}
	if _, _, err := eng.Add(ctx, cs); err != nil {
		t.Fatal(err)
	}
	p, err := eng.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	origs := srv.ActionsNamed("Originate")
	t.Logf("%d originates, progress %+v, peak in flight %d", len(origs), p, srv.PeakInFlightOriginates())
	if logins := len(srv.ActionsNamed("Login")); logins != 1 {
		t.Errorf("%d AMI logins: the connection was cut during the run, so the calls in flight then ended unknown", logins)
	}
	if len(origs) < 10000 && os.Getenv("LOAD_CONTACTS") == "" {
		t.Fatalf("%d attempts; want more than 10,000", len(origs))
	}
	if peak := srv.PeakInFlightOriginates(); peak > ports {
		t.Errorf("%d originates in flight at the fake, %d ports", peak, ports)
	}
	var at []time.Time
	byContact := map[string][]amitest.Action{}
	for _, a := range origs {
		at = append(at, a.At)
		for _, h := range a.Headers {
			if c, ok := strings.CutPrefix(h.Value, "FSIVR_CONTACT="); ok && h.Name == "Variable" {
				byContact[c] = append(byContact[c], a)
			}
		}
	}
	if w := dialertest.MaxInWindow(at, time.Second); w > cps {
		t.Errorf("%d originates in one second at the fake, cap %d", w, cps)
	}
	retryOf := map[amitest.OutcomeKind]dialer.Disposition{amitest.Busy: dialer.Busy, amitest.NoAnswer: dialer.NoAnswer, amitest.Congestion: dialer.Congestion}
	for _, c := range cs {
		acts := byContact[c.ID]
		if listed[c.ID] {
			if len(acts) != 0 {
				t.Errorf("DNC contact %s dialed", c.ID)
			}
			continue
		}
		sort.Slice(acts, func(i, j int) bool { return acts[i].At.Before(acts[j].At) })
		counts := map[amitest.OutcomeKind]int{}
		for i, a := range acts {
			k := kindOf[a.Get("ChannelId")]
			counts[k]++
			d, retryable := retryOf[k]
			allowed := retryable && counts[k] <= camp.Retries[d].Max && i+1 < camp.MaxAttempts
			if last := i == len(acts)-1; last == allowed {
				st, atts, _ := store.Contact(ctx, "load", c.ID)
				var got []string
				for _, a := range atts {
					got = append(got, fmt.Sprintf("%s(reason %s cause %s)", a.Disposition, a.Reason, a.Cause))
				}
				t.Errorf("%s: attempt %d scripted %s; retry allowed %v, retried %v; the engine recorded %v, status %s",
					c.ID, i+1, k, allowed, !last, got, st)
				break
			}
		}
	}
}
