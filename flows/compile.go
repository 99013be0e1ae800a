package flows

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones resolve the same on every host, so validation does not depend on the machine

	"gopkg.in/yaml.v3"
)

// BuiltinVars are the variables every call has.
var builtinVars = []string{"caller_id", "caller_name", "destination", "uuid", "flow"}

// BridgeDispositionVar is set by a bridge node that failed (FreeSWITCH's
// originate_disposition / bridge_hangup_cause).
const BridgeDispositionVar = "bridge.disposition"

// DigitsVar holds the digits of the last menu or collect (set by the runtime).
const DigitsVar = "digits"

// crmDefaultFields are the fields of a crm prefetch without a fields list.
var crmDefaultFields = []string{"extension", "name", "account"}

// Defaults applied when a field is omitted.
const (
	DefaultMenuTries       = 3
	DefaultMenuTimeout     = 5 * time.Second
	DefaultTerminators     = "#"
	DefaultOverrideTimeout = 250 * time.Millisecond
	DefaultHangupCause     = "NORMAL_CLEARING"
	maxDigits              = 128
)

type targetRef struct {
	from  string
	line  int
	field string
	to    string
}

type tmplRef struct {
	node  string
	line  int
	field string
	t     Template
}

// compiler turns one YAML document into a *Flow, reporting problems as it
// goes so that one run reports everything wrong with the file.
type compiler struct {
	reporter
	opts    Options
	f       *Flow
	ids     map[string]int // node id -> line
	targets []targetRef
	tmpls   []tmplRef // every template, for the variable check
	prompts []tmplRef // prompt templates, for the file check
	writes  map[string]bool
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func (c *compiler) compile(src []byte) *Flow {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line := 0
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = yamlLine.ReplaceAllString(msg, "")
		c.add(line, "", "YAML syntax: %s", strings.TrimPrefix(msg, ": "))
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		c.add(0, "", "empty flow file")
		return nil
	}
	top := newFields(&c.reporter, doc.Content[0], "", "the flow file")
	if top == nil {
		return nil
	}
	f := &Flow{
		File:     c.file,
		Version:  versionOf(src),
		Nodes:    map[string]*Node{},
		Prefetch: map[string]*Prefetch{},
	}
	c.f = f
	f.Name = top.str("name", true, "")
	f.nameLine = top.lineOf("name")
	if f.Name != "" && !isFlowName(f.Name) {
		top.errf(top.lineOf("name"), "flow name %q must be letters, digits, '_' or '-'", f.Name)
	}
	f.Description = top.str("description", false, "")
	f.Fallback = top.str("fallback", false, "")
	if f.Fallback != "" {
		w := strings.Fields(f.Fallback)
		if len(w) != 3 || !isFlowName(w[0]) || !isFlowName(w[1]) || !isFlowName(w[2]) {
			top.errf(top.lineOf("fallback"), "fallback %q must be \"<dest> <dialplan> <context>\", each letters, digits, '_' or '-'", f.Fallback)
		}
	}
	f.Start = top.str("start", true, "")
	startLine := top.lineOf("start")
	if pf := top.get("prefetch"); pf != nil {
		c.prefetches(pf)
	}
	nodes := top.get("nodes")
	if nodes == nil {
		top.errf(top.line, "missing required field %q", "nodes")
	}
	top.check("the flow file")
	if nodes == nil {
		return nil
	}
	c.nodes(nodes)
	if f.Start != "" {
		if _, ok := c.ids[f.Start]; !ok {
			c.add(startLine, "", "start node %q does not exist%s", f.Start, c.suggest(f.Start))
		}
	}
	c.checkTargets()
	if len(c.probs) > 0 {
		// The graph checks below assume every target resolves.
		c.checkVars()
		return nil
	}
	c.checkReachable()
	c.checkInputlessCycles()
	c.checkVars()
	c.checkPrompts()
	c.warnTemplatedPrompts()
	return f
}

