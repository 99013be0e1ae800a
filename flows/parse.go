package flows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones resolve the same on every host, so validation does not depend on the machine

	"gopkg.in/yaml.v3"
)

// Options tune loading.
type Options struct {
	// SoundsDir is where prompt files are looked up (a prompt
	// "new_sales/1000.wav" must exist as SoundsDir/new_sales/1000.wav). Empty
	// means the sounds directory beside the flow file's directory
	// (flows/sales.yaml -> sounds/).
	SoundsDir string
	// SkipPromptCheck disables the prompt file check (e.g. ivrctl graph, or
	// tests without the sound files).
	SkipPromptCheck bool
}

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

// OverrideKey is the default Redis key of a flow's time override.
func OverrideKey(flow string) string { return "fsivr:override:" + flow }

// Load reads, validates and compiles one flow file.
func Load(path string, opts Options) (*Flow, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	return Parse(path, src, opts)
}

// Parse validates and compiles src. name is the file name used in messages
// (and, when Options.SoundsDir is empty, to find sounds/ beside it). Every
// problem found is returned in one *InvalidError.
func Parse(name string, src []byte, opts Options) (*Flow, error) {
	c := &compiler{
		reporter: reporter{file: name},
		opts:     opts,
		writes:   map[string]bool{},
	}
	f := c.compile(src)
	if err := newInvalid(c.probs); err != nil {
		return nil, err
	}
	return f, nil
}

// LoadDir loads every *.yaml file of dir. See LoadFiles.
func LoadDir(dir string, opts Options) (map[string]*Flow, error) {
	paths, err := flowFiles(dir)
	if err != nil {
		return nil, err
	}
	return LoadFiles(paths, opts)
}

func flowFiles(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	sort.Strings(paths)
	return paths, nil
}

// LoadFiles loads the given files and returns the flows by name. The map
// holds every flow that is valid even when err is not nil; err is an
// *InvalidError listing the problems of all the others (including two files
// declaring the same flow name), or a read error.
func LoadFiles(paths []string, opts Options) (map[string]*Flow, error) {
	return loadFiles(paths, opts, nil)
}

// loadFiles is LoadFiles with an optional cache of already compiled versions
// (by file), so that an unchanged file is not compiled again.
func loadFiles(paths []string, opts Options, prev func(file string) *Flow) (map[string]*Flow, error) {
	out := map[string]*Flow{}
	var probs []Problem
	var readErrs []error
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			readErrs = append(readErrs, fmt.Errorf("flows: %w", err))
			continue
		}
		var f *Flow
		if prev != nil {
			if old := prev(p); old != nil && old.Version == versionOf(src) {
				f = old
			}
		}
		if f == nil {
			f, err = Parse(p, src, opts)
			var inv *InvalidError
			if errors.As(err, &inv) {
				probs = append(probs, inv.Problems...)
				continue
			} else if err != nil {
				readErrs = append(readErrs, err)
				continue
			}
		}
		if other, dup := out[f.Name]; dup {
			probs = append(probs, Problem{File: p, Line: f.nameLine, Msg: fmt.Sprintf("flow name %q is already used by %s", f.Name, other.File)})
			continue
		}
		out[f.Name] = f
	}
	if len(readErrs) > 0 {
		if inv := newInvalid(probs); inv != nil {
			readErrs = append(readErrs, inv)
		}
		return out, errors.Join(readErrs...)
	}
	return out, newInvalid(probs)
}

