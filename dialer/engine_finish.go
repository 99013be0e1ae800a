package dialer

import (
	"context"
	"errors"
	"time"
)

// finish turns a call's outcome into the contact's next step and stores it.
func (e *Engine) finish(ctx context.Context, cd callDone) {
	c, out := cd.c, cd.out
	now := e.o.Clock.Now()
	if cd.err != nil {
		if !errors.Is(cd.err, ErrNotPlaced) && (ctx.Err() != nil || errors.Is(cd.err, context.Canceled)) {
			// Draining gave up on this call: leave its lease to expire, so
			// the next dialer reconciles it.
			e.drop(c)
			return
		}
		e.log.Warn("dialer: backend error", "attempt", c.attempt.ID, "err", cd.err)
		out = Outcome{Disposition: Unknown, Reason: backendReason(cd.err)}
		if errors.Is(cd.err, ErrNotPlaced) {
			out.Disposition = NotPlaced
		}
	}
	if !out.Disposition.Valid() {
		e.log.Error("dialer: backend returned an invalid disposition; recorded as unknown",
			"attempt", c.attempt.ID, "disposition", out.Disposition)
		out.Disposition = Unknown
	}
	if out.Ended.IsZero() {
		out.Ended = now
	}
	e.throttle(c.trunk, now, out.Disposition == Throttled)
	r := e.result(c, out)
	e.drop(c)
	e.save(ctx, finishJob{c: c, out: out, r: r})
}

// backendReason is what an attempt's record says of a backend's error: one
// of a few fixed texts, never the error's own (the record reaches the HTTP
// API's clients, and an error may name addresses or quote the switch); the
// error itself is in the log line with the attempt's id.
func backendReason(err error) string {
	switch {
	case errors.Is(err, ErrNotConnected):
		return "not connected"
	case errors.Is(err, ErrNotPlaced):
		return "not placed"
	}
	return "backend error"
}

func (e *Engine) result(c *call, out Outcome) Result {
	a := c.attempt
	a.Answered, a.Ended, a.Disposition, a.Reason, a.Cause = out.Answered, out.Ended, out.Disposition, out.Reason, out.Cause
	counts := make(map[Disposition]int, len(c.lease.Counts)+1)
	for k, v := range c.lease.Counts {
		counts[k] = v
	}
	attempts := a.Seq
	if out.Disposition != NotPlaced {
		counts[out.Disposition]++
	}
	return Result{Attempt: a, Next: e.camp.decide(out.Disposition, counts, attempts, out.Ended)}
}

// drop frees the call's port (its lease stays until the store takes the
// outcome).
func (e *Engine) drop(c *call) {
	if e.inflight[c.lease.Contact.ID] == c {
		delete(e.inflight, c.lease.Contact.ID)
		c.trunk.used-- // taken-over calls counted on their trunk too (reconcile)
		c.cancel()
		e.gauge()
	}
}

// save hands a result to the store; while the store is down it is kept and
// retried (the call is over, so nothing is lost but time).
func (e *Engine) save(ctx context.Context, j finishJob) {
	err := e.o.Store.Finish(ctx, e.camp.ID, e.o.Owner, j.r)
	log := e.log.With("contact", j.r.Attempt.Contact, "attempt", j.r.Attempt.ID)
	switch {
	case errors.Is(err, ErrLeaseLost):
		log.Warn("dialer: outcome not stored: the lease was taken over (the new holder reconciles)", "disposition", j.out.Disposition)
		return
	case err != nil:
		e.storeError("finish", err)
		e.unsaved = append(e.unsaved, j)
		return
	}
	if e.o.Metrics != nil {
		e.o.Metrics.Originates.WithLabelValues(j.r.Attempt.Trunk, string(j.out.Disposition)).Inc()
	}
	log.Info("dialer: attempt ended", "disposition", j.out.Disposition, "reason", j.out.Reason,
		"cause", j.out.Cause, "due", j.r.Next.Due, "final", j.r.Next.Final)
	if e.o.Recorder == nil {
		return
	}
	e.o.Recorder.RecordAttempt(AttemptRecord{Campaign: e.camp.ID, Attempt: j.r.Attempt, Vars: j.out.Vars})
	if j.r.Next.Final != "" {
		e.o.Recorder.RecordContact(ContactRecord{Campaign: e.camp.ID, Contact: j.r.Attempt.Contact,
			Number: j.r.Attempt.Number, Status: j.r.Next.Final, Attempts: j.r.Attempt.Seq,
			Last: j.out.Disposition, Time: j.r.Attempt.Ended})
	}
}

func (e *Engine) saveUnsaved(ctx context.Context) {
	if len(e.unsaved) == 0 {
		return
	}
	jobs := e.unsaved
	e.unsaved = nil
	for i, j := range jobs {
		e.save(ctx, j)
		if len(e.unsaved) > 0 { // still down: keep the rest in order
			e.unsaved = append(e.unsaved, jobs[i+1:]...)
			return
		}
	}
}