func isFlowName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func (c *compiler) prefetches(n *yaml.Node) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		c.add(n.Line, "", "prefetch must be a mapping of name -> {kind, key, ...}")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		name := k.Value
		if !isIdent(name) {
			c.add(k.Line, "", "prefetch name %q must be an identifier", name)
			continue
		}
		if _, dup := c.f.Prefetch[name]; dup {
			c.add(k.Line, "", "duplicate prefetch %q", name)
			continue
		}
		if slices.Contains(builtinVars, name) || name == "bridge" {
			c.add(k.Line, "", "prefetch name %q is reserved", name)
			continue
		}
		pf := newFields(&c.reporter, n.Content[i+1], "", fmt.Sprintf("prefetch %q", name))
		if pf == nil {
			continue
		}
		p := &Prefetch{Name: name}
		p.Kind = pf.str("kind", true, "")
		if p.Kind != "" && p.Kind != PrefetchKindCRM {
			pf.errf(pf.lineOf("kind"), "prefetch %q: unknown kind %q (known: crm)", name, p.Kind)
		}
		if raw, ok := pf.scalar("key", true); ok {
			t, err := ParseTemplate(raw)
			if err != nil {
				pf.errf(pf.lineOf("key"), "prefetch %q: key: %v", name, err)
			}
			p.Key = t
			for _, v := range t.Vars() {
				if !slices.Contains(builtinVars, v) {
					pf.errf(pf.lineOf("key"), "prefetch %q: key may only use call variables (%s), not ${%s}", name, strings.Join(builtinVars, ", "), v)
				}
			}
		}
		p.Default = pf.str("default", false, "")
		p.Timeout = pf.duration("timeout", true, 0)
		p.Fields = pf.list("fields", false)
		if len(p.Fields) == 0 {
			p.Fields = crmDefaultFields
		}
		for _, fld := range p.Fields {
			if !isIdent(fld) {
				pf.errf(pf.lineOf("fields"), "prefetch %q: field name %q must be an identifier", name, fld)
			}
		}
		pf.check(fmt.Sprintf("prefetch %q", name))
		c.f.Prefetch[name] = p
	}
}

func (c *compiler) nodes(n *yaml.Node) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		c.add(n.Line, "", "nodes must be a mapping of node id -> node")
		return
	}
	c.ids = map[string]int{}
	type pending struct {
		id   string
		line int
		val  *yaml.Node
	}
	var all []pending
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		id := k.Value
		switch {
		case !isIdent(id):
			c.add(k.Line, id, "node id must be an identifier ([A-Za-z_][A-Za-z0-9_]*)")
			continue
		case id == StateEnd || id == StateHungUp:
			c.add(k.Line, id, "node id %q is reserved for the machine's own state", id)
			continue
		case slices.Contains(plainOutcomes, Outcome(id)):
			c.add(k.Line, id, "node id %q is an outcome name; pick another id", id)
			continue
		}
		if first, dup := c.ids[id]; dup {
			c.add(k.Line, id, "duplicate node id (first at line %d)", first)
			continue
		}
		c.ids[id] = k.Line
		all = append(all, pending{id, k.Line, n.Content[i+1]})
	}
	if len(all) == 0 {
		c.add(n.Line, "", "the flow has no nodes")
	}
	for _, p := range all {
		if node := c.node(p.id, p.line, p.val); node != nil {
			c.f.Nodes[p.id] = node
			c.f.Order = append(c.f.Order, p.id)
		}
	}
}

// target reads a target field and records it for resolution.
func (c *compiler) target(nf *fields, n *Node, key string, event Outcome, required bool) {
	to, ok := nf.scalar(key, required)
	if !ok {
		return
	}
	c.edge(n, nf.lineOf(key), key, event, to)
}

