// Package mailbox is the ordered queue between a protocol connection's
// reader goroutine and the goroutine that owns the connection (one call of
// package esl, one AMI session of package ami).
//
// The reader must never wait for the owner: FreeSWITCH drops an event
// socket listener that leaves events unread, and Asterisk stalls a manager
// session whose events back up. So Put never blocks: it appends under a
// mutex and signals Notify, a channel of capacity 1. The owner selects on
// Notify together with its own timers and calls Drain to take everything
// queued at once, in arrival order.
//
// The queue is bounded twice: above the high-water mark Put reports the
// crossing once (the caller logs it: the owner is not draining) and counts
// it in Stats; at the hard cap Put returns ErrFull and the caller closes
// the connection, which costs one call instead of the process's memory.
//
//	mb := mailbox.New[*Message](mailbox.Limits{})
//	// reader goroutine
//	if crossed, err := mb.Put(m); err != nil { closeConn(err) } else if crossed { log(...) }
//	// owner goroutine
//	for { <-mb.Notify(); for _, m := range mb.Drain(buf[:0]) { ... } }
package mailbox

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Default limits, used for zero fields of Limits.
const (
	DefaultHighWater = 1000
	DefaultMax       = 100_000
)

// ErrFull is returned by Put when the queue reached its hard cap.
var ErrFull = errors.New("mailbox: full")

// Limits bound a Mailbox. Zero fields take the defaults.
type Limits struct {
	// HighWater is the depth above which Put reports a crossing (once per
	// rise: a Drain re-arms it).
	HighWater int
	// Max is the depth at which Put fails with ErrFull.
	Max int
}

func (l Limits) withDefaults() Limits {
	if l.HighWater <= 0 {
		l.HighWater = DefaultHighWater
	}
	if l.Max <= 0 {
		l.Max = DefaultMax
	}
	return l
}

// Stats are a Mailbox's counters.
type Stats struct {
	Queued             uint64 // values ever put
	Depth              int    // values waiting now
	MaxDepth           int    // highest depth seen
	HighWaterCrossings uint64 // times the depth rose above HighWater
}

// Mailbox is an ordered, non-blocking queue with one producer and one
// consumer in mind; all methods are safe for concurrent use.
type Mailbox[T any] struct {
	limits Limits
	notify chan struct{}

	mu        sync.Mutex
	queue     []T
	since     time.Time // when the oldest queued value was put
	aboveHigh bool
	stats     Stats
}

// New returns an empty Mailbox with limits l (zero fields take defaults).
func New[T any](l Limits) *Mailbox[T] {
	return &Mailbox[T]{limits: l.withDefaults(), notify: make(chan struct{}, 1)}
}

// Limits returns the limits in force (defaults applied).
func (m *Mailbox[T]) Limits() Limits { return m.limits }

// Put appends v and signals Notify. It never blocks. crossed is true when
// this Put took the depth above the high-water mark (once until the next
// Drain). At the hard cap v is still queued and Put returns an error
// matching ErrFull: the caller is expected to give up on the connection.
func (m *Mailbox[T]) Put(v T) (crossed bool, err error) {
	m.mu.Lock()
	if len(m.queue) == 0 {
		m.since = time.Now()
	}
	m.queue = append(m.queue, v)
	depth := len(m.queue)
	m.stats.Queued++
	m.stats.MaxDepth = max(m.stats.MaxDepth, depth)
	if depth > m.limits.HighWater && !m.aboveHigh {
		m.aboveHigh = true
		m.stats.HighWaterCrossings++
		crossed = true
	}
	m.mu.Unlock()
	if depth >= m.limits.Max {
		return crossed, fmt.Errorf("%w: %d values undrained", ErrFull, depth)
	}
	select {
	case m.notify <- struct{}{}:
	default:
	}
	return crossed, nil
}

// Notify is signaled (capacity 1) after values are queued. After a receive,
// Drain takes everything queued so far; a Put racing with that Drain leaves
// the signal set, so nothing is missed.
func (m *Mailbox[T]) Notify() <-chan struct{} { return m.notify }

// Drain appends every queued value to buf in arrival order, empties the
// queue and returns the extended buf.
func (m *Mailbox[T]) Drain(buf []T) []T {
	buf, _ = m.DrainSince(buf)
	return buf
}

// DrainSince is Drain that also returns when the first of the drained
// values was put (zero when there were none): how long the oldest of them
// waited for its consumer.
func (m *Mailbox[T]) DrainSince(buf []T) ([]T, time.Time) {
	m.mu.Lock()
	since := m.since
	if len(m.queue) == 0 {
		since = time.Time{}
	}
	buf = append(buf, m.queue...)
	clear(m.queue) // drop references so drained values can be collected
	m.queue = m.queue[:0]
	m.aboveHigh = false
	m.mu.Unlock()
	return buf, since
}

// Len is the current depth.
func (m *Mailbox[T]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue)
}

// Stats returns the counters.
func (m *Mailbox[T]) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Depth = len(m.queue)
	return s
}
