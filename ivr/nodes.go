package ivr

import (
	"context"

	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/flows"
)

// The entry actions and completion handlers of each node kind. Each entry
// action either sends the node's application(s) and records the one it
// waits for, or decides at once and queues the outcome.

// runner is how the session runs one node kind: enter is the entry action,
// complete handles the CHANNEL_EXECUTE_COMPLETE of the application the node
// waits for (nil for kinds that wait for none).
type runner struct {
	enter    func(s *Session, ctx context.Context, n *flows.Node)
	complete func(s *Session, ctx context.Context, n *flows.Node, ev *esl.Message)
}

// runners is the kind -> runner table; a test checks it covers flows.Kinds().
var runners = map[flows.Kind]runner{
	flows.KindPlay:     {enter: (*Session).playStep, complete: (*Session).playDone},
	flows.KindMenu:     {enter: (*Session).startMenu, complete: (*Session).menuDone},
	flows.KindCollect:  {enter: (*Session).startMenu, complete: (*Session).menuDone},
	flows.KindTime:     {enter: (*Session).startTime},
	flows.KindBridge:   {enter: (*Session).bridgeStep, complete: (*Session).bridgeComplete},
	flows.KindTransfer: {enter: (*Session).startTransfer, complete: (*Session).transferDone},
	flows.KindSet:      {enter: (*Session).runSet},
	flows.KindHangup:   {enter: (*Session).runHangup},
	flows.KindWaitFor:  {enter: (*Session).startWaitFor},
}
