package ivr

import (
	"context"

	"github.com/fsivr/fsivr/flows"
)

func (s *Session) startWaitFor(_ context.Context, n *flows.Node) {
	if r, ok := s.prefetched[n.WaitFor.Prefetch]; ok && r != nil {
		s.finishWaitFor(n)
		return
	}
	s.await(wait{kind: waitPrefetch, prefetch: n.WaitFor.Prefetch}, n.WaitFor.Timeout)
}

func (s *Session) finishWaitFor(n *flows.Node) {
	r := s.prefetched[n.WaitFor.Prefetch]
	if r == nil || r.err != nil {
		s.queue(flows.OutcomeMissing)
		return
	}
	for _, f := range n.WaitFor.Require {
		if r.fields[f] == "" {
			s.queue(flows.OutcomeMissing)
			return
		}
	}
	s.queue(flows.OutcomeReady)
}
