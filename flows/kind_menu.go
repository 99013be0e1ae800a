package flows

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Menu is play_and_get_digits: <min> <max> <tries> <timeout_ms> <terminators>
// <prompt> <invalid> <var> <regex>. FreeSWITCH itself replays the prompt on
// timeout/invalid input until Tries are used up and leaves the digits in
// variable_<Var>. A menu fires ChoiceOutcome(digits) for a digit string that is
// a key of Choices-derived Next entries, else OutcomeFailed. A collect fires
// OutcomeDone (the digits are stored in the session variable Var) or OutcomeFailed.
type Menu struct {
	Min, Max    int
	Tries       int
	Timeout     time.Duration
	Terminators string
	Prompt      Template
	Invalid     Template
	Var         string // channel/session variable that receives the digits
	Regex       string // FreeSWITCH (PCRE) regex the digits must match
	Choices     []string
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
	c.fallbackPrompt(nf, n)
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
		c.target(nf, n, "next", OutcomeDone, true)
		c.target(nf, n, "on_fail", OutcomeFailed, true)
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
	c.target(nf, n, "on_fail", OutcomeFailed, true)
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
			c.edge(n, line, "choices", ChoiceOutcome(d), target)
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

// SilencePrompt is what Menu.Args puts in place of an empty invalid prompt:
// play_and_get_digits takes its arguments by position, so every slot needs a
// value.
const SilencePrompt = "silence_stream://250"

// Args builds the play_and_get_digits argument string from the rendered
// prompt and invalid prompt:
//
//	<min> <max> <tries> <timeout_ms> <terminators> <file> <invalid_file> <var_name> <regexp>
//
// e.g. "1 1 3 5000 # new_sales/1001.wav new_sales/9004.wav menu_number [1-5]".
// The caller validates the rendered prompts (no spaces, no newlines): the
// arguments are split on spaces by FreeSWITCH.
func (m *Menu) Args(prompt, invalid string) string {
	if invalid == "" {
		invalid = SilencePrompt
	}
	term := m.Terminators
	if term == "" {
		term = "none"
	}
	var b strings.Builder
	b.Grow(64 + len(prompt) + len(invalid) + len(m.Var) + len(m.Regex))
	b.WriteString(strconv.Itoa(m.Min))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(m.Max))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(m.Tries))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(m.Timeout.Milliseconds(), 10))
	b.WriteByte(' ')
	b.WriteString(term)
	b.WriteByte(' ')
	b.WriteString(prompt)
	b.WriteByte(' ')
	b.WriteString(invalid)
	b.WriteByte(' ')
	b.WriteString(m.Var)
	b.WriteByte(' ')
	b.WriteString(m.Regex)
	return b.String()
}

func menuPrompts(n *Node) []Template { return []Template{n.Menu.Prompt, n.Menu.Invalid} }
