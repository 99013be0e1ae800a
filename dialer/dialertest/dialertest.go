// Package dialertest is a scripted fake dialer.Backend for tests and the
// demo: each originate gets an outcome and a delay from a script, and the
// fake keeps its own record of every originate (with timestamps) and counts
// the calls in flight, per trunk, so tests check the engine's limits where
// the calls land rather than trusting the engine's own counters.
//
//	b := dialertest.New(clock, dialertest.Fixed(dialer.Outcome{Disposition: dialer.Answered}, time.Second))
//	eng, _ := dialer.NewEngine(camp, dialer.Options{Store: dialer.NewMemStore(), Backend: b})
//	eng.Run(ctx)
//	b.Originates() // what "the network" saw
package dialertest

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/fsivr/fsivr/dialer"
)

// Step is what one originate does: wait Delay, then return Outcome (or Err,
// e.g. one wrapping dialer.ErrNotPlaced).
type Step struct {
	Outcome dialer.Outcome
	Delay   time.Duration
	Err     error
}

// Script decides each originate; n is how many times this number was
// originated before (0 for the first). It is called with the fake's lock
// held: keep it quick and do not call the fake from it.
type Script func(c dialer.Call, n int) Step

// Fixed answers every call the same way after delay.
func Fixed(o dialer.Outcome, delay time.Duration) Script {
	return func(dialer.Call, int) Step { return Step{Outcome: o, Delay: delay} }
}

// Weighted is one choice of Random.
type Weighted struct {
	Disposition dialer.Disposition
	Weight      int
}

// Random picks dispositions by weight and delays uniformly in [minDelay,
// maxDelay], deterministically from seed.
func Random(seed uint64, choices []Weighted, minDelay, maxDelay time.Duration) Script {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	total := 0
	for _, c := range choices {
		total += c.Weight
	}
	return func(dialer.Call, int) Step {
		x := rng.IntN(total)
		d := choices[len(choices)-1].Disposition
		for _, c := range choices {
			if x < c.Weight {
				d = c.Disposition
				break
			}
			x -= c.Weight
		}
		delay := minDelay
		if maxDelay > minDelay {
			delay += time.Duration(rng.Int64N(int64(maxDelay - minDelay)))
		}
		return Step{Outcome: dialer.Outcome{Disposition: d, Reason: "scripted"}, Delay: delay}
	}
}

// Originate is the fake's record of one originate.
type Originate struct {
	Call    dialer.Call
	At      time.Time // when Originate was called
	Ended   time.Time // zero while in flight
	Outcome dialer.Outcome
	Err     error
}

// Backend is the fake. It implements dialer.Backend and dialer.Reconciler
// (from its own records: an attempt it never saw never started).
type Backend struct {
	clock  dialer.Clock
	script Script

	mu        sync.Mutex
	records   []*Originate
	byAttempt map[string]*Originate
	perNumber map[string]int
	inFlight  map[string]int // by trunk
	maxFlight map[string]int
	total     int
	maxTotal  int
}

// New returns a fake that runs script on clock (nil: the system clock).
func New(clock dialer.Clock, script Script) *Backend {
	if clock == nil {
		clock = dialer.SystemClock{}
	}
	return &Backend{clock: clock, script: script, byAttempt: map[string]*Originate{},
		perNumber: map[string]int{}, inFlight: map[string]int{}, maxFlight: map[string]int{}}
}

// Originate implements dialer.Backend.
func (b *Backend) Originate(ctx context.Context, c dialer.Call) (dialer.Outcome, error) {
	b.mu.Lock()
	step := b.script(c, b.perNumber[c.Number])
	b.perNumber[c.Number]++
	rec := &Originate{Call: c, At: b.clock.Now()}
	b.records = append(b.records, rec)
	b.byAttempt[c.AttemptID] = rec
	b.inFlight[c.Trunk]++
	b.maxFlight[c.Trunk] = max(b.maxFlight[c.Trunk], b.inFlight[c.Trunk])
	b.total++
	b.maxTotal = max(b.maxTotal, b.total)
	b.mu.Unlock()

	end := b.clock.After(step.Delay)
	select {
	case <-end:
		return b.end(rec, step)
	case <-ctx.Done():
		// The caller stopped waiting (a dialer draining or dying); the
		// call goes on in "the network" and ends when scripted, which the
		// fake records for Reconcile.
		go func() {
			<-end
			_, _ = b.end(rec, step)
		}()
		return dialer.Outcome{}, ctx.Err()
	}
}

func (b *Backend) end(rec *Originate, step Step) (dialer.Outcome, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight[rec.Call.Trunk]--
	b.total--
	out := step.Outcome
	now := b.clock.Now()
	if out.Disposition == dialer.Answered && out.Answered.IsZero() {
		out.Answered = now
	}
	out.Ended = now
	rec.Ended, rec.Outcome, rec.Err = now, out, step.Err
	return out, step.Err
}

// Reconcile implements dialer.Reconciler from the fake's own records.
func (b *Backend) Reconcile(_ context.Context, c dialer.Call) (dialer.State, dialer.Outcome, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec := b.byAttempt[c.AttemptID]
	switch {
	case rec == nil:
		return dialer.StateNeverStarted, dialer.Outcome{}, nil
	case rec.Ended.IsZero() && rec.Err == nil:
		return dialer.StateLive, dialer.Outcome{}, nil
	case rec.Err != nil:
		return dialer.StateUnknown, dialer.Outcome{}, nil
	}
	return dialer.StateEnded, rec.Outcome, nil
}

// Originates returns a copy of every originate so far, in call order.
func (b *Backend) Originates() []Originate {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Originate, len(b.records))
	for i, r := range b.records {
		out[i] = *r
	}
	return out
}

// InFlight is the number of calls in flight now (all trunks).
func (b *Backend) InFlight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// MaxInFlight is the most calls ever in flight at once on trunk ("" = all
// trunks together).
func (b *Backend) MaxInFlight(trunk string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if trunk == "" {
		return b.maxTotal
	}
	return b.maxFlight[trunk]
}

// MaxPerWindow is the most originates of trunk ("" = all) that started in
// any half-open window [t, t+w).
func (b *Backend) MaxPerWindow(trunk string, w time.Duration) int {
	var at []time.Time
	for _, r := range b.Originates() {
		if trunk == "" || r.Call.Trunk == trunk {
			at = append(at, r.At)
		}
	}
	return MaxInWindow(at, w)
}

// MaxInWindow is the most of times in any half-open window [t, t+w).
func MaxInWindow(times []time.Time, w time.Duration) int {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}
