package ivr

import (
	"context"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/flows"
)

func (s *Session) startMenu(ctx context.Context, n *flows.Node) {
	prompt, err := s.render(n.Menu.Prompt)
	if err != nil {
		s.fail("menu prompt of "+n.ID, err)
		return
	}
	invalid, err := s.render(n.Menu.Invalid)
	if err != nil {
		s.fail("invalid prompt of "+n.ID, err)
		return
	}
	s.send(ctx, "play_and_get_digits", n.Menu.Args(prompt, invalid))
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
