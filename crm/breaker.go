package crm

import (
	"sync"
	"time"
)

// Circuit breaker states, as reported by Client.BreakerState.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half-open"
)

// breaker is a consecutive-failure circuit breaker. Closed: every request
// goes out; `threshold` failures in a row open it. Open: requests fail fast
// with ErrCircuitOpen until `openFor` has passed. Half-open: exactly one probe
// goes out; its success closes the circuit, its failure opens it again.
// Only answers that say the CRM itself is unwell count as failures (see
// Client.fetch); a not-found or an invalid answer proves the CRM is up.
type breaker struct {
	mu        sync.Mutex
	threshold int // <= 0: disabled
	openFor   time.Duration
	now       func() time.Time

	state    string
	failures int
	until    time.Time // end of the open period
	probing  bool      // a half-open probe is in flight
}

func newBreaker(threshold int, openFor time.Duration, now func() time.Time) *breaker {
	return &breaker{threshold: threshold, openFor: openFor, now: now, state: StateClosed}
}

// allow reports whether a request may go out, and whether it is the
// half-open probe (whose verdict must be reported with probe=true).
func (b *breaker) allow() (ok, probe bool, retryAt time.Time) {
	if b.threshold <= 0 {
		return true, false, time.Time{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateClosed:
		return true, false, time.Time{}
	case StateOpen:
		if b.now().Before(b.until) {
			return false, false, b.until
		}
		b.state = StateHalfOpen
		b.probing = true
		return true, true, time.Time{}
	default: // half-open
		if b.probing {
			return false, false, time.Time{}
		}
		b.probing = true
		return true, true, time.Time{}
	}
}

// verdict is what a finished request says about the CRM's health.
type verdict int

const (
	healthy   verdict = iota // the CRM answered (found, not found or garbage)
	unhealthy                // connection error, timeout, 5xx
	unknown                  // we gave up ourselves (every caller hung up)
)

// record applies a request's verdict and returns the state transition, if
// any, so the caller can log it.
func (b *breaker) record(v verdict, probe bool) (from, to string) {
	if b.threshold <= 0 {
		return "", ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	from = b.state
	if probe {
		b.probing = false
	}
	switch v {
	case healthy:
		b.failures = 0
		if probe || b.state == StateHalfOpen {
			b.state = StateClosed
		}
	case unhealthy:
		b.failures++
		if probe || (b.state == StateClosed && b.failures >= b.threshold) {
			b.state = StateOpen
			b.until = b.now().Add(b.openFor)
		}
	case unknown:
		// No information: a probe that was abandoned lets the next request probe.
	}
	if b.state == from {
		return "", ""
	}
	return from, b.state
}

func (b *breaker) currentState() string {
	if b.threshold <= 0 {
		return StateClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == StateOpen && !b.now().Before(b.until) {
		return StateHalfOpen
	}
	return b.state
}
