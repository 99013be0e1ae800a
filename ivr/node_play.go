package ivr

import (
	"context"

	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/flows"
)

func (s *Session) playStep(ctx context.Context, n *flows.Node) {
	if s.step >= len(n.Play.Prompts) {
		s.queue(flows.OutcomeDone)
		return
	}
	file, err := s.renderPrompt(n, n.Play.Prompts[s.step])
	if err != nil {
		s.fail("prompt of "+n.ID, err)
		return
	}
	s.send(ctx, "playback", file)
}

func (s *Session) playDone(ctx context.Context, n *flows.Node, _ *esl.Message) {
	s.step++
	s.playStep(ctx, n)
}
