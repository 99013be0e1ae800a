package flows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/looplab/fsm"
)

// buildEvents derives the looplab/fsm transition table from the nodes' Next
// maps: one EventDesc per (outcome, destination) with its sources in file
// order, then hangup from every state.
func buildEvents(f *Flow) []fsm.EventDesc {
	type key struct{ name, dst string }
	at := map[key]int{}
	var evs []fsm.EventDesc
	for _, id := range f.Order {
		n := f.Nodes[id]
		for _, out := range n.Outcomes {
			k := key{out, n.Next[out]}
			if i, ok := at[k]; ok {
				evs[i].Src = append(evs[i].Src, id)
				continue
			}
			at[k] = len(evs)
			evs = append(evs, fsm.EventDesc{Name: out, Src: []string{id}, Dst: k.dst})
		}
	}
	all := append(slices.Clone(f.Order), StateEnd)
	return append(evs, fsm.EventDesc{Name: EventHangup, Src: all, Dst: StateHungUp})
}

// Edge is one outcome edge of the flow graph.
type Edge struct {
	From, Outcome, To string
}

// Edges lists every outcome edge (not hangup) in file order.
func (f *Flow) Edges() []Edge {
	var out []Edge
	for _, id := range f.Order {
		n := f.Nodes[id]
		for _, o := range n.Outcomes {
			out = append(out, Edge{From: id, Outcome: o, To: n.Next[o]})
		}
	}
	return out
}

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
		switch {
		case n.Play != nil:
			for _, p := range n.Play.Prompts {
				add(p)
			}
		case n.Menu != nil:
			add(n.Menu.Prompt)
			add(n.Menu.Invalid)
		case n.Bridge != nil && n.Bridge.Prompt != nil:
			add(*n.Bridge.Prompt)
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
		switch n.Kind {
		case KindMenu, KindCollect, KindTime, KindWaitFor:
			fmt.Fprintf(&b, "  %s{\"%s\"}\n", id(nid), label)
		case KindTransfer, KindHangup:
			fmt.Fprintf(&b, "  %s([\"%s\"])\n", id(nid), label)
		default:
			fmt.Fprintf(&b, "  %s[\"%s\"]\n", id(nid), label)
		}
	}
	fmt.Fprintf(&b, "  %s((\"%s\"))\n", id(StateEnd), StateEnd)
	for _, e := range f.Edges() {
		fmt.Fprintf(&b, "  %s -->|\"%s\"| %s\n", id(e.From), e.Outcome, id(e.To))
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
		switch n.Kind {
		case KindMenu, KindCollect, KindTime, KindWaitFor:
			shape = "diamond"
		case KindTransfer, KindHangup:
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
		fmt.Fprintf(&b, "  %q -> %q [label=%q];\n", e.From, e.To, e.Outcome)
	}
	b.WriteString("}\n")
	return b.String()
}
