package flows

import (
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
)

func (c *compiler) checkTargets() {
	for _, t := range c.targets {
		if _, ok := c.ids[t.to]; !ok {
			c.add(t.line, t.from, "unknown target %q in %s%s", t.to, t.field, c.suggest(t.to))
		}
	}
}

func (c *compiler) checkReachable() {
	f := c.f
	seen := map[string]bool{f.Start: true}
	queue := []string{f.Start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		n := f.Nodes[id]
		if n == nil {
			continue
		}
		for _, out := range n.Outcomes {
			if to := n.Next[out]; to != StateEnd && !seen[to] {
				seen[to] = true
				queue = append(queue, to)
			}
		}
	}
	for _, id := range f.Order {
		if !seen[id] {
			c.add(f.Nodes[id].Line, id, "unreachable from start node %q", f.Start)
		}
	}
}

// takesInput reports whether entering the node waits for the caller.
func takesInput(n *Node) bool { return kinds[n.Kind].takesInput }

// checkInputlessCycles finds loops made only of nodes that do not wait for
// the caller (play -> set -> play): such a loop would spin until hangup.
// It runs Tarjan's strongly-connected-components over those nodes.
func (c *compiler) checkInputlessCycles() {
	f := c.f
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	next := 0
	var strong func(id string)
	strong = func(id string) {
		index[id], low[id] = next, next
		next++
		stack = append(stack, id)
		onStack[id] = true
		n := f.Nodes[id]
		for _, out := range n.Outcomes {
			to := n.Next[out]
			m := f.Nodes[to]
			if m == nil || takesInput(m) {
				continue
			}
			if _, seen := index[to]; !seen {
				strong(to)
				low[id] = min(low[id], low[to])
			} else if onStack[to] {
				low[id] = min(low[id], index[to])
			}
		}
		if low[id] != index[id] {
			return
		}
		var comp []string
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			comp = append(comp, top)
			if top == id {
				break
			}
		}
		if len(comp) > 1 || selfLoop(f.Nodes[id]) {
			pos := map[string]int{}
			for i, o := range f.Order {
				pos[o] = i
			}
			sort.Slice(comp, func(i, j int) bool { return pos[comp[i]] < pos[comp[j]] })
			first := f.Nodes[comp[0]]
			c.add(first.Line, first.ID, "loop without caller input (%s -> %s): it would spin until hangup; put a menu or collect in it", strings.Join(comp, " -> "), comp[0])
		}
	}
	for _, id := range f.Order {
		if _, seen := index[id]; !seen && !takesInput(f.Nodes[id]) {
			strong(id)
		}
	}
}

// selfLoop reports whether one of n's outcomes leads back to n.
func selfLoop(n *Node) bool {
	for _, out := range n.Outcomes {
		if n.Next[out] == n.ID {
			return true
		}
	}
	return false
}

// knownVar reports whether ${name} can be rendered by the runtime.
func (c *compiler) knownVar(name string) bool {
	if slices.Contains(builtinVars, name) || name == BridgeDispositionVar || name == DigitsVar || c.writes[name] {
		return true
	}
	pre, field, ok := strings.Cut(name, ".")
	if !ok {
		return false
	}
	p := c.f.Prefetch[pre]
	return p != nil && slices.Contains(p.Fields, field)
}

func (c *compiler) checkVars() {
	for _, r := range c.tmpls {
		for _, v := range r.t.Vars() {
			if !c.knownVar(v) {
				c.add(r.line, r.node, "%s: unknown variable ${%s} (known: call variables %s, <prefetch>.<field>, %s, %s, and variables set by menu/collect/set nodes)", r.field, v, strings.Join(builtinVars, ", "), BridgeDispositionVar, DigitsVar)
			}
		}
	}
}

// sounds returns the file system prompts are checked in and how messages
// name it; nil when the caller gave none.
func (c *compiler) sounds() (fs.FS, string) {
	name := c.opts.soundsName
	switch {
	case c.opts.Sounds != nil:
		if name == "" {
			name = "the sounds"
		}
		return c.opts.Sounds, name
	case c.opts.SoundsDir != "":
		return os.DirFS(c.opts.SoundsDir), c.opts.SoundsDir
	}
	return nil, ""
}

// checkPrompts checks that every static prompt exists in the sounds (an
// fs.FS: Parse reads no file the caller did not give it). A prompt with
// variables (new_sales/8${cc_extension}.wav) is checked for its static
// directory only. URLs and FreeSWITCH streams (silence_stream://,
// tone_stream://) and absolute paths are FreeSWITCH's business.
func (c *compiler) checkPrompts() {
	if c.opts.SkipPromptCheck || len(c.prompts) == 0 {
		return
	}
	sounds, dir := c.sounds()
	if sounds == nil {
		c.add(c.prompts[0].line, "", "no sounds directory given: prompts cannot be checked (give the sounds directory, or skip the prompt check)")
		return
	}
	if st, err := fs.Stat(sounds, "."); err != nil || !st.IsDir() {
		c.add(c.prompts[0].line, "", "sounds directory %s not found: prompts cannot be checked (give the sounds directory, or skip the prompt check)", dir)
		return
	}
	for _, p := range c.prompts {
		raw := p.t.Raw
		if strings.Contains(raw, "://") || strings.HasPrefix(raw, "/") {
			continue
		}
		if slices.Contains(strings.Split(raw, "/"), "..") {
			c.add(p.line, p.node, "%s %q must not contain ..", p.field, raw)
			continue
		}
		if p.t.IsStatic() {
			if st, err := fs.Stat(sounds, raw); err != nil || st.IsDir() {
				c.add(p.line, p.node, "%s %q: file not found in %s", promptWord(p.field), raw, dir)
			}
			continue
		}
		prefix, _, _ := strings.Cut(raw, "${")
		if i := strings.LastIndexByte(prefix, '/'); i > 0 {
			sub := prefix[:i]
			if st, err := fs.Stat(sounds, sub); err != nil || !st.IsDir() {
				c.add(p.line, p.node, "%s %q: directory %q not found in %s", promptWord(p.field), raw, sub, dir)
			}
		}
	}
}

func promptWord(field string) string {
	if field == "invalid" {
		return "invalid prompt"
	}
	return "prompt"
}

// warnTemplatedPrompts warns about prompts built from data without a
// fallback_prompt: the file for one caller's value may not exist (a CRM
// extension nobody recorded), and the caller would then hear nothing.
func (c *compiler) warnTemplatedPrompts() {
	for _, id := range c.f.Order {
		n := c.f.Nodes[id]
		list := kinds[n.Kind].prompts
		if list == nil || n.FallbackPrompt.Raw != "" {
			continue
		}
		for _, p := range list(n) {
			if p.Raw != "" && !p.IsStatic() {
				c.f.Warnings = append(c.f.Warnings, Problem{File: c.file, Line: n.Line, Node: id,
					Msg: fmt.Sprintf("prompt %q is built from data and has no fallback_prompt: a value without its file plays nothing", p.Raw)})
			}
		}
	}
}
