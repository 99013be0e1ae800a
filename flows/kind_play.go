package flows

import (
	"gopkg.in/yaml.v3"
)

// Play plays its prompts in order; outcome OutcomeDone.
type Play struct {
	Prompts []Template
}

func (c *compiler) play(nf *fields, n *Node) {
	p := &Play{}
	n.Play = p
	for _, key := range []string{"prompt", "prompts"} {
		v := nf.get(key)
		if v == nil {
			continue
		}
		if len(p.Prompts) > 0 {
			nf.errf(v.Line, "use either prompt or prompts, not both")
			continue
		}
		var items []*yaml.Node
		if v.Kind == yaml.SequenceNode {
			items = v.Content
		} else {
			items = []*yaml.Node{v}
		}
		for _, it := range items {
			it = resolve(it)
			if it.Kind != yaml.ScalarNode || it.Value == "" {
				nf.errf(it.Line, "%s: each prompt must be a file name", key)
				continue
			}
			if t, ok := c.prompt(n.ID, it.Line, key, it.Value); ok {
				p.Prompts = append(p.Prompts, t)
			}
		}
	}
	if !nf.has("prompt") && !nf.has("prompts") {
		nf.errf(nf.line, "missing required field %q", "prompt")
	}
	c.fallbackPrompt(nf, n)
	c.target(nf, n, "next", OutcomeDone, true)
}

func playPrompts(n *Node) []Template { return n.Play.Prompts }
