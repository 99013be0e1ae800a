package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Options are an Engine's collaborators.
type Options struct {
	Store    Store
	Backend  Backend
	DNC      DNC      // nil: no DNC list
	Recorder Recorder // nil: results only in the store
	Clock    Clock    // nil: SystemClock
	Logger   *slog.Logger
	Metrics  *Metrics // nil: none
	// Owner names this process in leases; it must differ between
	// processes. Default: hostname-pid-random.
	Owner string
	// Lease is how long a claim lives without renewal (renewed every
	// Lease/3 while the call lives). Default 30s.
	Lease time.Duration
	// DrainTimeout bounds how long Run waits for calls in flight after its
	// context is cancelled. Default 30s.
	DrainTimeout time.Duration
	// Normalizer loads the contacts' zones. Default: a new one.
	Normalizer *Normalizer
	// Poll is the longest the engine sleeps without looking at the store
	// (other dialers of the campaign, pause and resume). Default 1s.
	Poll time.Duration
}

// Engine runs one campaign: it claims due contacts while ports are free and
// pacing allows, checks hours and DNC, writes the attempt, originates, and
// turns each final outcome into the contact's next step.
type Engine struct {
	camp  Campaign
	sched *Schedule
	o     Options
	log   *slog.Logger

	trunks   []*trunkState
	inflight map[string]*call // by contact id
	pending  []Lease          // claimed, waiting for pacing or a port
	done     chan callDone
	unsaved  []finishJob // outcomes the store has not taken yet (store down)
}

type trunkState struct {
	Trunk
	lim  *rate.Limiter // nil: unpaced
	cps  float64       // current pacing (CPS, or lower after throttling)
	used int           // calls in flight on this trunk
	// recent holds the last floor(CPS) start times (a ring): a start is
	// allowed only if the oldest is a full second ago. The limiter spaces
	// calls; this makes "no 1 s window over the cap" exact, also for a
	// fractional CPS (3.5/s: at most 3 in any second) and despite rounding.
	recent []time.Time
	next   int
}

// windowWait is how long until a start fits the trunk's one-second window.
func (t *trunkState) windowWait(now time.Time) time.Duration {
	if len(t.recent) == 0 {
		return 0
	}
	oldest := t.recent[t.next]
	if oldest.IsZero() {
		return 0
	}
	return max(0, oldest.Add(time.Second).Sub(now))
}

func (t *trunkState) started(now time.Time) {
	if len(t.recent) == 0 {
		return
	}
	t.recent[t.next] = now
	t.next = (t.next + 1) % len(t.recent)
}

type call struct {
	lease   Lease
	attempt Attempt
	trunk   *trunkState
	cancel  context.CancelFunc
	watched bool // taken over and still live: polled by the reconciler
}

type callDone struct {
	c   *call
	out Outcome
	err error
}

type finishJob struct {
	c   *call
	out Outcome
	r   Result
}

// minCPS is the floor of throttling back-off.
const minCPS = 0.2

// NewEngine checks the campaign and builds its engine.
func NewEngine(c Campaign, o Options) (*Engine, error) {
	sched, err := c.Check()
	if err != nil {
		return nil, err
	}
	if o.Store == nil || o.Backend == nil {
		return nil, fmt.Errorf("%w: a store and a backend are required", ErrCampaign)
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Owner == "" {
		host, _ := os.Hostname() // an empty host still leaves pid and random part
		o.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), NewID()[:8])
	}
	if o.Lease == 0 {
		o.Lease = 30 * time.Second
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	if o.Normalizer == nil {
		o.Normalizer = &Normalizer{DefaultRegion: c.DefaultRegion}
	}
	e := &Engine{camp: c, sched: sched, o: o, inflight: map[string]*call{}, done: make(chan callDone, 64)}
	e.log = o.Logger.With("campaign", c.ID)
	for _, t := range c.Trunks {
		ts := &trunkState{Trunk: t, cps: t.CPS}
		if t.CPS > 0 {
			ts.lim = rate.NewLimiter(rate.Limit(t.CPS), 1)
			ts.recent = make([]time.Time, max(1, int(math.Floor(t.CPS))))
		}
		e.trunks = append(e.trunks, ts)
	}
	return e, nil
}