// renew extends the leases of every call in flight, every claimed contact
// and every unsaved outcome.
func (e *Engine) renew(ctx context.Context, now time.Time) {
	ids := make([]string, 0, len(e.inflight)+len(e.pending)+len(e.unsaved))
	for id := range e.inflight {
		ids = append(ids, id)
	}
	for _, l := range e.pending {
		ids = append(ids, l.Contact.ID)
	}
	for _, j := range e.unsaved {
		ids = append(ids, j.r.Attempt.Contact)
	}
	if len(ids) == 0 {
		return
	}
	lost, err := e.o.Store.Renew(ctx, e.camp.ID, e.o.Owner, ids, now.Add(e.o.Lease))
	if err != nil {
		e.storeError("renew", err)
		return
	}
	for _, id := range lost {
		e.log.Warn("dialer: lease lost", "contact", id)
		for i, l := range e.pending {
			if l.Contact.ID == id {
				e.pending = append(e.pending[:i], e.pending[i+1:]...)
				break
			}
		}
	}
}

// takeover takes expired leases of dead dialers and reconciles them.
func (e *Engine) takeover(ctx, callsCtx context.Context, now time.Time) {
	leases, err := e.o.Store.Takeover(ctx, e.camp.ID, e.o.Owner, now, e.o.Lease, 100)
	if err != nil {
		e.storeError("takeover", err)
		return
	}
	for _, l := range leases {
		log := e.log.With("contact", l.Contact.ID)
		if l.Attempt == nil {
			// Claimed but never begun: provably not dialed.
			log.Info("dialer: took over a claim that was never dialed")
			e.release(ctx, l, Next{Due: now}, "taken over before dialing")
			continue
		}
		e.reconcile(ctx, callsCtx, l, now)
	}
}

// reconcilePoll is how often a taken-over live call is asked about again.
const reconcilePoll = 2 * time.Second

func (e *Engine) reconcile(ctx, callsCtx context.Context, l Lease, now time.Time) {
	a := *l.Attempt
	a.Owner = e.o.Owner
	var trunk *trunkState
	for _, t := range e.trunks {
		if t.Name == a.Trunk {
			trunk = t
		}
	}
	if trunk == nil {
		trunk = &trunkState{Trunk: Trunk{Name: a.Trunk, Ports: 1 << 30}}
	}
	trunk.used++ // a live call of a dead dialer occupies the trunk as much as ours
	c := &call{lease: l, attempt: a, trunk: trunk, watched: true}
	e.inflight[l.Contact.ID] = c
	cctx, cancel := context.WithCancel(callsCtx)
	c.cancel = cancel
	spec := e.callSpec(c)
	rec, ok := e.o.Backend.(Reconciler)
	log := e.log.With("contact", l.Contact.ID, "attempt", a.ID)
	go func() {
		for {
			if !ok {
				e.done <- callDone{c: c, out: Outcome{Disposition: Unknown, Reason: "no reconciler"}}
				return
			}
			st, out, err := rec.Reconcile(cctx, spec)
			if e.o.Metrics != nil {
				e.o.Metrics.Reconciliations.WithLabelValues(st.String()).Inc()
			}
			log.Info("dialer: reconciled", "state", st, "err", err)
			switch {
			case err != nil && cctx.Err() != nil:
				e.done <- callDone{c: c, err: cctx.Err()}
				return
			case err != nil || st == StateUnknown:
				e.done <- callDone{c: c, out: Outcome{Disposition: Unknown, Reason: "reconcile: unknown"}}
				return
			case st == StateNeverStarted:
				e.done <- callDone{c: c, out: Outcome{Disposition: NotPlaced, Reason: "reconcile: never started"}}
				return
			case st == StateEnded:
				e.done <- callDone{c: c, out: out}
				return
			}
			select {
			case <-e.o.Clock.After(reconcilePoll):
			case <-cctx.Done():
				e.done <- callDone{c: c, err: cctx.Err()}
				return
			}
		}
	}()
	_ = now
}

// drain is Run's end after its context was cancelled.
func (e *Engine) drain(callsCtx context.Context, cancelCalls context.CancelFunc) (Progress, error) {
	ctx := context.WithoutCancel(callsCtx)
	now := e.o.Clock.Now()
	for _, l := range e.pending {
		e.release(ctx, l, Next{Due: now}, "stopping")
	}
	e.pending = nil
	e.log.Info("dialer: draining", "in_flight", len(e.inflight), "bound", e.o.DrainTimeout)
	deadline := e.o.Clock.After(e.o.DrainTimeout)
	for len(e.inflight) > 0 {
		select {
		case cd := <-e.done:
			e.finish(ctx, cd)
			e.saveUnsaved(ctx)
		case <-deadline:
			e.log.Warn("dialer: drain bound reached; live calls keep their leases for reconciliation", "in_flight", len(e.inflight))
			cancelCalls()
			for len(e.inflight) > 0 {
				cd := <-e.done
				e.drop(cd.c)
			}
		}
	}
	p, err := e.o.Store.Progress(ctx, e.camp.ID)
	if err != nil {
		return p, err
	}
	return p, context.Canceled
}
