package flows

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// reporter collects problems for one file.
type reporter struct {
	file  string
	probs []Problem
}

func (r *reporter) add(line int, node, format string, args ...any) {
	r.probs = append(r.probs, Problem{File: r.file, Line: line, Node: node, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows aliases so that anchors work like their targets.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// fields reads one YAML mapping with positions. Every accessor records the key
// as allowed; check then reports the keys nobody asked for, so typos such as
// "promt" are errors rather than silently ignored.
type fields struct {
	r       *reporter
	node    string // flow node id, for messages
	line    int
	keys    []string
	keyNode map[string]*yaml.Node
	val     map[string]*yaml.Node
	allowed map[string]bool
}

// newFields returns nil (after reporting) when n is not a mapping.
func newFields(r *reporter, n *yaml.Node, node, what string) *fields {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		line := 0
		if n != nil {
			line = n.Line
		}
		r.add(line, node, "%s must be a mapping", what)
		return nil
	}
	f := &fields{r: r, node: node, line: n.Line, keyNode: map[string]*yaml.Node{}, val: map[string]*yaml.Node{}, allowed: map[string]bool{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			r.add(k.Line, node, "%s: keys must be plain strings", what)
			continue
		}
		if _, dup := f.keyNode[k.Value]; dup {
			r.add(k.Line, node, "duplicate key %q (first at line %d)", k.Value, f.keyNode[k.Value].Line)
			continue
		}
		f.keys = append(f.keys, k.Value)
		f.keyNode[k.Value] = k
		f.val[k.Value] = v
	}
	return f
}

func (f *fields) errf(line int, format string, args ...any) { f.r.add(line, f.node, format, args...) }

// get returns the value node of key (nil if absent) and marks key allowed.
func (f *fields) get(key string) *yaml.Node {
	f.allowed[key] = true
	return f.val[key]
}

// lineOf is the line of key's value if present, else of the mapping.
func (f *fields) lineOf(key string) int {
	if v := f.val[key]; v != nil {
		return v.Line
	}
	return f.line
}

func (f *fields) has(key string) bool {
	f.allowed[key] = true
	_, ok := f.val[key]
	return ok
}

// scalar returns the scalar string of key; ok is false if absent or invalid.
func (f *fields) scalar(key string, required bool) (string, bool) {
	v := f.get(key)
	if v == nil {
		if required {
			f.errf(f.line, "missing required field %q", key)
		}
		return "", false
	}
	if v.Kind != yaml.ScalarNode {
		f.errf(v.Line, "field %q must be a single value", key)
		return "", false
	}
	if v.Tag == "!!null" {
		if required {
			f.errf(v.Line, "field %q must not be empty", key)
		}
		return "", false
	}
	return v.Value, true
}

func (f *fields) str(key string, required bool, def string) string {
	s, ok := f.scalar(key, required)
	if !ok {
		return def
	}
	if strings.ContainsFunc(s, isControl) {
		f.errf(f.lineOf(key), "field %q contains a control character", key)
	}
	return s
}

func (f *fields) integer(key string, def int) int {
	s, ok := f.scalar(key, false)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f.errf(f.lineOf(key), "field %q: %q is not an integer", key, s)
		return def
	}
	return n
}

func (f *fields) boolean(key string, def bool) bool {
	s, ok := f.scalar(key, false)
	if !ok {
		return def
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	f.errf(f.lineOf(key), "field %q: %q is not true or false", key, s)
	return def
}

func (f *fields) duration(key string, required bool, def time.Duration) time.Duration {
	s, ok := f.scalar(key, required)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		f.errf(f.lineOf(key), "field %q: %q is not a positive Go duration such as 5s or 1500ms", key, s)
		return def
	}
	return d
}

// list reads a sequence of scalars, or one scalar holding a comma-separated
// list ("2,3,4", "mon-fri,sun").
func (f *fields) list(key string, required bool) []string {
	v := f.get(key)
	if v == nil {
		if required {
			f.errf(f.line, "missing required field %q", key)
		}
		return nil
	}
	return scalarList(f, key, v)
}

func scalarList(f *fields, key string, v *yaml.Node) []string {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil
		}
		var out []string
		for _, s := range strings.Split(v.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	case yaml.SequenceNode:
		var out []string
		for _, item := range v.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode {
				f.errf(item.Line, "field %q: items must be single values", key)
				continue
			}
			out = append(out, strings.TrimSpace(item.Value))
		}
		return out
	}
	f.errf(v.Line, "field %q must be a value or a list of values", key)
	return nil
}

// check reports every key that no accessor asked for.
func (f *fields) check(what string) {
	allowed := make([]string, 0, len(f.allowed))
	for k := range f.allowed {
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	for _, k := range f.keys {
		if f.allowed[k] {
			continue
		}
		msg := fmt.Sprintf("unknown field %q in %s", k, what)
		if s := closest(k, allowed); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		msg += " (allowed: " + strings.Join(allowed, ", ") + ")"
		f.errf(f.keyNode[k].Line, "%s", msg)
	}
}

// closest returns the allowed key within edit distance 2 of k, if any.
func closest(k string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if d := editDistance(k, a); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isIdent reports whether s is a plain identifier: [A-Za-z_][A-Za-z0-9_]*.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}
