package flows

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid matches (errors.Is) every *InvalidError: a flow that does not
// validate, as opposed to a file that cannot be read.
var ErrInvalid = errors.New("flows: invalid flow")

// Problem is one validation finding, located at File:Line and, when it
// concerns a node, naming the node id.
type Problem struct {
	File string
	Line int
	Node string // node id; empty for flow-level problems
	Msg  string
}

// Error renders the problem as `file:line: node "id": msg`.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Node != "" {
		fmt.Fprintf(&b, "node %q: ", p.Node)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// InvalidError lists every problem found in one or more flow files, sorted
// by file and line. errors.Is(err, ErrInvalid) is true for it (ivrctl exits
// with 1 on it).
type InvalidError struct {
	Problems []Problem
}

// Error joins the problems one per line.
func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Invalid marks the error as "the flow is invalid" (exit status 1 in ivrctl).
func (e *InvalidError) Invalid() bool { return true }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Unwrap exposes each problem as an error.
func (e *InvalidError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// newInvalid sorts problems and wraps them, or returns nil when there are none.
func newInvalid(probs []Problem) error {
	if len(probs) == 0 {
		return nil
	}
	sorted := append([]Problem(nil), probs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].File != sorted[j].File {
			return sorted[i].File < sorted[j].File
		}
		return sorted[i].Line < sorted[j].Line
	})
	return &InvalidError{Problems: sorted}
}