// Schedule is the campaign's compiled calling hours.
func (e *Engine) Schedule() *Schedule { return e.sched }

// Owner is the name this engine leases under.
func (e *Engine) Owner() string { return e.o.Owner }

// DueAt is when a contact added now should first be due: now if its hours
// are open, else when they open. false: its zones are unknown or never open.
func (e *Engine) DueAt(c Contact, now time.Time) (time.Time, bool) {
	locs, err := e.o.Normalizer.Locations(c.Zones)
	if err != nil {
		return time.Time{}, false
	}
	return e.sched.NextOpen(now, locs)
}

// Add adds contacts to the campaign's store, each due when its hours open.
// Contacts whose hours never open (or whose zone is unknown) are not added
// and are returned.
func (e *Engine) Add(ctx context.Context, cs []Contact) (added int, never []Contact, err error) {
	now := e.o.Clock.Now()
	keep := make([]Contact, 0, len(cs))
	due := make([]time.Time, 0, len(cs))
	for _, c := range cs {
		at, ok := e.DueAt(c, now)
		if !ok {
			never = append(never, c)
			continue
		}
		keep = append(keep, c)
		due = append(due, at)
	}
	added, err = e.o.Store.Add(ctx, e.camp.ID, keep, due)
	return added, never, err
}

// Create registers the campaign in the store (idempotent).
func (e *Engine) Create(ctx context.Context) error {
	return e.o.Store.Create(ctx, e.camp.ID, e.camp.MaxConcurrent)
}

func (e *Engine) ports() (total, used int) {
	for _, t := range e.trunks {
		total += t.Ports
		used += t.used
	}
	return total, used
}

// Run dials the campaign until nothing is left to do (every contact final,
// or the campaign cancelled and its calls over), or ctx is cancelled. After
// cancellation it stops claiming, releases contacts it claimed but did not
// dial, and waits up to DrainTimeout for its calls; calls still live then
// keep their leases, which expire and are reconciled by the next dialer.
func (e *Engine) Run(ctx context.Context) (Progress, error) {
	if err := e.Create(ctx); err != nil {
		return Progress{}, err
	}
	callsCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	clock := e.o.Clock
	now := clock.Now()
	nextRenew := now.Add(e.o.Lease / 3)
	nextTakeover := now
	var claimRetry time.Time // store trouble or paused: claim again no sooner
	cancelled := false
	for {
		if ctx.Err() != nil {
			return e.drain(callsCtx, cancelCalls)
		}
		now = clock.Now()
		e.saveUnsaved(ctx)
		if !now.Before(nextRenew) {
			e.renew(ctx, now)
			nextRenew = now.Add(e.o.Lease / 3)
		}
		if !now.Before(nextTakeover) {
			e.takeover(ctx, callsCtx, now)
			nextTakeover = now.Add(e.o.Lease / 2)
		}
		total, used := e.ports()
		free := total - used - len(e.pending)
		if free > 0 && len(e.pending) == 0 && !cancelled && !now.Before(claimRetry) {
			leases, err := e.o.Store.Claim(ctx, e.camp.ID, ClaimRequest{Owner: e.o.Owner, Now: now, Max: e.claimSize(free), Lease: e.o.Lease})
			switch {
			case errors.Is(err, ErrCancelled):
				cancelled = true
			case errors.Is(err, ErrPaused):
				claimRetry = now.Add(time.Second)
			case err != nil:
				e.storeError("claim", err)
				claimRetry = now.Add(time.Second)
			default:
				if len(leases) < e.claimSize(free) {
					// Fewer than asked: nothing more is due yet, or the
					// global limit is held by other dialers. Claim again
					// when the next contact is due but not before a short
					// pause (a call of ours ending lifts it at once).
					claimRetry = now.Add(e.o.Poll / 4)
				}
				e.pending = append(e.pending, leases...)
				if e.o.Metrics != nil && len(leases) > 0 {
					e.o.Metrics.Claims.WithLabelValues(e.camp.ID).Add(float64(len(leases)))
				}
			}
		}
		wake := e.dispatch(ctx, callsCtx, now)
		if len(e.inflight) == 0 && len(e.pending) == 0 && len(e.unsaved) == 0 {
			p, err := e.o.Store.Progress(ctx, e.camp.ID)
			if err == nil && (p.Done() || cancelled && p.InFlight == 0) {
				if cancelled {
					return p, ErrCancelled
				}
				return p, nil
			}
			if err != nil {
				e.storeError("progress", err)
			}
		}
		// Sleep until the next contact is due, a port frees, pacing allows
		// or a lease needs care. Other dialers of the campaign are seen at
		// least every Poll.
		until := now.Add(e.o.Poll)
		until = earliest(until, nextRenew, nextTakeover)
		if !wake.IsZero() {
			until = earliest(until, wake)
		}
		if free > 0 && len(e.pending) == 0 && !cancelled {
			if at, ok, err := e.o.Store.NextDue(ctx, e.camp.ID); err == nil && ok {
				until = earliest(until, maxTime(at, claimRetry))
			}
		}
		if len(e.unsaved) > 0 {
			until = earliest(until, now.Add(200*time.Millisecond))
		}
		if d := until.Sub(now); d > 0 {
			select {
			case cd := <-e.done:
				e.finish(ctx, cd)
				claimRetry = time.Time{}
			case <-clock.After(d):
			case <-ctx.Done():
			}
		}
		// Take every outcome already waiting before the next round.
		for n := len(e.done); n > 0; n-- {
			e.finish(ctx, <-e.done)
			claimRetry = time.Time{}
		}
	}
}

