package ivr

import (
	"context"
	"strings"

	"github.com/fsivr/fsivr/calllog"
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

func (s *Session) current() *flows.Node { return s.flow.Nodes[s.m.Current()] }

func (s *Session) playStep(ctx context.Context, n *flows.Node) {
	if s.step >= len(n.Play.Prompts) {
		s.queue(flows.OutcomeDone)
		return
	}
	file, err := s.render(n.Play.Prompts[s.step])
	if err != nil {
		s.fail(ctx, "prompt of "+n.ID, err)
		return
	}
	s.send(ctx, "playback", file)
}

func (s *Session) startMenu(ctx context.Context, n *flows.Node) {
	prompt, err := s.render(n.Menu.Prompt)
	if err != nil {
		s.fail(ctx, "menu prompt of "+n.ID, err)
		return
	}
	invalid, err := s.render(n.Menu.Invalid)
	if err != nil {
		s.fail(ctx, "invalid prompt of "+n.ID, err)
		return
	}
	s.send(ctx, "play_and_get_digits", n.Menu.Args(prompt, invalid))
}

func (s *Session) startTime(ctx context.Context, n *flows.Node) {
	ov := n.Time.Override
	if ov == nil || s.eng.overrides == nil {
		s.routeByTime(n)
		return
	}
	timeout := ov.Timeout
	if timeout <= 0 {
		timeout = defaultOverrideTimeout
	}
	s.awaitingOv = true
	s.ovSeq++
	s.setTimer(timeout)
	store, results, key, seq := s.eng.overrides, s.results, ov.Key, s.ovSeq
	go func() {
		octx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		v, err := store.Override(octx, key)
		select {
		case results <- asyncResult{kind: resultOverride, value: v, err: err, seq: seq}:
		case <-ctx.Done(): // the call is over; nobody reads results any more
		}
	}()
}

func (s *Session) onOverride(ctx context.Context, r asyncResult) {
	n := s.current()
	if r.err != nil || strings.TrimSpace(r.value) == "" {
		if r.err != nil {
			s.logger.Warn("override read failed; routing by time", "err", r.err)
		}
		s.routeByTime(n)
		return
	}
	d, err := n.Time.Override.Parse(r.value)
	if err != nil {
		s.logger.Error("override refused; routing by time", "value", r.value, "err", err)
		s.callLog(calllog.KindError, n.ID, "override refused", map[string]string{"value": r.value, "error": err.Error()})
		s.routeByTime(n)
		return
	}
	s.callLog(calllog.KindTimeRule, n.ID, "override", map[string]string{"override": r.value})
	if d.Goto != "" {
		s.queue(flows.GotoOutcome(d.Goto))
		return
	}
	// Override.Parse has checked every word (allowed action, no control
	// characters, none of , | { } $ quotes; '/' and ':' allowed so that a
	// playback path works), so d.Args goes to FreeSWITCH as it is.
	s.outcome = "override:" + d.Action
	switch d.Action {
	case "hangup":
		s.sendNoWait(ctx, "hangup", d.Args)
	case "transfer":
		s.callLog(calllog.KindTransfer, n.ID, d.Args, map[string]string{"dest": d.Args, "by": "override"})
		s.sendNoWait(ctx, "transfer", d.Args)
	default:
		// An announcement (e.g. "closed today"), then the call ends.
		s.sendNoWait(ctx, d.Action, d.Args)
		s.sendNoWait(ctx, "hangup", flows.DefaultHangupCause)
	}
	s.queue(flows.OutcomeOverride)
}

func (s *Session) routeByTime(n *flows.Node) {
	outcome, rule := n.Time.Route(s.eng.now())
	if rule == "" {
		rule = string(outcome)
	}
	s.callLog(calllog.KindTimeRule, n.ID, rule, nil)
	s.queue(outcome)
}

// bridgeStep: step 0 plays the optional prompt, step 1 sets the channel
// variables the bridge needs and starts it.
func (s *Session) bridgeStep(ctx context.Context, n *flows.Node) {
	b := n.Bridge
	if s.step == 0 && b.Prompt != nil {
		file, err := s.render(*b.Prompt)
		if err != nil {
			s.fail(ctx, "bridge prompt of "+n.ID, err)
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
		s.logger.Error("dial string refused", "node", n.ID, "err", err)
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

func (s *Session) startTransfer(ctx context.Context, n *flows.Node) {
	dest, err := s.render(n.Transfer.Dest)
	if err != nil {
		s.fail(ctx, "transfer destination of "+n.ID, err)
		return
	}
	arg := dest
	if n.Transfer.Dialplan != "" || n.Transfer.Context != "" {
		arg = dest + " " + n.Transfer.Dialplan + " " + n.Transfer.Context
	}
	s.outcome = "transfer:" + dest
	s.callLog(calllog.KindTransfer, n.ID, dest, map[string]string{"dest": dest, "dialplan": n.Transfer.Dialplan, "context": n.Transfer.Context})
	s.send(ctx, "transfer", arg)
}

func (s *Session) runSet(ctx context.Context, n *flows.Node) {
	for _, a := range n.Set {
		v, err := s.render(a.Value)
		if err != nil {
			s.fail(ctx, "set "+a.Var+" in "+n.ID, err)
			return
		}
		s.vars[a.Var] = v
		if a.Channel && !s.sendNoWait(ctx, "set", a.Var+"="+v) {
			return
		}
	}
	s.queue(flows.OutcomeDone)
}

func (s *Session) runHangup(ctx context.Context, n *flows.Node) {
	cause := n.Hangup.Cause
	if cause == "" {
		cause = flows.DefaultHangupCause
	}
	s.outcome = "hangup"
	s.sendNoWait(ctx, "hangup", cause)
	s.queue(flows.OutcomeDone)
}

func (s *Session) startWaitFor(_ context.Context, n *flows.Node) {
	if r, ok := s.prefetched[n.WaitFor.Prefetch]; ok && r != nil {
		s.finishWaitFor(n)
		return
	}
	s.waitingFor = n.WaitFor.Prefetch
	s.setTimer(n.WaitFor.Timeout)
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

func (s *Session) playDone(ctx context.Context, n *flows.Node, _ *esl.Message) {
	s.step++
	s.playStep(ctx, n)
}

func (s *Session) bridgeComplete(ctx context.Context, n *flows.Node, ev *esl.Message) {
	if s.step == 0 {
		s.step = 1
		s.bridgeStep(ctx, n)
		return
	}
	s.bridgeDone(n, ev)
}

func (s *Session) transferDone(context.Context, *flows.Node, *esl.Message) {
	s.queue(flows.OutcomeDone)
}

func (s *Session) menuDone(_ context.Context, n *flows.Node, ev *esl.Message) {
	digits := ev.Get("variable_" + n.Menu.Var)
	result := ev.Get("variable_read_result")
	s.vars[n.Menu.Var] = digits
	s.vars[flows.DigitsVar] = digits
	s.callLog(calllog.KindMenu, n.ID, digits, map[string]string{"var": n.Menu.Var, "read_result": result})
	if digits == "" {
		s.queue(flows.OutcomeFailed)
		return
	}
	if n.Kind == flows.KindCollect {
		s.queue(flows.OutcomeDone)
		return
	}
	if _, ok := n.Next[flows.ChoiceOutcome(digits)]; ok {
		s.queue(flows.ChoiceOutcome(digits))
		return
	}
	s.queue(flows.OutcomeFailed)
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
