package flows

import (
	"fmt"
	"slices"
	"strings"
)

// Prompts lists the raw prompt templates of the flow (play prompts, menu
// and collect prompt and invalid prompt, bridge prompt), deduplicated, in
// file order. Templated prompts are listed as written
// (new_sales/8${cc_extension}.wav).
func (f *Flow) Prompts() []string {
	var out []string
	add := func(t Template) {
		if t.Raw != "" && !slices.Contains(out, t.Raw) {
			out = append(out, t.Raw)
		}
	}
	for _, id := range f.Order {
		n := f.Nodes[id]
		if list := kinds[n.Kind].prompts; list != nil {
			for _, p := range list(n) {
				add(p)
			}
		}
	}
	return out
}

// Mermaid renders the flow as a Mermaid flowchart: one box per node (id and
// kind), one arrow per outcome labelled with the outcome name.
func (f *Flow) Mermaid() string {
	var b strings.Builder
	id := func(s string) string { return "n_" + s } // "end" is a Mermaid keyword
	fmt.Fprintf(&b, "flowchart TD\n")
	fmt.Fprintf(&b, "  %%%% flow %s version %s\n", f.Name, f.Version)
	for _, nid := range f.Order {
		n := f.Nodes[nid]
		label := fmt.Sprintf("%s<br/>%s", nid, n.Kind)
		if nid == f.Start {
			label = "▶ " + label
		}
		switch kinds[n.Kind].shape {
		case shapeDecision:
			fmt.Fprintf(&b, "  %s{\"%s\"}\n", id(nid), label)
		case shapeTerminal:
			fmt.Fprintf(&b, "  %s([\"%s\"])\n", id(nid), label)
		default:
			fmt.Fprintf(&b, "  %s[\"%s\"]\n", id(nid), label)
		}
	}
	fmt.Fprintf(&b, "  %s((\"%s\"))\n", id(StateEnd), StateEnd)
	for _, e := range f.Edges() {
		fmt.Fprintf(&b, "  %s -->|\"%s\"| %s\n", id(e.From), string(e.Outcome), id(e.To))
	}
	return b.String()
}

// DOT renders the flow as a Graphviz digraph with outcome-labelled edges.
func (f *Flow) DOT() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n", f.Name)
	fmt.Fprintf(&b, "  label=%q;\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n", f.Name+" "+f.Version)
	for _, nid := range f.Order {
		n := f.Nodes[nid]
		shape := "box"
		switch kinds[n.Kind].shape {
		case shapeDecision:
			shape = "diamond"
		case shapeTerminal:
			shape = "oval"
		}
		extra := ""
		if nid == f.Start {
			extra = ", penwidth=2"
		}
		fmt.Fprintf(&b, "  %q [label=%q, shape=%s%s];\n", nid, nid+"\n"+string(n.Kind), shape, extra)
	}
	fmt.Fprintf(&b, "  %q [shape=doublecircle];\n", StateEnd)
	for _, e := range f.Edges() {
		fmt.Fprintf(&b, "  %q -> %q [label=%q];\n", e.From, e.To, string(e.Outcome))
	}
	b.WriteString("}\n")
	return b.String()
}
