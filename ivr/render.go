package ivr

import (
	"io/fs"
	"strings"

	"github.com/fsivr/fsivr/flows"
)

// lookup resolves ${name} for templates.
func (s *Session) lookup(name string) (string, bool) {
	v, ok := s.vars[name]
	if !ok {
		// A declared but unanswered prefetch field, or a variable a branch
		// not taken would have set, renders empty rather than failing.
		if i := strings.IndexByte(name, '.'); i > 0 {
			if _, declared := s.flow.Prefetch[name[:i]]; declared {
				return "", true
			}
		}
	}
	return v, ok
}

// render resolves a template whose result reaches a command argument: every
// substituted value is checked (checkArgValue).
func (s *Session) render(t flows.Template) (string, error) {
	var bad error
	out, err := t.Render(func(name string) (string, bool) {
		v, ok := s.lookup(name)
		if ok && bad == nil {
			bad = checkArgValue(name, v)
		}
		return v, ok
	})
	if err != nil {
		return "", err
	}
	return out, bad
}

// renderPrompt renders a prompt of node n. A prompt built from data whose
// file is not in the engine's sounds (new_sales/8${ext}.wav for an
// extension nobody recorded) is replaced by the node's fallback_prompt, so
// the caller hears something.
func (s *Session) renderPrompt(n *flows.Node, t flows.Template) (string, error) {
	file, err := s.render(t)
	if err != nil || t.IsStatic() || n.FallbackPrompt.Raw == "" || s.eng.sounds == nil || file == "" {
		return file, err
	}
	if st, err := fs.Stat(s.eng.sounds, file); err == nil && !st.IsDir() {
		return file, nil
	}
	s.log().Info("prompt file absent; playing the fallback", "node", n.ID, "prompt", file, "fallback", n.FallbackPrompt.Raw)
	return n.FallbackPrompt.Raw, nil
}
