package calllog

import (
	"sort"
	"sync"
	"unicode/utf8"
)

// limiter applies Config's entry limits (MaxEntriesPerCall, MaxValueBytes,
// MaxFields). It keeps one small counter per call until the call's hangup
// entry; the map is bounded (maxTrackedCalls) so calls whose hangup never
// comes cannot grow it without end.
type limiter struct {
	maxEntries, maxValue, maxFields int

	mu    sync.Mutex
	calls map[string]*callBudget
}

type callBudget struct {
	entries int
	warned  bool // the once-per-call log line was written
}

// maxTrackedCalls bounds the per-call counters; past it the counters start
// over (the caps then allow a call up to twice its budget, never unbounded).
const maxTrackedCalls = 1 << 18

func (l *limiter) init(cfg Config) {
	l.maxEntries, l.maxValue, l.maxFields = cfg.MaxEntriesPerCall, cfg.MaxValueBytes, cfg.MaxFields
	l.calls = map[string]*callBudget{}
}

// admit applies the limits to e in place and reports whether it is written.
func (l *limiter) admit(w *Writer, e *Entry) bool {
	truncated := l.truncate(e)
	l.mu.Lock()
	b := l.calls[e.Call]
	if b == nil {
		if len(l.calls) >= maxTrackedCalls {
			l.calls = map[string]*callBudget{}
		}
		b = &callBudget{}
		l.calls[e.Call] = b
	}
	exempt := e.Kind == KindCallStart || e.Kind == KindHangup
	capped := !exempt && l.maxEntries > 0 && b.entries >= l.maxEntries
	if !capped {
		b.entries++
	}
	warn := (capped || truncated > 0) && !b.warned
	if warn {
		b.warned = true
	}
	if e.Kind == KindHangup {
		delete(l.calls, e.Call)
	}
	l.mu.Unlock()
	if truncated > 0 {
		w.stats.truncated.Add(uint64(truncated))
	}
	if capped {
		w.stats.capped.Add(1)
	}
	if warn {
		w.logger.Warn("calllog: call over the entry limits; further entries are dropped or cut (logged once per call, counted in fsivr_calllog_entries_capped_total and values_truncated_total)",
			"call", e.Call, "kind", e.Kind, "max_entries_per_call", l.maxEntries, "max_value_bytes", l.maxValue,
			"max_fields", l.maxFields, "entry_dropped", capped)
	}
	return !capped
}

// truncate cuts e's strings and fields to the limits and returns how many
// were cut or dropped. The caller's Fields map is never modified.
func (l *limiter) truncate(e *Entry) int {
	n := 0
	for _, p := range []*string{&e.Call, &e.Flow, &e.FlowVersion, &e.Node, &e.Value} {
		if len(*p) > l.maxValue {
			*p = cutUTF8(*p, l.maxValue)
			n++
		}
	}
	over := len(e.Fields) > l.maxFields
	if !over {
		for k, v := range e.Fields {
			if len(k) > l.maxValue || len(v) > l.maxValue {
				over = true
				break
			}
		}
	}
	if !over {
		return n
	}
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	fields := make(map[string]string, min(len(names), l.maxFields))
	for i, k := range names {
		if i >= l.maxFields {
			n += len(names) - i
			break
		}
		v := e.Fields[k]
		if len(k) > l.maxValue {
			k = cutUTF8(k, l.maxValue)
			n++
		}
		if len(v) > l.maxValue {
			v = cutUTF8(v, l.maxValue)
			n++
		}
		fields[k] = v
	}
	e.Fields = fields
	return n
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
