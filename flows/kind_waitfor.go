package flows

import (
	"slices"
	"strings"
	"time"
)

// WaitFor waits up to Timeout for the prefetch named Prefetch. OutcomeReady if
// it answered with every field in Require non-empty, else OutcomeMissing.
type WaitFor struct {
	Prefetch string
	Timeout  time.Duration
	Require  []string
}

func (c *compiler) waitFor(nf *fields, n *Node) {
	w := &WaitFor{}
	n.WaitFor = w
	w.Prefetch = nf.str("prefetch", true, "")
	w.Timeout = nf.duration("timeout", true, 0)
	w.Require = nf.list("require", false)
	if w.Prefetch != "" {
		p, ok := c.f.Prefetch[w.Prefetch]
		if !ok {
			nf.errf(nf.lineOf("prefetch"), "prefetch %q is not declared under prefetch:", w.Prefetch)
		} else {
			for _, r := range w.Require {
				if !slices.Contains(p.Fields, r) {
					nf.errf(nf.lineOf("require"), "prefetch %q has no field %q (fields: %s)", w.Prefetch, r, strings.Join(p.Fields, ", "))
				}
			}
		}
	}
	c.target(nf, n, "ready", OutcomeReady, true)
	c.target(nf, n, "missing", OutcomeMissing, true)
}
