package ivr

import (
	"context"

	"github.com/fsivr/fsivr/flows"
)

func (s *Session) runSet(ctx context.Context, n *flows.Node) {
	for _, a := range n.Set {
		v, err := s.render(a.Value)
		if err != nil {
			s.fail("set "+a.Var+" in "+n.ID, err)
			return
		}
		s.vars[a.Var] = v
		if a.Channel && !s.sendNoWait(ctx, "set", a.Var+"="+v) {
			return
		}
	}
	s.queue(flows.OutcomeDone)
}
