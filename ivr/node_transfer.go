package ivr

import (
	"context"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/flows"
)

func (s *Session) startTransfer(ctx context.Context, n *flows.Node) {
	dest, err := s.render(n.Transfer.Dest)
	if err != nil {
		s.fail("transfer destination of "+n.ID, err)
		return
	}
	arg := dest
	if n.Transfer.Dialplan != "" || n.Transfer.Context != "" {
		arg = dest + " " + n.Transfer.Dialplan + " " + n.Transfer.Context
	}
	s.outcome = "transfer:" + dest
	s.callLog(calllog.KindTransfer, n.ID, dest, transferFields(dest, n.Transfer.Dialplan, n.Transfer.Context, "flow"))
	s.send(ctx, "transfer", arg)
}

func (s *Session) transferDone(context.Context, *flows.Node, *esl.Message) {
	s.queue(flows.OutcomeDone)
}
