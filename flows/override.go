package flows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrOverrideRefused is wrapped by every error of (*Override).Parse: the
// Redis value is not something this time node allows, so the runtime ignores
// it (and logs why) and routes by time instead.
var ErrOverrideRefused = errors.New("flows: override refused")

// MaxOverrideBytes caps an override value read from Redis.
const MaxOverrideBytes = 256

// OverrideActions are the actions an override may ever run; a time node's
// Override.Actions is a subset.
var overrideActions = []string{"transfer", "playback", "hangup"}

// OverrideDecision is a parsed, allowed override value: either Goto names a
// node of the flow (fire GotoOutcome(Goto)), or Action (transfer, playback,
// hangup) is executed with Args and the machine fires OutcomeOverride.
type OverrideDecision struct {
	Goto   string
	Action string
	Args   string
}

// Parse checks an override value read from Redis: "goto <node>" or
// "<action> <args>" (e.g. "transfer fifo_hst XML new_sales"). Actions and
// nodes not listed on the time node, control characters (newlines would
// inject sendmsg headers) and characters that FreeSWITCH would expand or split
// on (${}, commas, pipes, quotes...) are refused with ErrOverrideRefused.
func (o *Override) Parse(value string) (OverrideDecision, error) {
	refuse := func(format string, args ...any) (OverrideDecision, error) {
		return OverrideDecision{}, fmt.Errorf("%w: %s", ErrOverrideRefused, fmt.Sprintf(format, args...))
	}
	if len(value) > MaxOverrideBytes {
		return refuse("value is %d bytes long (max %d)", len(value), MaxOverrideBytes)
	}
	if strings.ContainsFunc(value, isControl) {
		return refuse("value contains a control character (newline?)")
	}
	words := strings.Fields(value)
	if len(words) == 0 {
		return refuse("empty value")
	}
	for _, w := range words {
		if !safeOverrideWord(w) {
			return refuse("argument %q has characters outside [A-Za-z0-9_./:@+*#-]", w)
		}
	}
	action, args := words[0], words[1:]
	if action == "goto" {
		if len(args) != 1 {
			return refuse("goto takes exactly one node id, got %d words", len(args))
		}
		if !slices.Contains(o.Nodes, args[0]) {
			return refuse("goto %q: node not allowed here (allowed: %s)", args[0], listOrNone(o.Nodes))
		}
		return OverrideDecision{Goto: args[0]}, nil
	}
	if !slices.Contains(o.Actions, action) {
		return refuse("action %q not allowed here (allowed: %s)", action, listOrNone(o.Actions))
	}
	switch action {
	case "transfer":
		if len(args) < 1 || len(args) > 3 {
			return refuse("transfer takes <dest> [<dialplan> [<context>]], got %d words", len(args))
		}
	case "playback":
		if len(args) != 1 {
			return refuse("playback takes one file, got %d words", len(args))
		}
		if strings.Contains(args[0], "..") {
			return refuse("playback file %q must not contain ..", args[0])
		}
		if !o.AllowRemotePrompts && (strings.Contains(args[0], "://") || strings.HasPrefix(args[0], "/")) {
			return refuse("playback file %q must be a prompt path relative to the sounds (set allow_remote_prompts on the override for URLs and absolute paths)", args[0])
		}
	case "hangup":
		if len(args) > 1 || len(args) == 1 && !isCause(args[0]) {
			return refuse("hangup takes at most one cause such as NORMAL_CLEARING")
		}
	}
	return OverrideDecision{Action: action, Args: strings.Join(args, " ")}, nil
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func safeOverrideWord(w string) bool {
	for _, r := range w {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_./:@+*#-", r):
		default:
			return false
		}
	}
	return true
}

// isCause reports whether s looks like a FreeSWITCH hangup cause (USER_BUSY).
func isCause(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
