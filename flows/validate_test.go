package flows

import (
	"errors"
	"strings"
	"testing"
)

// wrap puts nodes (indented by 2) under a minimal flow whose start is "a"
// and which has a hangup node "bye". Line 1 is "name: t"; the first node
// line is line 9.
func wrap(nodes string) string {
	return "name: t\nstart: a\nprefetch:\n  crm:\n    kind: crm\n    key: \"${caller_id}\"\n    timeout: 1s\nnodes:\n" + nodes + "  bye:\n    kind: hangup\n"
}

func TestValidationInline(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"choice too long", wrap("  a:\n    kind: menu\n    prompt: test/ok.wav\n    choices: {\"12\": bye}\n    on_fail: bye\n"),
			`:12: node "a": choice "12" can never be entered: the menu takes 1 to 1 digits`},
		{"choice with terminator", wrap("  a:\n    kind: menu\n    prompt: test/ok.wav\n    choices: {\"#\": bye}\n    on_fail: bye\n"),
			`choice "#" contains a terminator key`},
		{"choice not digits", wrap("  a:\n    kind: menu\n    prompt: test/ok.wav\n    choices: {\"x\": bye}\n    on_fail: bye\n"),
			`choice "x" is not a DTMF digit string`},
		{"choice twice", wrap("  a:\n    kind: menu\n    prompt: test/ok.wav\n    choices: {\"1,2\": bye, \"2\": bye}\n    on_fail: bye\n"),
			`choice "2" is given twice`},
		{"choice list form", wrap("  a:\n    kind: menu\n    prompt: test/ok.wav\n    choices:\n      - digits: [1, 2]\n        next: bye\n      - {digits: \"3\", nxt: bye}\n    on_fail: bye\n"),
			`:15: node "a": unknown field "nxt" in a choice`},
		{"menu without on_fail", wrap("  a:\n    kind: menu\n    prompt: test/ok.wav\n    choices: {\"1\": bye}\n"),
			`:9: node "a": missing required field "on_fail"`},
		{"digits range", wrap("  a:\n    kind: collect\n    prompt: test/ok.wav\n    min: 4\n    max: 3\n    var: x\n    next: bye\n    on_fail: bye\n"),
			`need 1 <= min (4) <= max (3)`},
		{"tries", wrap("  a:\n    kind: collect\n    prompt: test/ok.wav\n    tries: 0\n    var: x\n    next: bye\n    on_fail: bye\n"),
			`tries must be between 1 and 20`},
		{"regex with space", wrap("  a:\n    kind: collect\n    prompt: test/ok.wav\n    regex: \"1 2\"\n    var: x\n    next: bye\n    on_fail: bye\n"),
			`must not contain spaces`},
		{"pcre only regex", wrap("  a:\n    kind: collect\n    prompt: test/ok.wav\n    regex: '(?=1)\\d'\n    var: x\n    next: bye\n    on_fail: bye\n"),
			`bad regex`},
		{"collect without var", wrap("  a:\n    kind: collect\n    prompt: test/ok.wav\n    next: bye\n    on_fail: bye\n"),
			`missing required field "var"`},
		{"writes builtin", wrap("  a:\n    kind: set\n    vars: {caller_id: x}\n    next: bye\n"),
			`variable "caller_id" is a built-in`},
		{"set unknown var", wrap("  a:\n    kind: set\n    vars: {x: \"${y}\"}\n    next: bye\n"),
			`:11: node "a": vars.x: unknown variable ${y}`},
		{"bridge no continue", wrap("  a:\n    kind: bridge\n    dial: user/1000\n    continue_on_fail: false\n    on_fail: bye\n"),
			`on_fail is never taken with continue_on_fail: false`},
		{"bridge needs next", wrap("  a:\n    kind: bridge\n    dial: user/1000\n    hangup_after_bridge: false\n    on_fail: bye\n"),
			`missing required field "next"`},
		{"bridge bool", wrap("  a:\n    kind: bridge\n    dial: user/1000\n    continue_on_fail: yes\n    on_fail: bye\n"),
			`"yes" is not true or false`},
		{"dial with space", wrap("  a:\n    kind: bridge\n    dial: user/1000 x\n    on_fail: bye\n"),
			`dial "user/1000 x" must not contain spaces`},
		{"bad template", wrap("  a:\n    kind: transfer\n    dest: \"x${crm.extension\"\n"),
			`unterminated ${`},
		{"hangup with on_fail", wrap("  a:\n    kind: hangup\n    on_fail: bye\n"),
			`a hangup node ends the flow and cannot have on_fail`},
		{"override allows nothing", wrap("  a:\n    kind: time\n    zone: UTC\n    override: {timeout: 1s}\n    rules: [{name: r, next: bye}]\n    default: bye\n"),
			`override allows nothing`},
		{"override bad key", wrap("  a:\n    kind: time\n    zone: UTC\n    override: {key: \"a b\", actions: [hangup]}\n    rules: [{name: r, next: bye}]\n    default: bye\n"),
			`override key "a b"`},
		{"local zone", wrap("  a:\n    kind: time\n    zone: Local\n    rules: [{name: r, next: bye}]\n    default: bye\n"),
			`not the machine's local zone`},
		{"days and dates", wrap("  a:\n    kind: time\n    zone: UTC\n    rules: [{name: r, days: mon, dates: [\"12-25\"], next: bye}]\n    default: bye\n"),
			`use either days or dates`},
		{"bad weekday", wrap("  a:\n    kind: time\n    zone: UTC\n    rules: [{name: r, days: mon-fry, next: bye}]\n    default: bye\n"),
			`unknown weekday "fry"`},
		{"bad date", wrap("  a:\n    kind: time\n    zone: UTC\n    holidays: [{dates: [\"2026-02-30\"], next: bye}]\n    default: bye\n"),
			`date "2026-02-30" is not YYYY-MM-DD or MM-DD`},
		{"rule name twice", wrap("  a:\n    kind: time\n    zone: UTC\n    rules: [{name: r, next: bye}, {name: r, next: bye}]\n    default: bye\n"),
			`rule name "r" is used twice`},
		{"time without rules", wrap("  a:\n    kind: time\n    zone: UTC\n    default: bye\n"),
			`a time node needs rules`},
		{"bad clock", wrap("  a:\n    kind: time\n    zone: UTC\n    rules: [{name: r, from: \"9\", next: bye}]\n    default: bye\n"),
			`from: time "9" is not HH:MM`},
		{"require unknown field", wrap("  a:\n    kind: wait_for\n    prefetch: crm\n    timeout: 1s\n    require: [extn]\n    ready: bye\n    missing: bye\n"),
			`prefetch "crm" has no field "extn"`},
		{"reserved id", wrap("  a:\n    kind: play\n    prompt: test/ok.wav\n    next: done\n  done:\n    kind: hangup\n"),
			`node id "done" is an outcome name`},
		{"end id", wrap("  a:\n    kind: play\n    prompt: test/ok.wav\n    next: bye\n  end:\n    kind: hangup\n"),
			`node id "end" is reserved`},
		{"prompt with dots", wrap("  a:\n    kind: play\n    prompt: ../secret.wav\n    next: bye\n"),
			`must not contain ..`},
		{"prompt and prompts", wrap("  a:\n    kind: play\n    prompt: test/ok.wav\n    prompts: [test/ok.wav]\n    next: bye\n"),
			`use either prompt or prompts`},
		{"node not a mapping", wrap("  a: play\n"),
			`:9: node "a": a node must be a mapping`},
		{"no kind", wrap("  a:\n    prompt: test/ok.wav\n"),
			`:9: node "a": missing required field "kind"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.src), Options{SoundsDir: testSounds})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant an *InvalidError containing %q", err, tt.want)
			}
		})
	}
}

func TestFlowLevelProblems(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "t.yaml: empty flow file"},
		{"- a\n- b\n", "t.yaml:1: the flow file must be a mapping"},
		{"name: t\nstart: a\n", `t.yaml:1: missing required field "nodes"`},
		{"name: t\nstart: a\nnodes: {}\n", "the flow has no nodes"},
		{"name: t b\nstart: a\nnodes:\n  a: {kind: hangup}\n", `t.yaml:1: flow name "t b"`},
		{"name: t\nstart: a\nversion: 2\nnodes:\n  a: {kind: hangup}\n", `t.yaml:3: unknown field "version" in the flow file`},
		{"name: t\nstart: a\nprefetch:\n  crm: {kind: ldap, key: x, timeout: 1s}\nnodes:\n  a: {kind: hangup}\n", `unknown kind "ldap"`},
		{"name: t\nstart: a\nprefetch:\n  crm: {kind: crm, key: \"${crm.name}\", timeout: 1s}\nnodes:\n  a: {kind: hangup}\n", `key may only use call variables`},
		{"name: t\nstart: a\nprefetch:\n  crm: {kind: crm, key: x}\nnodes:\n  a: {kind: hangup}\n", `t.yaml:4: missing required field "timeout"`},
	}
	for _, tt := range tests {
		_, err := Parse("t.yaml", []byte(tt.src), Options{SkipPromptCheck: true})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v\nwant %q", tt.src, err, tt.want)
		}
	}
}

func TestAnchorsAndDefaults(t *testing.T) {
	src := `
name: t
start: a
nodes:
  a:
    kind: menu
    prompt: test/ok.wav
    choices: &c {"1": b, "2": bye}
    on_fail: bye
  b:
    kind: menu
    prompt: test/ok.wav
    terminators: none
    choices: {"1": a, "#": bye}
    on_fail: bye
  bye:
    kind: hangup
`
	f, err := Parse("t.yaml", []byte(src), Options{SoundsDir: testSounds})
	if err != nil {
		t.Fatal(err)
	}
	a := f.Nodes["a"].Menu
	if a.Min != 1 || a.Max != 1 || a.Tries != DefaultMenuTries || a.Timeout != DefaultMenuTimeout || a.Terminators != "#" || a.Var != "a" {
		t.Errorf("menu defaults = %+v", a)
	}
	if f.Nodes["bye"].Hangup.Cause != DefaultHangupCause {
		t.Errorf("hangup default cause = %q", f.Nodes["bye"].Hangup.Cause)
	}
	if got := f.Nodes["b"].Menu.Regex; got != `^(1|\#)$` && got != `^(1|#)$` {
		t.Errorf("derived regex = %q", got)
	}
}
