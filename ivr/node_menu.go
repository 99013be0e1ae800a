package ivr

import (
	"context"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/flows"
)

func (s *Session) startMenu(ctx context.Context, n *flows.Node) {
	prompt, err := s.renderPrompt(n, n.Menu.Prompt)
	if err != nil {
		s.fail("menu prompt of "+n.ID, err)
		return
	}
	invalid, err := s.renderPrompt(n, n.Menu.Invalid)
	if err != nil {
		s.fail("invalid prompt of "+n.ID, err)
		return
	}
	s.send(ctx, "play_and_get_digits", n.Menu.Args(prompt, invalid))
}

func (s *Session) menuDone(_ context.Context, n *flows.Node, ev *esl.Message) {
	digits := ev.Get("variable_" + n.Menu.Var)
	s.vars[n.Menu.Var] = digits
	s.vars[flows.DigitsVar] = digits
	// read_result is logged as FreeSWITCH sent it: after all tries failed it
	// is "failure" (silent tries) or even "success" (the last try's digits
	// failed the regex; the variable is then unset), so it does not say
	// why. failure does: timeout when the caller pressed nothing in the
	// node, invalid when keys were pressed but none was accepted.
	fields := map[string]string{"var": n.Menu.Var, "read_result": ev.Get("variable_read_result")}
	outcome := flows.OutcomeFailed
	switch {
	case digits == "" && s.keysInNode == 0:
		fields["failure"] = "timeout"
	case digits == "":
		fields["failure"] = "invalid"
	case n.Kind == flows.KindCollect:
		outcome = flows.OutcomeDone
	default:
		if _, ok := n.Next[flows.ChoiceOutcome(digits)]; ok {
			outcome = flows.ChoiceOutcome(digits)
		} else {
			fields["failure"] = "no_choice"
		}
	}
	s.callLog(calllog.KindMenu, n.ID, digits, fields)
	s.queue(outcome)
}
