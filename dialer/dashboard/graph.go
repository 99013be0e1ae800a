package dashboard

import (
	"github.com/fsivr/fsivr/flows"
)

// Graph is a flow laid out for the page: nodes in layers by their
// distance from the start (the same nodes and edges as `ivrctl graph`).
type Graph struct {
	Flow   string      `json:"flow"`
	Width  int         `json:"width"`
	Height int         `json:"height"`
	Nodes  []GraphNode `json:"nodes"`
	Edges  []GraphEdge `json:"edges"`
}

// GraphNode is one box, centred at X, Y.
type GraphNode struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	X    int    `json:"x"`
	Y    int    `json:"y"`
}

// GraphEdge is one outcome arrow.
type GraphEdge struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Outcome string `json:"outcome"`
}

const (
	colW = 150
	rowH = 90
	// backEdgeRoom is the margin on the left where edges back up the
	// graph (and their labels) are drawn.
	backEdgeRoom = 110
)

// layout places the nodes: breadth-first layers from the start; nodes no
// edge reaches from it go in a last layer; the end state closes the graph.
func layout(f *flows.Flow) Graph {
	depth := map[string]int{f.Start: 0}
	queue := []string{f.Start}
	edges := f.Edges()
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if n := f.Nodes[id]; n != nil {
			for _, o := range n.Outcomes {
				to := n.Next[o]
				if _, seen := depth[to]; !seen && to != flows.StateEnd {
					depth[to] = depth[id] + 1
					queue = append(queue, to)
				}
			}
		}
	}
	maxDepth := 0
	for _, d := range depth {
		maxDepth = max(maxDepth, d)
	}
	for _, id := range f.Order {
		if _, ok := depth[id]; !ok {
			depth[id] = maxDepth + 1
		}
	}
	for _, d := range depth {
		maxDepth = max(maxDepth, d)
	}
	depth[flows.StateEnd] = maxDepth + 1
	layers := map[int][]string{}
	for _, id := range append(append([]string(nil), f.Order...), flows.StateEnd) {
		layers[depth[id]] = append(layers[depth[id]], id)
	}
	widest := 0
	for _, l := range layers {
		widest = max(widest, len(l))
	}
	g := Graph{Flow: f.Name, Width: widest*colW + 20 + backEdgeRoom, Height: (maxDepth+2)*rowH + 20}
	for d := 0; d <= maxDepth+1; d++ {
		l := layers[d]
		off := (widest - len(l)) * colW / 2
		for i, id := range l {
			kind := "end"
			if n := f.Nodes[id]; n != nil {
				kind = string(n.Kind)
			}
			g.Nodes = append(g.Nodes, GraphNode{ID: id, Kind: kind, X: 10 + backEdgeRoom + off + i*colW + colW/2, Y: 10 + d*rowH + rowH/2})
		}
	}
	for _, e := range edges {
		g.Edges = append(g.Edges, GraphEdge{From: e.From, To: e.To, Outcome: string(e.Outcome)})
	}
	return g
}