func (c *compiler) edge(n *Node, line int, field string, event Outcome, to string) {
	if _, dup := n.Next[event]; dup {
		c.add(line, n.ID, "outcome %q is given twice", event)
		return
	}
	n.Next[event] = to
	n.Outcomes = append(n.Outcomes, event)
	if to != StateEnd {
		c.targets = append(c.targets, targetRef{from: n.ID, line: line, field: field, to: to})
	}
}

// template parses a template field and records it for the variable check.
func (c *compiler) template(nf *fields, key string, required bool) (Template, bool) {
	raw, ok := nf.scalar(key, required)
	if !ok {
		return Template{}, false
	}
	return c.parseTmpl(nf.node, nf.lineOf(key), key, raw)
}

func (c *compiler) parseTmpl(node string, line int, field, raw string) (Template, bool) {
	if strings.ContainsFunc(raw, isControl) {
		c.add(line, node, "%s contains a control character", field)
		return Template{}, false
	}
	t, err := ParseTemplate(raw)
	if err != nil {
		c.add(line, node, "%s: %v", field, err)
		return Template{}, false
	}
	c.tmpls = append(c.tmpls, tmplRef{node: node, line: line, field: field, t: t})
	return t, true
}

// prompt parses a prompt template: no spaces (FreeSWITCH splits
// play_and_get_digits arguments on them), and recorded for the file check.
func (c *compiler) prompt(node string, line int, field, raw string) (Template, bool) {
	if strings.ContainsAny(raw, " \t") {
		c.add(line, node, "%s %q must not contain spaces", field, raw)
		return Template{}, false
	}
	t, ok := c.parseTmpl(node, line, field, raw)
	if ok {
		c.prompts = append(c.prompts, tmplRef{node: node, line: line, field: field, t: t})
	}
	return t, ok
}

func (c *compiler) promptField(nf *fields, key string, required bool) (Template, bool) {
	raw, ok := nf.scalar(key, required)
	if !ok {
		return Template{}, false
	}
	return c.prompt(nf.node, nf.lineOf(key), key, raw)
}

func (c *compiler) node(id string, line int, val *yaml.Node) *Node {
	nf := newFields(&c.reporter, val, id, "a node")
	if nf == nil {
		return nil
	}
	nf.line = line // "missing field" points at the node id
	kind, ok := nf.scalar("kind", true)
	if !ok {
		return nil
	}
	n := &Node{ID: id, Kind: Kind(kind), File: c.file, Line: line, Next: map[Outcome]string{}}
	n.Log = nf.str("log", false, "")
	spec, known := kinds[n.Kind]
	if !known {
		var names []string
		for _, k := range Kinds() {
			names = append(names, string(k))
		}
		nf.errf(nf.lineOf("kind"), "unknown node kind %q (known: %s)", kind, strings.Join(names, ", "))
		return nil
	}
	spec.compile(c, nf, n)
	nf.check("a " + kind + " node")
	return n
}

func (c *compiler) terminal(nf *fields, n *Node) {
	for _, key := range []string{"next", "on_fail"} {
		if nf.has(key) {
			nf.errf(nf.lineOf(key), "a %s node ends the flow and cannot have %s", n.Kind, key)
		}
	}
	c.edge(n, n.Line, "", OutcomeDone, StateEnd)
}

// fallbackPrompt reads fallback_prompt: a static prompt, checked like the
// others, played when a prompt built from data has no file.
func (c *compiler) fallbackPrompt(nf *fields, n *Node) {
	if !nf.has("fallback_prompt") {
		return
	}
	t, ok := c.promptField(nf, "fallback_prompt", false)
	if !ok {
		return
	}
	if !t.IsStatic() {
		nf.errf(nf.lineOf("fallback_prompt"), "fallback_prompt %q must be a fixed file, not built from data", t.Raw)
		return
	}
	n.FallbackPrompt = t
}

// suggest returns ` (did you mean "x"?)` for a near node id.
func (c *compiler) suggest(id string) string {
	ids := make([]string, 0, len(c.ids))
	for k := range c.ids {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	if s := closest(id, ids); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}