// claimSize is how many contacts to claim with free ports: no more than
// pacing lets start within about a second, so claimed-but-waiting contacts
// do not hold slots of the global limit that other dialers could use.
func (e *Engine) claimSize(free int) int {
	paced := 0
	for _, t := range e.trunks {
		if t.lim == nil {
			return free
		}
		paced += int(math.Ceil(t.cps))
	}
	return max(1, min(free, paced))
}

func earliest(t time.Time, others ...time.Time) time.Time {
	for _, o := range others {
		if o.Before(t) {
			t = o
		}
	}
	return t
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (e *Engine) storeError(op string, err error) {
	e.log.Warn("dialer: store", "op", op, "err", err)
	if e.o.Metrics != nil {
		e.o.Metrics.StoreErrors.WithLabelValues(op).Inc()
	}
}

// pickTrunk returns a trunk with a free port whose pacing allows a call at
// now, or when the earliest one will.
func (e *Engine) pickTrunk(now time.Time) (*trunkState, *rate.Reservation, time.Time) {
	var wake time.Time
	for _, t := range e.trunks {
		if t.used >= t.Ports {
			continue
		}
		if t.lim == nil {
			return t, nil, time.Time{}
		}
		if w := t.windowWait(now); w > 0 {
			if at := now.Add(w); wake.IsZero() || at.Before(wake) {
				wake = at
			}
			continue
		}
		r := t.lim.ReserveN(now, 1)
		d := r.DelayFrom(now)
		if d == 0 {
			return t, r, time.Time{}
		}
		r.CancelAt(now)
		if at := now.Add(d); wake.IsZero() || at.Before(wake) {
			wake = at
		}
	}
	return nil, nil, wake
}

// dispatch starts pending contacts while ports and pacing allow; it returns
// when pacing will allow the next one (zero: nothing waits on pacing).
func (e *Engine) dispatch(ctx, callsCtx context.Context, now time.Time) time.Time {
	for len(e.pending) > 0 {
		l := e.pending[0]
		log := e.log.With("contact", l.Contact.ID)
		// Hours and DNC are checked here, immediately before the originate.
		locs, err := e.o.Normalizer.Locations(l.Contact.Zones)
		if err != nil || !e.sched.Open(now, locs) {
			next := Next{Final: StatusFailed}
			if err == nil {
				if at, ok := e.sched.NextOpen(now, locs); ok {
					next = Next{Due: at}
				}
			}
			e.pending = e.pending[1:]
			e.release(ctx, l, next, "outside calling hours")
			continue
		}
		if e.o.DNC != nil {
			dnc, err := e.o.DNC.Contains(ctx, l.Contact.Number)
			if err != nil {
				// A DNC list that cannot answer must not be taken as "not listed".
				log.Warn("dialer: DNC check failed; contact put back", "err", err)
				e.pending = e.pending[1:]
				e.release(ctx, l, Next{Due: now.Add(10 * time.Second)}, "DNC unavailable")
				continue
			}
			if dnc {
				e.pending = e.pending[1:]
				e.release(ctx, l, Next{Final: StatusDNC}, "on the DNC list")
				continue
			}
		}
		t, res, wake := e.pickTrunk(now)
		if t == nil {
			return wake
		}
		e.pending = e.pending[1:]
		a := Attempt{
			ID: NewID(), Contact: l.Contact.ID, Number: l.Contact.Number, Trunk: t.Name,
			Owner: e.o.Owner, Started: now,
		}
		if err := e.o.Store.Begin(ctx, e.camp.ID, a); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				log.Warn("dialer: lease lost before dialing", "err", err)
			} else {
				e.storeError("begin", err)
				// Not dialed: the lease expires and the contact is taken over.
			}
			if res != nil {
				res.CancelAt(now) // nothing was dialed: give the pacing slot back
			}
			continue
		}
		a.Seq = l.Attempts + 1
		t.used++
		t.started(now)
		c := &call{lease: l, attempt: a, trunk: t}
		e.inflight[l.Contact.ID] = c
		e.gauge()
		cctx, cancel := context.WithCancel(callsCtx)
		c.cancel = cancel
		spec := e.callSpec(c)
		log.Info("dialer: originate", "attempt", a.ID, "number", a.Number, "trunk", t.Name, "seq", a.Seq)
		go func() {
			out, err := e.o.Backend.Originate(cctx, spec)
			e.done <- callDone{c: c, out: out, err: err}
		}()
	}
	return time.Time{}
}

