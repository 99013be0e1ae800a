package ivr

import (
	"context"
	"strings"

	"github.com/fsivr/fsivr/calllog"
)

// drain is how Serve tells its sessions that a drain began and that its
// bound is reached.
type drain struct {
	started  chan struct{} // closed when the drain begins
	handover chan struct{} // closed at DrainTimeout: hand calls still in their flow over
	fallback string        // ServeOptions.Fallback
}

// handOver runs at the drain bound: a call still in its flow is transferred
// to the flow's (or ivrd's) fallback with uuid_transfer, which ends the
// running app at once, instead of the socket closing under a menu that
// would first run all its tries.
func (s *Session) handOver(ctx context.Context) {
	if s.phase != phaseFlow || s.connGone {
		return
	}
	fb := s.flow.Fallback
	if fb == "" && s.drain != nil {
		fb = s.drain.fallback
	}
	if fb == "" {
		s.log().Warn("drain bound reached and no fallback transfer configured; the socket will be closed", "node", s.state)
		return
	}
	w := strings.Fields(fb)
	for len(w) < 3 {
		w = append(w, "")
	}
	if _, err := s.ch.API(ctx, "uuid_transfer "+s.uuid+" "+fb); err != nil {
		s.log().Error("drain hand-over failed; the socket will be closed", "fallback", fb, "err", err)
		return
	}
	s.log().Warn("drain bound reached; call handed to the fallback", "node", s.state, "fallback", fb)
	s.callLog(calllog.KindTransfer, s.state, w[0], transferFields(w[0], w[1], w[2], "drain"))
	s.outcome = "drain_transfer:" + w[0]
	s.queued = ""
	s.stopTimer()
	s.handedOff()
	s.finish("drain hand-over")
}