func versionOf(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:6])
}

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
	f.Events = buildEvents(f)
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
		if p.Kind != "" && p.Kind != "crm" {
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
		case slices.Contains(plainEvents, id):
			// looplab/fsm resolves bare callback names as events first.
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
func (c *compiler) target(nf *fields, n *Node, key, event string, required bool) {
	to, ok := nf.scalar(key, required)
	if !ok {
		return
	}
	c.edge(n, nf.lineOf(key), key, event, to)
}

func (c *compiler) edge(n *Node, line int, field, event, to string) {
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

var plainEvents = []string{EventDone, EventFailed, EventReady, EventMissing, EventDefault, EventOverride, EventHangup}

var nodeKinds = []Kind{KindPlay, KindMenu, KindCollect, KindTime, KindBridge, KindTransfer, KindSet, KindHangup, KindWaitFor}

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
	n := &Node{ID: id, Kind: Kind(kind), File: c.file, Line: line, Next: map[string]string{}}
	n.Log = nf.str("log", false, "")
	switch n.Kind {
	case KindPlay:
		c.play(nf, n)
	case KindMenu, KindCollect:
		c.menu(nf, n)
	case KindTime:
		c.time(nf, n)
	case KindBridge:
		c.bridge(nf, n)
	case KindTransfer:
		c.transfer(nf, n)
	case KindSet:
		c.set(nf, n)
	case KindHangup:
		c.hangup(nf, n)
	case KindWaitFor:
		c.waitFor(nf, n)
	default:
		names := make([]string, len(nodeKinds))
		for i, k := range nodeKinds {
			names[i] = string(k)
		}
		nf.errf(nf.lineOf("kind"), "unknown node kind %q (known: %s)", kind, strings.Join(names, ", "))
		return nil
	}
	nf.check("a " + kind + " node")
	return n
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
	c.target(nf, n, "next", EventDone, true)
}

var digitsOnly = regexp.MustCompile(`^[0-9*#]+$`)

func (c *compiler) menu(nf *fields, n *Node) {
	collect := n.Kind == KindCollect
	m := &Menu{}
	n.Menu = m
	m.Min = nf.integer("min", 1)
	m.Max = nf.integer("max", m.Min)
	m.Tries = nf.integer("tries", DefaultMenuTries)
	m.Timeout = nf.duration("timeout", false, DefaultMenuTimeout)
	m.Terminators = nf.str("terminators", false, DefaultTerminators)
	m.Prompt, _ = c.promptField(nf, "prompt", true)
	m.Invalid, _ = c.promptField(nf, "invalid", false)
	defVar := ""
	if !collect {
		defVar = n.ID
	}
	m.Var = nf.str("var", collect, defVar)
	m.Regex = nf.str("regex", false, "")

	if m.Min < 1 || m.Max < m.Min || m.Max > maxDigits {
		nf.errf(nf.lineOf("max"), "digits: need 1 <= min (%d) <= max (%d) <= %d", m.Min, m.Max, maxDigits)
	}
	if m.Tries < 1 || m.Tries > 20 {
		nf.errf(nf.lineOf("tries"), "tries must be between 1 and 20, got %d", m.Tries)
	}
	if m.Terminators != "none" && !digitsOnly.MatchString(m.Terminators) {
		nf.errf(nf.lineOf("terminators"), "terminators %q: use DTMF keys (0-9 * #) or none", m.Terminators)
	}
	c.writeVar(nf, "var", m.Var)

	var re *regexp.Regexp
	if m.Regex != "" {
		re = c.checkRegex(nf, m.Regex)
	}
	if collect {
		if m.Regex == "" {
			m.Regex = `\d+`
		}
		c.target(nf, n, "next", EventDone, true)
		c.target(nf, n, "on_fail", EventFailed, true)
		return
	}
	c.choices(nf, n, m, re)
	if m.Regex == "" && len(m.Choices) > 0 {
		// Derived so that FreeSWITCH itself treats any other input as invalid
		// and replays the invalid prompt within the same tries.
		alts := make([]string, len(m.Choices))
		for i, ch := range m.Choices {
			alts[i] = regexp.QuoteMeta(ch)
		}
		m.Regex = "^(" + strings.Join(alts, "|") + ")$"
	}
	c.target(nf, n, "on_fail", EventFailed, true)
}

// checkRegex compiles a play_and_get_digits regex with Go's RE2, which
// accepts the PCRE subset digit patterns use (\d, classes, alternation).
func (c *compiler) checkRegex(nf *fields, expr string) *regexp.Regexp {
	if strings.ContainsAny(expr, " \t") {
		nf.errf(nf.lineOf("regex"), "regex %q must not contain spaces (FreeSWITCH splits the arguments on them)", expr)
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		nf.errf(nf.lineOf("regex"), "bad regex %q: %v", expr, err)
		return nil
	}
	return re
}

func (c *compiler) writeVar(nf *fields, key, name string) {
	if name == "" {
		return
	}
	if !isIdent(name) {
		nf.errf(nf.lineOf(key), "variable name %q must be an identifier", name)
		return
	}
	if slices.Contains(builtinVars, name) {
		nf.errf(nf.lineOf(key), "variable %q is a built-in call variable and cannot be written", name)
		return
	}
	c.writes[name] = true
}

func (c *compiler) choices(nf *fields, n *Node, m *Menu, re *regexp.Regexp) {
	v := nf.get("choices")
	if v == nil {
		nf.errf(nf.line, "missing required field %q", "choices")
		return
	}
	entries := 0
	add := func(line int, digits []string, target string) {
		entries++
		if len(digits) == 0 {
			nf.errf(line, "a choice needs at least one digit string")
		}
		for _, d := range digits {
			switch {
			case !digitsOnly.MatchString(d):
				nf.errf(line, "choice %q is not a DTMF digit string (0-9 * #)", d)
				continue
			case len(d) < m.Min || len(d) > m.Max:
				nf.errf(line, "choice %q can never be entered: the menu takes %d to %d digits", d, m.Min, m.Max)
				continue
			case m.Terminators != "none" && strings.ContainsAny(d, m.Terminators):
				nf.errf(line, "choice %q contains a terminator key (%s)", d, m.Terminators)
				continue
			case re != nil && !re.MatchString(d):
				nf.errf(line, "choice %q can never be entered: regex %s rejects it", d, m.Regex)
				continue
			case slices.Contains(m.Choices, d):
				nf.errf(line, "choice %q is given twice", d)
				continue
			}
			m.Choices = append(m.Choices, d)
			c.edge(n, line, "choices", ChoiceEvent(d), target)
		}
	}
	switch v.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, t := resolve(v.Content[i]), resolve(v.Content[i+1])
			if t.Kind != yaml.ScalarNode || t.Value == "" {
				nf.errf(t.Line, "choice %q: the target must be a node id", k.Value)
				continue
			}
			add(k.Line, splitDigits(k.Value), t.Value)
		}
	case yaml.SequenceNode:
		for _, item := range v.Content {
			cf := newFields(nf.r, item, n.ID, "a choice")
			if cf == nil {
				continue
			}
			digits := cf.list("digits", true)
			to, ok := cf.scalar("next", true)
			cf.check("a choice")
			if ok {
				add(cf.line, digits, to)
			}
		}
	default:
		nf.errf(v.Line, "choices must map digits to a node id (\"1\": node, \"2,3\": node) or list {digits, next}")
	}
	if entries == 0 {
		nf.errf(v.Line, "a menu needs at least one choice")
	}
}

