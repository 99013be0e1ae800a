package callcenter

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Any in an agent or queue list stands for every agent or queue (a
// wallboard's subscription, an admin token).
const Any = "*"

// maxScopeName bounds one agent or queue name in a scope, maxScopeNames
// the names in one list (a subscriber's memory grows with them).
const (
	maxScopeName  = 80
	maxScopeNames = 5000
)

// ErrBadScope reports an agent or queue list that cannot be used.
var ErrBadScope = errors.New("callcenter: bad agent or queue list")

// Scope is a list of agents and a list of queues: what a subscription
// asks for, or what a token may see and command.
type Scope struct {
	Agents []string
	Queues []string
}

// ParseScope reads comma-separated agent and queue lists (the agents= and
// queues= query parameters). Names are checked: no control characters,
// commas, pipes or spaces, at most 80 bytes.
func ParseScope(agents, queues string) (Scope, error) {
	var s Scope
	var err error
	if s.Agents, err = parseList(agents); err != nil {
		return Scope{}, fmt.Errorf("agents: %w", err)
	}
	if s.Queues, err = parseList(queues); err != nil {
		return Scope{}, fmt.Errorf("queues: %w", err)
	}
	return s, nil
}

func parseList(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) > maxScopeNames {
		return nil, fmt.Errorf("%w: %d names, at most %d", ErrBadScope, len(parts), maxScopeNames)
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range parts {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if err := CheckName(n); err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// CheckName validates an agent, queue or similar name that may reach an
// AMI header or a dial string.
func CheckName(n string) error {
	if n == "" || len(n) > maxScopeName {
		return fmt.Errorf("%w: %q: empty or longer than %d bytes", ErrBadScope, clip(n), maxScopeName)
	}
	if strings.ContainsAny(n, ",|; \t\r\n\x00") {
		return fmt.Errorf("%w: %q: contains a separator or control character", ErrBadScope, clip(n))
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q: control character", ErrBadScope, clip(n))
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v || x == Any {
			return true
		}
	}
	return false
}

// Allows is pbxis's filter rule: the event reaches the scope iff each
// scope property the event has (agent, queue) is in the matching list. An
// event with no scope property reaches every scope.
func (s Scope) Allows(e *Event) bool {
	if e.HasAgentScope() && !contains(s.Agents, e.Agent) {
		return false
	}
	if e.HasQueueScope() && !contains(s.Queues, e.Queue) {
		return false
	}
	return true
}

// Within reports whether every agent and queue of s is allowed by a (a
// token's scope); the first name that is not is returned.
func (s Scope) Within(a Scope) (bool, string) {
	for _, x := range s.Agents {
		if x == Any && !contains2(a.Agents, Any) || !contains(a.Agents, x) {
			return false, "agent " + x
		}
	}
	for _, x := range s.Queues {
		if x == Any && !contains2(a.Queues, Any) || !contains(a.Queues, x) {
			return false, "queue " + x
		}
	}
	return true, ""
}

func contains2(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// String is "agents=a,b queues=q" (for log lines).
func (s Scope) String() string {
	return "agents=" + strings.Join(s.Agents, ",") + " queues=" + strings.Join(s.Queues, ",")
}
