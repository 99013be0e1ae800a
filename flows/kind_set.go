package flows

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// Assign sets a session variable; when Channel is true it is also set on the
// FreeSWITCH channel (sendmsg set).
type Assign struct {
	Var     string
	Value   Template
	Channel bool
}

func (c *compiler) set(nf *fields, n *Node) {
	v := nf.get("vars")
	channel := nf.boolean("channel", false)
	switch {
	case v == nil:
		nf.errf(nf.line, "missing required field %q", "vars")
	case v.Kind != yaml.MappingNode || len(v.Content) == 0:
		nf.errf(v.Line, "vars must be a non-empty mapping of name -> value")
	default:
		seen := map[string]bool{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, val := resolve(v.Content[i]), resolve(v.Content[i+1])
			name := k.Value
			switch {
			case !isIdent(name):
				nf.errf(k.Line, "variable name %q must be an identifier", name)
				continue
			case slices.Contains(builtinVars, name):
				nf.errf(k.Line, "variable %q is a built-in call variable and cannot be written", name)
				continue
			case seen[name]:
				nf.errf(k.Line, "variable %q is set twice", name)
				continue
			case val.Kind != yaml.ScalarNode:
				nf.errf(val.Line, "value of %q must be a single value", name)
				continue
			}
			seen[name] = true
			c.writes[name] = true
			t, ok := c.parseTmpl(n.ID, val.Line, "vars."+name, val.Value)
			if ok {
				n.Set = append(n.Set, Assign{Var: name, Value: t, Channel: channel})
			}
		}
	}
	c.target(nf, n, "next", OutcomeDone, true)
}
