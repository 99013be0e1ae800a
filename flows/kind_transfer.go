package flows

import (
	"strings"
)

// Transfer sends "transfer <dest> <dialplan> <context>"; -> StateEnd.
type Transfer struct {
	Dest     Template
	Dialplan string
	Context  string
}

func (c *compiler) transfer(nf *fields, n *Node) {
	t := &Transfer{}
	n.Transfer = t
	if d, ok := c.template(nf, "dest", true); ok {
		if d.Raw == "" || strings.ContainsAny(d.Raw, " \t") {
			nf.errf(nf.lineOf("dest"), "dest %q must be one word", d.Raw)
		}
		t.Dest = d
	}
	t.Dialplan = nf.str("dialplan", false, "XML")
	t.Context = nf.str("context", false, "default")
	for key, val := range map[string]string{"dialplan": t.Dialplan, "context": t.Context} {
		if !isFlowName(val) {
			nf.errf(nf.lineOf(key), "%s %q must be letters, digits, '_' or '-'", key, val)
		}
	}
	c.terminal(nf, n)
}
