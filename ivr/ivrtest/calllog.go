package ivrtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/fsivr/fsivr/calllog"
)

// CallLog is an ivr.CallLog in memory that keeps every entry for
// assertions. The zero value is ready to use.
type CallLog struct {
	mu      sync.Mutex
	entries []calllog.Entry
	changed chan struct{} // closed and replaced on every Append
}

// Append keeps e.
func (l *CallLog) Append(e calllog.Entry) {
	l.mu.Lock()
	l.entries = append(l.entries, e)
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	l.mu.Unlock()
}

// Entries returns a copy of every entry, in order.
func (l *CallLog) Entries() []calllog.Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]calllog.Entry(nil), l.entries...)
}

// ByCall returns the entries of one call, in order.
func (l *CallLog) ByCall(uuid string) []calllog.Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []calllog.Entry
	for _, e := range l.entries {
		if e.Call == uuid {
			out = append(out, e)
		}
	}
	return out
}

// Undeclared returns the entries whose kind calllog does not declare (a
// runtime that writes one has a bug).
func (l *CallLog) Undeclared() []calllog.Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []calllog.Entry
	for _, e := range l.entries {
		if !e.Kind.Declared() {
			out = append(out, e)
		}
	}
	return out
}

// WaitHangup waits until the call's hangup entry (its last) is written and
// returns the call's entries; it fails when ctx ends first.
func (l *CallLog) WaitHangup(ctx context.Context, uuid string) ([]calllog.Entry, error) {
	for {
		l.mu.Lock()
		var es []calllog.Entry
		for _, e := range l.entries {
			if e.Call == uuid {
				es = append(es, e)
			}
		}
		if n := len(es); n > 0 && es[n-1].Kind == calllog.KindHangup {
			l.mu.Unlock()
			return es, nil
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return es, fmt.Errorf("ivrtest: no hangup entry for %s: %w (entries: %+v)", uuid, ctx.Err(), es)
		}
	}
}

// Find returns the first entry of kind in es.
func Find(es []calllog.Entry, kind calllog.Kind) (calllog.Entry, bool) {
	for _, e := range es {
		if e.Kind == kind {
			return e, true
		}
	}
	return calllog.Entry{}, false
}
