package ivr

import (
	"context"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/flows"
)

func (s *Session) onEvent(ctx context.Context, ev *esl.Message) {
	switch ev.Name() {
	case "CHANNEL_EXECUTE_COMPLETE":
		switch {
		case s.wait.kind == waitApp && ev.Get("Application-UUID") == s.wait.appUUID:
			w := s.wait
			s.wait = wait{}
			s.eng.metrics.appLatency(w.app, s.eng.now().Sub(w.sent))
			if w.app != "transfer" && s.movedElsewhere(ev) {
				// Our app was ended by someone else's transfer: its result
				// (an empty menu, say) is no input of the flow.
				s.transferredAway(ev)
				return
			}
			s.onComplete(ctx, ev)
		case ev.Get("Application") == "socket" && s.phase == phaseFlow && !s.ownTransfer:
			// The socket application itself is over: the channel went
			// elsewhere while the flow was still running.
			s.transferredAway(ev)
		}
	case "DTMF":
		s.keysInNode++
		s.callLog(calllog.KindDTMF, s.where(), ev.Get("DTMF-Digit"), map[string]string{"source": ev.Get("DTMF-Source")})
	case "CUSTOM":
		if ev.Get("Event-Subclass") == "fifo::info" {
			s.callLog(calllog.KindFIFO, s.where(), ev.Get("FIFO-Action"), fifoFields(ev))
		}
	case "CHANNEL_BRIDGE":
		s.setOutcome("bridged")
		s.callLog(calllog.KindBridge, s.where(), "bridged", map[string]string{"other": ev.Get("Other-Leg-Unique-ID")})
	case "CHANNEL_ANSWER":
		s.callLog(calllog.KindAnswer, s.where(), "", nil)
	case "CHANNEL_HANGUP":
		s.onHangup(ev)
	case "CHANNEL_HANGUP_COMPLETE":
		s.onHangup(ev)
		s.finish("hangup")
	}
}

// onComplete handles the CHANNEL_EXECUTE_COMPLETE of the application the
// current node waits for.
func (s *Session) onComplete(ctx context.Context, ev *esl.Message) {
	n := s.current()
	if n == nil {
		return
	}
	if r := runners[n.Kind]; r.complete != nil {
		r.complete(s, ctx, n, ev)
	}
}

func (s *Session) onHangup(ev *esl.Message) {
	if cause := ev.Get("Hangup-Cause"); cause != "" {
		s.hangupCause = cause
	}
	if s.state == flows.StateHungUp || s.phase == phaseDone {
		return
	}
	s.phase = phaseHangingUp
	s.queued = ""
	if to, err := s.machine.fire(s.state, eventHangup); err != nil {
		if s.debug() {
			s.log().Debug("hangup transition", "err", err)
		}
	} else {
		s.state = to
	}
	if s.debug() {
		s.log().Debug("caller hung up or call ended", "cause", s.hangupCause, "node", s.lastNode())
	}
	// Nothing waits for a node's input any more: wait a bounded time for
	// HANGUP_COMPLETE, then finish with what we have.
	s.await(wait{kind: waitHangupComplete}, hangupGrace)
}

// movedElsewhere reports whether a completion names another extension or
// context than the call had: FreeSWITCH ended the app because the channel
// was transferred (uuid_transfer from another socket, an attended
// transfer, a supervisor pickup).
func (s *Session) movedElsewhere(ev *esl.Message) bool {
	d, c := ev.Get("Caller-Destination-Number"), ev.Get("Caller-Context")
	return d != "" && d != s.dest0 || c != "" && s.context0 != "" && c != s.context0
}

// transferredAway ends the flow because someone else moved the call: from
// now on the session sends nothing (the esl connection says only "exit"
// when it closes) and keeps logging the channel's events until hangup.
func (s *Session) transferredAway(ev *esl.Message) {
	if s.phase != phaseFlow {
		return
	}
	dest, ctxName := ev.Get("Caller-Destination-Number"), ev.Get("Caller-Context")
	s.log().Info("call transferred away by someone else; the flow is over", "node", s.state, "dest", dest, "context", ctxName)
	s.callLog(calllog.KindTransfer, s.state, dest, transferFields(dest, "", ctxName, "external"))
	s.outcome = "transferred_away"
	s.queued = ""
	s.stopTimer()
	s.handedOff()
}

// handedOff: the flow is over but the channel is still ours to observe. In
// a drain such a call ends at once.
func (s *Session) handedOff() {
	s.phase = phaseHandedOff
	s.wait = wait{}
	if s.draining {
		s.finish("drain: the call had left the flow")
	}
}

// transferFields is the one format of every transfer entry: dest, dialplan,
// context and who moved the call (flow, override, external, drain).
func transferFields(dest, dialplan, context, by string) map[string]string {
	return map[string]string{"dest": dest, "dialplan": dialplan, "context": context, "by": by}
}

// setOutcome records an outcome the flow reached; once the flow is over
// (handed off, hanging up) the logged outcome stays what it was.
func (s *Session) setOutcome(o string) {
	if s.phase == phaseFlow {
		s.outcome = o
	}
}

// where is the node an event belongs to: the current node, or after the
// flow the node that ended it (not the machine's end/hungup states).
func (s *Session) where() string {
	if cur := s.state; cur != flows.StateEnd && cur != flows.StateHungUp {
		return cur
	}
	return s.lastNode()
}

// fifoHeaders are what mod_fifo's fifo::info events may carry besides
// FIFO-Name and FIFO-Action; each action carries only some (push and abort:
// FIFO-Slot, no caller or consumer numbers; bridge-caller-start: the
// consumer's), so only those present are logged.
var fifoHeaders = [...][2]string{
	{"FIFO-Slot", "slot"},
	{"FIFO-Caller-CID-Name", "caller_name"},
	{"FIFO-Caller-CID-Number", "caller"},
	{"FIFO-Consumer-CID-Name", "consumer_name"},
	{"FIFO-Consumer-CID-Number", "consumer"},
	{"FIFO-Consumer-Outgoing-UUID", "consumer_uuid"},
	{"FIFO-Caller-Talk-Time", "talk_time"},
	{"FIFO-Caller-Wait-Time", "wait_time"},
}

func fifoFields(ev *esl.Message) map[string]string {
	f := map[string]string{"fifo": ev.Get("FIFO-Name")}
	for _, h := range fifoHeaders {
		if v := ev.Get(h[0]); v != "" {
			f[h[1]] = v
		}
	}
	return f
}

func (s *Session) lastNode() string {
	if len(s.path) == 0 {
		return ""
	}
	return s.path[len(s.path)-1]
}
