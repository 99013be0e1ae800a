package flows

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownVar is returned by Render when a template names a variable the
// lookup does not have.
var ErrUnknownVar = errors.New("flows: unknown variable")

// Template is a string with ${name} references (name: letters, digits, '_',
// '.', e.g. ${crm.extension}, ${digits}), parsed once at load time.
type Template struct {
	Raw   string
	parts []templatePart
}

type templatePart struct {
	lit string
	ref string // variable name; empty for a literal part
}

// ParseTemplate parses s. An unterminated or empty ${} is an error.
func ParseTemplate(s string) (Template, error) {
	t := Template{Raw: s}
	rest := s
	for rest != "" {
		i := strings.Index(rest, "${")
		if i < 0 {
			t.parts = append(t.parts, templatePart{lit: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return Template{}, fmt.Errorf("unterminated ${ in %q", s)
		}
		name := rest[i+2 : i+j]
		if !validVarName(name) {
			return Template{}, fmt.Errorf("bad variable name %q in %q", name, s)
		}
		t.parts = append(t.parts, templatePart{ref: name})
		rest = rest[i+j+1:]
	}
	return t, nil
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Vars returns the variable names the template references, in order.
func (t Template) Vars() []string {
	var vs []string
	for _, p := range t.parts {
		if p.ref != "" {
			vs = append(vs, p.ref)
		}
	}
	return vs
}

// IsStatic reports whether the template references no variable.
func (t Template) IsStatic() bool {
	for _, p := range t.parts {
		if p.ref != "" {
			return false
		}
	}
	return true
}

// Render substitutes every reference through lookup. A name lookup does not
// know is ErrUnknownVar. Values are inserted as they are: callers that put
// the result on the wire validate it (see ivr).
func (t Template) Render(lookup func(name string) (string, bool)) (string, error) {
	if len(t.parts) == 1 && t.parts[0].ref == "" {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := lookup(p.ref)
		if !ok {
			return "", fmt.Errorf("%w: ${%s}", ErrUnknownVar, p.ref)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}