func splitDigits(s string) []string {
	var out []string
	for _, d := range strings.Split(s, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

func (c *compiler) time(nf *fields, n *Node) {
	t := &Time{}
	n.Time = t
	if zone, ok := nf.scalar("zone", true); ok {
		if zone == "" || zone == "Local" {
			nf.errf(nf.lineOf("zone"), "zone must be an IANA name such as Europe/Berlin (not the machine's local zone)")
		} else if loc, err := time.LoadLocation(zone); err != nil {
			nf.errf(nf.lineOf("zone"), "unknown time zone %q", zone)
		} else {
			t.Zone = loc
		}
	}
	names := map[string]bool{}
	rules := func(key string, holiday bool) {
		v := nf.get(key)
		if v == nil {
			return
		}
		if v.Kind != yaml.SequenceNode {
			nf.errf(v.Line, "%s must be a list", key)
			return
		}
		for i, item := range v.Content {
			rf := newFields(nf.r, item, n.ID, "a "+key+" entry")
			if rf == nil {
				continue
			}
			r := TimeRule{}
			def := ""
			if holiday {
				def = "holiday"
				if i > 0 {
					def = fmt.Sprintf("holiday%d", i+1)
				}
			}
			r.Name = rf.str("name", !holiday, def)
			if r.Name != "" && !isIdent(r.Name) {
				rf.errf(rf.lineOf("name"), "rule name %q must be an identifier", r.Name)
			}
			if names[r.Name] {
				rf.errf(rf.lineOf("name"), "rule name %q is used twice", r.Name)
			}
			names[r.Name] = true
			r.Dates = rf.list("dates", holiday)
			for _, d := range r.Dates {
				if err := checkDate(d); err != nil {
					rf.errf(rf.lineOf("dates"), "rule %q: %v", r.Name, err)
				}
			}
			if rf.has("days") {
				if holiday || len(r.Dates) > 0 {
					rf.errf(rf.lineOf("days"), "rule %q: use either days or dates, not both", r.Name)
				}
				days, err := parseDays(rf.list("days", false))
				if err != nil {
					rf.errf(rf.lineOf("days"), "rule %q: %v", r.Name, err)
				}
				r.Days = days
			} else {
				r.Days, _ = parseDays([]string{"all"})
			}
			var err error
			if r.From, err = parseClock(rf.str("from", false, "00:00")); err != nil {
				rf.errf(rf.lineOf("from"), "rule %q: from: %v", r.Name, err)
			}
			if r.To, err = parseClock(rf.str("to", false, "24:00")); err != nil {
				rf.errf(rf.lineOf("to"), "rule %q: to: %v", r.Name, err)
			}
			if r.From >= r.To {
				rf.errf(rf.lineOf("to"), "rule %q: window %s-%s is empty or crosses midnight (split it into two rules)", r.Name, fmtClock(r.From), fmtClock(r.To))
			}
			c.target(rf, n, "next", RuleEvent(r.Name), true)
			rf.check("a " + key + " entry")
			t.Rules = append(t.Rules, r)
		}
	}
	// Holidays are checked before the weekly rules.
	rules("holidays", true)
	rules("rules", false)
	if len(t.Rules) == 0 && !nf.has("rules") && !nf.has("holidays") {
		nf.errf(nf.line, "a time node needs rules (or holidays)")
	}
	c.target(nf, n, "default", EventDefault, true)
	if ov := nf.get("override"); ov != nil {
		c.override(nf, n, ov)
	}
}

func fmtClock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func (c *compiler) override(nf *fields, n *Node, v *yaml.Node) {
	of := newFields(nf.r, v, n.ID, "override")
	if of == nil {
		return
	}
	o := &Override{}
	n.Time.Override = o
	o.Key = of.str("key", false, OverrideKey(c.f.Name))
	if o.Key == "" || strings.ContainsAny(o.Key, " \t") {
		of.errf(of.lineOf("key"), "override key %q must be a non-empty Redis key without spaces", o.Key)
	}
	o.Timeout = of.duration("timeout", false, DefaultOverrideTimeout)
	o.Actions = of.list("actions", false)
	for _, a := range o.Actions {
		if !slices.Contains(overrideActions, a) {
			of.errf(of.lineOf("actions"), "override action %q is not allowed (allowed: %s)", a, strings.Join(overrideActions, ", "))
		}
	}
	if g := of.get("goto"); g != nil {
		for _, item := range scalarList(of, "goto", g) {
			if slices.Contains(o.Nodes, item) {
				continue
			}
			o.Nodes = append(o.Nodes, item)
			c.edge(n, of.lineOf("goto"), "override goto", GotoEvent(item), item)
		}
	}
	if len(o.Actions) == 0 && len(o.Nodes) == 0 {
		of.errf(of.line, "override allows nothing: list actions (transfer, playback, hangup) and/or goto nodes")
	}
	of.check("override")
	n.Next[EventOverride] = StateEnd
	n.Outcomes = append(n.Outcomes, EventOverride)
}

func (c *compiler) bridge(nf *fields, n *Node) {
	b := &Bridge{}
	n.Bridge = b
	if nf.has("prompt") {
		if t, ok := c.promptField(nf, "prompt", false); ok {
			b.Prompt = &t
		}
	}
	if t, ok := c.template(nf, "dial", true); ok {
		if strings.ContainsAny(t.Raw, " \t") {
			nf.errf(nf.lineOf("dial"), "dial %q must not contain spaces", t.Raw)
		}
		b.Dial = t
	}
	// ringback is a FreeSWITCH value (e.g. ${us-ring}, expanded by
	// FreeSWITCH), passed through verbatim: not one of our templates.
	b.Ringback = nf.str("ringback", false, "")
	if strings.ContainsAny(b.Ringback, " \t") {
		nf.errf(nf.lineOf("ringback"), "ringback %q must not contain spaces", b.Ringback)
	}
	b.ContinueOnFail = nf.boolean("continue_on_fail", true)
	b.HangupAfterBridge = nf.boolean("hangup_after_bridge", true)
	if nf.has("next") || !b.HangupAfterBridge {
		c.target(nf, n, "next", EventDone, true)
	} else {
		// After a successful bridge the call hangs up (hangup_after_bridge).
		c.edge(n, nf.line, "next", EventDone, StateEnd)
	}
	if b.ContinueOnFail {
		c.target(nf, n, "on_fail", EventFailed, true)
	} else if nf.has("on_fail") {
		nf.errf(nf.lineOf("on_fail"), "on_fail is never taken with continue_on_fail: false (FreeSWITCH hangs up a failed bridge)")
	}
}

func (c *compiler) terminal(nf *fields, n *Node) {
	for _, key := range []string{"next", "on_fail"} {
		if nf.has(key) {
			nf.errf(nf.lineOf(key), "a %s node ends the flow and cannot have %s", n.Kind, key)
		}
	}
	c.edge(n, n.Line, "", EventDone, StateEnd)
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
	c.target(nf, n, "next", EventDone, true)
}

func (c *compiler) hangup(nf *fields, n *Node) {
	n.Hangup = &Hangup{Cause: nf.str("cause", false, DefaultHangupCause)}
	if !isCause(n.Hangup.Cause) {
		nf.errf(nf.lineOf("cause"), "cause %q is not a FreeSWITCH hangup cause such as NORMAL_CLEARING", n.Hangup.Cause)
	}
	c.terminal(nf, n)
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
	c.target(nf, n, "ready", EventReady, true)
	c.target(nf, n, "missing", EventMissing, true)
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

func (c *compiler) checkTargets() {
	for _, t := range c.targets {
		if _, ok := c.ids[t.to]; !ok {
			c.add(t.line, t.from, "unknown target %q in %s%s", t.to, t.field, c.suggest(t.to))
		} else if t.to == t.from {
			c.add(t.line, t.from, "%s points back at the node itself; go through another node (a menu replays its prompt by itself, see tries)", t.field)
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
func takesInput(n *Node) bool { return n.Kind == KindMenu || n.Kind == KindCollect }

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
		if len(comp) > 1 {
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

func (c *compiler) soundsDir() string {
	if c.opts.SoundsDir != "" {
		return c.opts.SoundsDir
	}
	return filepath.Join(filepath.Dir(c.file), "..", "sounds")
}

// checkPrompts checks that every static prompt exists under the sounds dir.
// A prompt with variables (new_sales/8${cc_extension}.wav) is checked for its
// static directory only. URLs and FreeSWITCH streams (silence_stream://,
// tone_stream://) and absolute paths are FreeSWITCH's business.
func (c *compiler) checkPrompts() {
	if c.opts.SkipPromptCheck {
		return
	}
	dir := c.soundsDir()
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if len(c.prompts) > 0 {
			c.add(c.prompts[0].line, "", "sounds directory %s not found: prompts cannot be checked (give the sounds directory, or skip the prompt check)", dir)
		}
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
			if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(raw))); err != nil || st.IsDir() {
				c.add(p.line, p.node, "%s %q: file not found in %s", promptWord(p.field), raw, dir)
			}
			continue
		}
		prefix, _, _ := strings.Cut(raw, "${")
		if i := strings.LastIndexByte(prefix, '/'); i > 0 {
			sub := prefix[:i]
			if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(sub))); err != nil || !st.IsDir() {
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
