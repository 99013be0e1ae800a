package ivr

import (
	"context"

	"github.com/fsivr/fsivr/flows"
)

func (s *Session) runHangup(ctx context.Context, n *flows.Node) {
	cause := n.Hangup.Cause
	if cause == "" {
		cause = flows.DefaultHangupCause
	}
	s.outcome = "hangup"
	s.sendNoWait(ctx, "hangup", cause)
	s.queue(flows.OutcomeDone)
}
