package ivr

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/flows"
)

type resultKind uint8

const (
	resultPrefetch resultKind = iota
	resultOverride
)

type asyncResult struct {
	kind   resultKind
	name   string
	fields map[string]string
	value  string
	err    error
	took   time.Duration
	seq    uint32 // override reads: which read this answers
}

func (s *Session) startPrefetch(ctx context.Context, name string, p *flows.Prefetch) {
	pf, ok := s.eng.prefetchers[p.Kind]
	if !ok {
		s.log().Warn("no prefetcher for kind; treated as missing", "prefetch", name, "kind", p.Kind)
		s.results <- &asyncResult{kind: resultPrefetch, name: name, err: errors.New("no prefetcher configured")}
		return
	}
	key, err := p.Key.Render(s.lookup)
	if err == nil && key == "" {
		key = p.Default
	}
	if err != nil {
		s.results <- &asyncResult{kind: resultPrefetch, name: name, err: err}
		return
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultPrefetchTimeout
	}
	results := s.results
	go func() {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		t0 := time.Now()
		fields, err := pf.Prefetch(pctx, key)
		select {
		case results <- &asyncResult{kind: resultPrefetch, name: name, fields: fields, err: err, took: time.Since(t0)}:
		case <-ctx.Done(): // the call is over; nobody reads results any more
		}
	}()
}

func (s *Session) onResult(ctx context.Context, r *asyncResult) {
	switch r.kind {
	case resultPrefetch:
		s.onPrefetch(r)
	case resultOverride:
		// A late answer to an earlier read (its node already routed by
		// time) must not be taken for the current node's override.
		if s.wait.kind != waitOverride || r.seq != s.wait.seq {
			return
		}
		s.wait = wait{}
		s.stopTimer()
		s.onOverride(ctx, r)
	}
}

func (s *Session) onPrefetch(r *asyncResult) {
	s.eng.metrics.prefetch(r.name, r.err, r.took)
	fields := map[string]string{"took_ms": strconv.FormatInt(r.took.Milliseconds(), 10)}
	outcome := "ok"
	var nf interface{ NotFound() bool }
	switch {
	case errors.As(r.err, &nf) && nf.NotFound():
		// An unknown caller is an answer, not a failure (crm.ErrNotFound).
		outcome = "not_found"
		fields["error"] = r.err.Error()
	case r.err != nil:
		outcome = "error"
		fields["error"] = r.err.Error()
	default:
		for k, v := range r.fields {
			s.vars[r.name+"."+k] = v
			fields[k] = v
		}
	}
	fields["outcome"] = outcome
	if s.prefetched == nil {
		s.prefetched = make(map[string]*asyncResult, len(s.flow.Prefetch))
	}
	s.prefetched[r.name] = r
	// The entry's kind is the prefetch's kind, never its name: a name
	// comes from the flow file and must not be taken for a core kind.
	fields["prefetch"] = r.name
	s.callLog(prefetchEntryKind(s.flow.Prefetch[r.name]), s.lastNode(), outcome, fields)
	if s.wait.kind == waitPrefetch && s.wait.prefetch == r.name {
		s.wait = wait{}
		s.stopTimer()
		s.finishWaitFor(s.current())
	}
}

// prefetchEntryKind is the call-log kind of a prefetch's result: crm, the
// only prefetch kind (flows.PrefetchKindCRM) flows accepts.
func prefetchEntryKind(*flows.Prefetch) calllog.Kind { return calllog.KindCRM }
