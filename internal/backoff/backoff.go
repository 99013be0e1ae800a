// Package backoff computes the waits between retries of a connection
// attempt: exponential from Min, capped at Max, and jittered to between
// half and all of the step so that many clients (every ivrd after a
// FreeSWITCH restart, every dialer after an Asterisk restart) do not retry
// in step. esl's Reconnector and accept loop and ami's reconnect use it.
//
//	p := backoff.Policy{Min: 100 * time.Millisecond, Max: 30 * time.Second}
//	for attempt := 0; ; attempt++ {
//		if err := try(); err == nil { break }
//		if err := p.Wait(ctx, attempt); err != nil { return err }
//	}
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Defaults for zero Policy fields.
const (
	DefaultMin = 100 * time.Millisecond
	DefaultMax = 30 * time.Second
)

// Policy is a capped exponential backoff with jitter. The zero Policy uses
// DefaultMin and DefaultMax.
type Policy struct {
	Min, Max time.Duration
}

func (p Policy) bounds() (lo, hi time.Duration) {
	lo, hi = p.Min, p.Max
	if lo <= 0 {
		lo = DefaultMin
	}
	if hi <= 0 {
		hi = DefaultMax
	}
	return lo, max(hi, lo)
}

// Step is the un-jittered wait before retry number attempt (0-based):
// Min·2^attempt, capped at Max.
func (p Policy) Step(attempt int) time.Duration {
	lo, hi := p.bounds()
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Delay is Step(attempt) jittered uniformly into [Step/2, Step].
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Step(attempt)
	half := d / 2
	return half + rand.N(d-half+1)
}

// Wait sleeps Delay(attempt) or until ctx ends, whichever is first, and
// returns ctx.Err() in the second case.
func (p Policy) Wait(ctx context.Context, attempt int) error {
	t := time.NewTimer(p.Delay(attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
