package ivr

import (
	"time"

	"github.com/fsivr/fsivr/flows"
)

// phase is where a call is, as seen by its session.
type phase uint8

const (
	// phaseFlow: the flow's nodes run; the current node may wait for
	// something (see wait).
	phaseFlow phase = iota
	// phaseHandedOff: the flow is over (a transfer, a hangup node, an ops
	// override action) but the channel is still there: the session sends
	// nothing more and only observes what the call log needs (fifo,
	// bridge, hangup). Such a call does not hold a drain.
	phaseHandedOff
	// phaseHangingUp: CHANNEL_HANGUP arrived; the session waits, bounded by
	// hangupGrace, for CHANNEL_HANGUP_COMPLETE.
	phaseHangingUp
	// phaseDone: the hangup entry is written; Run returns.
	phaseDone
)

var phaseNames = [...]string{"flow", "handed_off", "hanging_up", "done"}

func (p phase) String() string { return phaseNames[p] }

// waitKind is what the session waits for before the machine moves on.
type waitKind uint8

const (
	waitNone           waitKind = iota // nothing: the node decided, or no node runs
	waitApp                            // the CHANNEL_EXECUTE_COMPLETE of the app we sent
	waitPrefetch                       // a wait_for node: the named prefetch's result, bounded
	waitOverride                       // a time node: its override read, bounded
	waitHangupComplete                 // CHANNEL_HANGUP_COMPLETE, bounded by hangupGrace
)

var waitNames = [...]string{"none", "app", "prefetch", "override", "hangup_complete"}

func (k waitKind) String() string { return waitNames[k] }

// wait is the one thing the session waits for. Only the field of its kind
// is set; the session's timer runs exactly while a bounded wait is set, so
// when it fires the wait says what ran out.
type wait struct {
	kind     waitKind
	appUUID  string    // waitApp: our Event-UUID, echoed as Application-UUID
	app      string    // waitApp: the application we sent (the metric label)
	sent     time.Time // waitApp: when we sent it
	prefetch string    // waitPrefetch: the prefetch's name
	seq      uint32    // waitOverride: which read answers it
}

// hangupGrace bounds how long a session waits for CHANNEL_HANGUP_COMPLETE
// after CHANNEL_HANGUP before it writes the hangup entry from what it has.
const hangupGrace = 5 * time.Second

// onTimeout: the bound of the current wait ran out.
func (s *Session) onTimeout() {
	w := s.wait
	s.wait = wait{}
	switch w.kind {
	case waitHangupComplete:
		s.finish("hangup (no HANGUP_COMPLETE)")
	case waitPrefetch:
		s.callLog(prefetchEntryKind(s.flow.Prefetch[w.prefetch]), s.state, "late", map[string]string{"prefetch": w.prefetch})
		s.queue(flows.OutcomeMissing)
	case waitOverride:
		n := s.current()
		s.log().Warn("override read timed out; routing by time", "node", n.ID)
		s.routeByTime(n)
	}
}

// await sets a bounded wait and (re)arms the timer for it.
func (s *Session) await(w wait, bound time.Duration) {
	s.wait = w
	if s.timer == nil {
		s.timer = time.NewTimer(bound)
	} else {
		s.timer.Reset(bound)
	}
	s.timerC = s.timer.C
}

func (s *Session) stopTimer() {
	if s.timerC != nil {
		s.timer.Stop()
		s.timerC = nil
	}
}