func (e *Engine) gauge() {
	if e.o.Metrics != nil {
		e.o.Metrics.InFlight.WithLabelValues(e.camp.ID).Set(float64(len(e.inflight)))
	}
}

func (e *Engine) callSpec(c *call) Call {
	vars := make(map[string]string, len(e.camp.Vars)+len(c.lease.Contact.Vars))
	for k, v := range e.camp.Vars {
		vars[k] = v
	}
	for k, v := range c.lease.Contact.Vars {
		vars[k] = v
	}
	return Call{
		AttemptID: c.attempt.ID, Campaign: e.camp.ID, ContactID: c.lease.Contact.ID,
		Number: c.lease.Contact.Number, Trunk: c.trunk.Name,
		Channel:  strings.ReplaceAll(c.trunk.Channel, "${number}", c.lease.Contact.Number),
		CallerID: e.camp.CallerID, Answer: e.camp.Answer, Timeout: e.camp.RingTimeout, Vars: vars,
	}
}

func (e *Engine) release(ctx context.Context, l Lease, next Next, why string) {
	if err := e.o.Store.Release(ctx, e.camp.ID, e.o.Owner, l.Contact.ID, next); err != nil {
		e.storeError("release", err)
		return
	}
	e.log.Info("dialer: not dialed", "contact", l.Contact.ID, "why", why, "due", next.Due, "final", next.Final)
	if next.Final != "" && e.o.Recorder != nil {
		e.o.Recorder.RecordContact(ContactRecord{Campaign: e.camp.ID, Contact: l.Contact.ID, Number: l.Contact.Number,
			Status: next.Final, Attempts: l.Attempts, Time: e.o.Clock.Now()})
	}
}

// throttle backs a trunk's pacing off (halving it) after a throttled
// attempt, and recover speeds it up again (by a tenth) after one that was
// not, up to the configured CPS.
func (e *Engine) throttle(t *trunkState, now time.Time, throttled bool) {
	switch {
	case throttled:
		if t.lim == nil {
			t.cps = math.Max(float64(t.Ports), 1)
			t.lim = rate.NewLimiter(rate.Limit(t.cps), 1)
		}
		t.cps = math.Max(t.cps/2, minCPS)
	case t.lim == nil || t.cps == t.CPS:
		return
	default:
		t.cps *= 1.1
		if t.CPS > 0 && t.cps > t.CPS {
			t.cps = t.CPS
		}
		if t.CPS == 0 && t.cps > 4*float64(t.Ports) {
			t.lim = nil // an unpaced trunk is unpaced again
			return
		}
	}
	t.lim.SetLimitAt(now, rate.Limit(t.cps))
	if e.o.Metrics != nil {
		e.o.Metrics.PacingRate.WithLabelValues(t.Name).Set(t.cps)
	}
}
