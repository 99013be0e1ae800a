package ivr

import (
	"context"
	"strings"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/flows"
)

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
	s.ovSeq++
	s.await(wait{kind: waitOverride, seq: s.ovSeq}, timeout)
	store, results, key, seq := s.eng.overrides, s.results, ov.Key, s.ovSeq
	go func() {
		octx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		v, err := store.Override(octx, key)
		select {
		case results <- &asyncResult{kind: resultOverride, value: v, err: err, seq: seq}:
		case <-ctx.Done(): // the call is over; nobody reads results any more
		}
	}()
}

func (s *Session) onOverride(ctx context.Context, r *asyncResult) {
	n := s.current()
	if r.err != nil || strings.TrimSpace(r.value) == "" {
		if r.err != nil {
			s.log().Warn("override read failed; routing by time", "err", r.err)
		}
		s.routeByTime(n)
		return
	}
	d, err := n.Time.Override.Parse(r.value)
	if err != nil {
		s.log().Error("override refused; routing by time", "value", r.value, "err", err)
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
		w := append(strings.Fields(d.Args), "", "", "")
		s.callLog(calllog.KindTransfer, n.ID, w[0], transferFields(w[0], w[1], w[2], "override"))
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
