package ivr

import (
	"context"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/flows"
)

// bridgeStep: step 0 plays the optional prompt, step 1 sets the channel
// variables the bridge needs and starts it.
func (s *Session) bridgeStep(ctx context.Context, n *flows.Node) {
	b := n.Bridge
	if s.step == 0 && b.Prompt != nil {
		file, err := s.renderPrompt(n, *b.Prompt)
		if err != nil {
			s.fail("bridge prompt of "+n.ID, err)
			return
		}
		s.send(ctx, "playback", file)
		return
	}
	s.step = 1
	dial, err := s.render(b.Dial)
	if err != nil {
		// A dial string we cannot build safely is a failed bridge, not a
		// dropped call: the flow's on-fail branch takes over.
		s.log().Error("dial string refused", "node", n.ID, "err", err)
		s.vars[flows.BridgeDispositionVar] = "INVALID_DIAL_STRING"
		s.callLog(calllog.KindBridge, n.ID, "refused", map[string]string{"error": err.Error()})
		s.queue(flows.OutcomeFailed)
		return
	}
	if b.Ringback != "" && !s.sendNoWait(ctx, "set", "ringback="+b.Ringback) {
		return
	}
	if !s.sendNoWait(ctx, "set", "continue_on_fail="+boolString(b.ContinueOnFail)) ||
		!s.sendNoWait(ctx, "set", "hangup_after_bridge="+boolString(b.HangupAfterBridge)) {
		return
	}
	s.callLog(calllog.KindBridge, n.ID, dial, map[string]string{"dial": dial})
	s.send(ctx, "bridge", dial)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func (s *Session) bridgeComplete(ctx context.Context, n *flows.Node, ev *esl.Message) {
	if s.step == 0 {
		s.step = 1
		s.bridgeStep(ctx, n)
		return
	}
	s.bridgeDone(n, ev)
}

func (s *Session) bridgeDone(n *flows.Node, ev *esl.Message) {
	disp := ev.Get("variable_originate_disposition")
	cause := ev.Get("variable_bridge_hangup_cause")
	if disp == "SUCCESS" || disp == "ANSWER" {
		s.callLog(calllog.KindBridge, n.ID, "completed", map[string]string{"disposition": disp, "bridge_hangup_cause": cause})
		s.queue(flows.OutcomeDone)
		return
	}
	if disp == "" {
		disp = ev.Get("variable_DIALSTATUS")
	}
	if disp == "" {
		disp = "UNKNOWN"
	}
	s.vars[flows.BridgeDispositionVar] = disp
	s.callLog(calllog.KindBridge, n.ID, "failed", map[string]string{
		"disposition":            disp,
		"dialstatus":             ev.Get("variable_DIALSTATUS"),
		"originate_failed_cause": ev.Get("variable_originate_failed_cause"),
	})
	s.queue(flows.OutcomeFailed)
}
