package amitest

import (
	"errors"
	"regexp"
	"strings"
)

// eventMask is a session's Events/EventMask setting: which event classes it
// gets. The zero value gets nothing.
type eventMask struct {
	all     bool
	classes map[string]bool
}

var allEvents = eventMask{all: true}

// parseEventMask reads an Events/EventMask value: on, off, or a class list
// (call,agent ...). Asterisk also accepts the numeric forms; the fake does
// not need them.
func parseEventMask(v string) eventMask {
	v = strings.TrimSpace(strings.ToLower(v))
	switch v {
	case "on", "yes", "true", "all":
		return allEvents
	case "off", "no", "false", "":
		return eventMask{}
	}
	m := eventMask{classes: map[string]bool{}}
	for _, c := range strings.Split(v, ",") {
		if c = strings.TrimSpace(c); c != "" {
			m.classes[c] = true
		}
	}
	return m
}

func (m eventMask) on() bool { return m.all || len(m.classes) > 0 }

func (m eventMask) allows(class string) bool {
	if m.all {
		return true
	}
	return m.classes[class]
}

// filterMethod is how an advanced filter compares a header value.
type filterMethod int

const (
	methodRegex filterMethod = iota
	methodExact
	methodStartsWith
	methodEndsWith
	methodContains
	methodNone
)

// filter is one Filter action. A legacy filter (a bare `Filter: regex`,
// `!regex` to exclude) is a regex on the whole event text; an advanced one
// (MatchCriteria) selects by exact event name and/or one header's value.
// `Filter: action(include),name(A|B)` is thus a legacy regex that matches
// nothing, and `MatchCriteria: ...name(A|B)` an exact name that matches
// nothing, as the captures (69_*) show.
type filter struct {
	include bool
	name    string // exact event name, "" for any
	header  string // header whose value is compared, "" for the whole text
	method  filterMethod
	pattern string
	re      *regexp.Regexp
}

// Why a Filter action is refused (Asterisk answers each with its own text).
var (
	errFilterCompile = errors.New("amitest: filter regex does not compile")
	errFilterFormat  = errors.New("amitest: filter criteria badly formatted")
)

// parseFilter builds a filter from a Filter action's headers.
func parseFilter(hs []Header) (filter, error) {
	pattern := getHeader(hs, "Filter")
	crit := getHeader(hs, "MatchCriteria")
	f := filter{include: true, method: methodRegex, pattern: pattern}
	if crit == "" {
		if strings.HasPrefix(pattern, "!") {
			f.include = false
			f.pattern = pattern[1:]
		}
	} else {
		for _, part := range splitCriteria(crit) {
			key, val, ok := strings.Cut(part, "(")
			if !ok || !strings.HasSuffix(val, ")") {
				return filter{}, errFilterFormat
			}
			val = strings.TrimSuffix(val, ")")
			switch strings.ToLower(strings.TrimSpace(key)) {
			case "action":
				switch strings.ToLower(val) {
				case "include":
				case "exclude":
					f.include = false
				default:
					return filter{}, errFilterFormat
				}
			case "name":
				f.name = val
			case "header":
				f.header = val
			case "method":
				switch strings.ToLower(val) {
				case "regex":
					f.method = methodRegex
				case "exact":
					f.method = methodExact
				case "starts_with":
					f.method = methodStartsWith
				case "ends_with":
					f.method = methodEndsWith
				case "contains":
					f.method = methodContains
				case "none":
					f.method = methodNone
				default:
					return filter{}, errFilterFormat
				}
			default:
				return filter{}, errFilterFormat
			}
		}
	}
	if f.method == methodRegex && f.pattern != "" {
		re, err := regexp.Compile(f.pattern)
		if err != nil {
			return filter{}, errFilterCompile
		}
		f.re = re
	}
	return f, nil
}

// splitCriteria splits `a(x),b(y)` at the commas outside parentheses.
func splitCriteria(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func (f *filter) matches(e *event) bool {
	if f.name != "" && f.name != e.name {
		return false
	}
	subject := string(e.raw)
	if f.header != "" {
		v, ok := "", false
		for _, h := range e.headers {
			if strings.EqualFold(h.Name, f.header) {
				v, ok = h.Value, true
				break
			}
		}
		if !ok {
			return false
		}
		subject = v
	}
	switch f.method {
	case methodExact:
		return subject == f.pattern
	case methodStartsWith:
		return strings.HasPrefix(subject, f.pattern)
	case methodEndsWith:
		return strings.HasSuffix(subject, f.pattern)
	case methodContains:
		return strings.Contains(subject, f.pattern)
	case methodNone:
		return true
	}
	if f.re == nil {
		return true
	}
	return f.re.MatchString(subject)
}

// passFilters is Asterisk's rule: with include filters an event must match
// one of them; it must match no exclude filter.
func passFilters(fs []filter, e *event) bool {
	if len(fs) == 0 {
		return true
	}
	hasInclude, included := false, false
	for i := range fs {
		f := &fs[i]
		if f.include {
			hasInclude = true
			if !included && f.matches(e) {
				included = true
			}
		} else if f.matches(e) {
			return false
		}
	}
	return !hasInclude || included
}
