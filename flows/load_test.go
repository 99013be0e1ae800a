package flows

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var testSounds = filepath.Join("testdata", "sounds")

func TestBrokenFlows(t *testing.T) {
	tests := []struct {
		file string
		line int
		node string
		want string
	}{
		{"unknown_kind.yaml", 5, "welcome", `unknown node kind "playback"`},
		{"unknown_field.yaml", 7, "welcome", `unknown field "nxt" in a play node (did you mean "next"?)`},
		{"missing_field.yaml", 4, "welcome", `missing required field "next"`},
		{"unknown_target.yaml", 9, "main_menu", `unknown target "nowhere"`},
		{"unreachable.yaml", 8, "orphan", `unreachable from start node "welcome"`},
		{"missing_prompt.yaml", 8, "welcome", `prompt "test/missing.wav": file not found`},
		{"unknown_var.yaml", 11, "call", `unknown variable ${crm.extn}`},
		{"inputless_cycle.yaml", 4, "welcome", `loop without caller input (welcome -> again -> welcome)`},
		{"bad_regex.yaml", 9, "ext", `bad regex "[68\\d\\d"`},
		{"bad_window.yaml", 10, "hours", `window 20:00-08:00 is empty or crosses midnight`},
		{"bad_zone.yaml", 6, "hours", `unknown time zone "Mars/Olympus_Mons"`},
		{"override_goto.yaml", 9, "hours", `unknown target "main_menu" in override goto`},
		{"override_action.yaml", 8, "hours", `override action "bridge" is not allowed`},
		{"choice_outside.yaml", 10, "main_menu", `choice "6" can never be entered: regex [1-5] rejects it`},
		{"terminal_next.yaml", 8, "out", `a transfer node ends the flow and cannot have next`},
		{"yaml_syntax.yaml", 5, "", `YAML syntax: did not find expected ',' or ']'`},
		{"duplicate_key.yaml", 8, "welcome", `duplicate key "next" (first at line 7)`},
		{"self_loop.yaml", 4, "welcome", `loop without caller input (welcome -> welcome)`},
		{"bad_duration.yaml", 7, "main_menu", `"5 seconds" is not a positive Go duration`},
		{"undeclared_prefetch.yaml", 6, "wait", `prefetch "crm" is not declared`},
		{"bad_start.yaml", 2, "", `start node "welcom" does not exist (did you mean "welcome"?)`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			path := filepath.Join("testdata", "broken", tt.file)
			f, err := Load(path, Options{SoundsDir: testSounds})
			if f != nil || err == nil {
				t.Fatalf("Load(%s) = %v, nil; want an error", tt.file, f)
			}
			var inv *InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, ErrInvalid) || !inv.Invalid() {
				t.Fatalf("error %T is not an *InvalidError: %v", err, err)
			}
			if len(inv.Problems) != 1 {
				t.Errorf("want exactly 1 problem, got %d:\n%v", len(inv.Problems), err)
			}
			prefix := path + ":" + itoa(tt.line) + ": "
			if tt.node != "" {
				prefix += `node "` + tt.node + `": `
			}
			msg := inv.Problems[0].Error()
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
				t.Errorf("got  %s\nwant prefix %q containing %q", msg, prefix, tt.want)
			}
		})
	}
	// Every broken file is in the table (multi.yaml has its own test).
	files, _ := filepath.Glob(filepath.Join("testdata", "broken", "*.yaml"))
	for _, f := range files {
		if b := filepath.Base(f); !seen[b] && b != "multi.yaml" {
			t.Errorf("%s has no table entry", b)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestAllProblemsReported(t *testing.T) {
	path := filepath.Join("testdata", "broken", "multi.yaml")
	_, err := Load(path, Options{SoundsDir: testSounds})
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want *InvalidError, got %v", err)
	}
	want := []string{
		path + `:12: node "menu1": unknown target "nowhere"`,
		path + `:14: node "menu1": unknown field "colour"`,
		path + `:17: node "bye": cause "lunch"`,
	}
	if len(inv.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(inv.Problems), len(want), err)
	}
	for i, w := range want {
		if got := inv.Problems[i].Error(); !strings.HasPrefix(got, w) {
			t.Errorf("problem %d = %s\nwant prefix %s", i, got, w)
		}
	}
	if len(inv.Unwrap()) != 3 || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("Unwrap/Error do not list the 3 problems: %q", err.Error())
	}
}

// sandboxSounds makes a sounds dir holding an empty file for every static
// prompt of the flows and the directory of every templated one.
func sandboxSounds(t *testing.T, flows ...*Flow) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range flows {
		prompts := f.Prompts()
		for _, id := range f.Order {
			if fb := f.Nodes[id].FallbackPrompt.Raw; fb != "" {
				prompts = append(prompts, fb)
			}
		}
		for _, p := range prompts {
			full := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(p, "${") {
				continue
			}
			if err := os.WriteFile(full, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestShippedFlowsLoadClean(t *testing.T) {
	all, err := LoadDir(".", Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	for _, name := range []string{"sales", "notify"} {
		if all[name] == nil {
			t.Fatalf("flow %q not loaded (have %v)", name, all)
		}
	}
	// Now with the prompt check, against a sandbox holding exactly the
	// prompts the flows name.
	sounds := sandboxSounds(t, all["sales"], all["notify"])
	again, err := LoadDir(".", Options{SoundsDir: sounds})
	if err != nil {
		t.Fatalf("LoadDir with prompts: %v", err)
	}
	if again["sales"].Version != all["sales"].Version {
		t.Errorf("version changed between loads of the same bytes")
	}
	// Removing one prompt makes it invalid.
	if err := os.Remove(filepath.Join(sounds, "new_sales", "9003.wav")); err != nil {
		t.Fatal(err)
	}
	_, err = Load("sales.yaml", Options{SoundsDir: sounds})
	if err == nil || !strings.Contains(err.Error(), `node "bad_input": prompt "new_sales/9003.wav": file not found`) {
		t.Errorf("missing 9003.wav not reported: %v", err)
	}
}

// TestShippedFlowsAgainstRealSounds checks the prompts against the sounds
// directory of the repository, once the sound files exist.
func TestShippedFlowsAgainstRealSounds(t *testing.T) {
	real := filepath.Join("..", "sounds")
	if _, err := os.Stat(filepath.Join(real, "new_sales")); err != nil {
		t.Skip("sounds/new_sales not made yet")
	}
	if _, err := LoadDir(".", Options{}); err != nil {
		t.Fatalf("shipped flows against %s: %v", real, err)
	}
}

func TestSalesPrompts(t *testing.T) {
	f, err := Load("sales.yaml", Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"new_sales/1000.wav", "new_sales/1001.wav", "new_sales/9004.wav", "new_sales/1002.wav",
		"new_sales/2002.wav", "new_sales/8${cc_extension}.wav", "new_sales/9003.wav",
	}
	if got := f.Prompts(); !slices.Equal(got, want) {
		t.Errorf("Prompts() = %v\nwant %v", got, want)
	}
}

func hasTransition(edges []Edge, name Outcome, src, dst string) bool {
	return slices.Contains(edges, Edge{From: src, Outcome: name, To: dst})
}

func TestSalesCompiled(t *testing.T) {
	f, err := Load("sales.yaml", Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "sales" || f.Start != "welcome" || len(f.Version) != 12 {
		t.Errorf("name/start/version = %q %q %q", f.Name, f.Start, f.Version)
	}
	transitions := []struct {
		name     Outcome
		src, dst string
	}{
		{OutcomeDone, "welcome", "office_hours"},
		{RuleOutcome("Workday"), "office_hours", "main_menu"},
		{RuleOutcome("Weekend"), "office_hours", "main_menu"},
		{RuleOutcome("Evening"), "office_hours", "transfer_hst"},
		{OutcomeDefault, "office_hours", "transfer_cellphone"},
		{OutcomeOverride, "office_hours", StateEnd},
		{GotoOutcome("main_menu"), "office_hours", "main_menu"},
		{ChoiceOutcome("1"), "main_menu", "transfer_hst"},
		{ChoiceOutcome("2"), "main_menu", "wait_crm"},
		{ChoiceOutcome("3"), "main_menu", "wait_crm"},
		{ChoiceOutcome("4"), "main_menu", "wait_crm"},
		{ChoiceOutcome("5"), "main_menu", "collect_extn"},
		{OutcomeFailed, "main_menu", "bad_input"},
		{OutcomeReady, "wait_crm", "set_cc_from_crm"},
		{OutcomeMissing, "wait_crm", "transfer_sales"},
		{OutcomeDone, "set_cc_from_crm", "bridge_cc"},
		{OutcomeFailed, "bridge_cc", "cc_failure"},
		{OutcomeDone, "bridge_cc", StateEnd},
		{OutcomeDone, "collect_extn", "set_cc_from_extn"},
		{OutcomeFailed, "collect_extn", "bad_input"},
		{OutcomeDone, "set_cc_from_extn", "bridge_extn"},
		{OutcomeFailed, "bridge_extn", "cc_failure"},
		{OutcomeDone, "cc_failure", "cc_menu"},
		{ChoiceOutcome("1"), "cc_menu", "transfer_playcell"},
		{ChoiceOutcome("2"), "cc_menu", "transfer_vm"},
		{OutcomeFailed, "cc_menu", "transfer_quit"},
		{OutcomeDone, "bad_input", "goodbye"},
		{OutcomeDone, "goodbye", StateEnd},
		{OutcomeDone, "transfer_hst", StateEnd},
	}
	for _, tr := range transitions {
		if !hasTransition(f.Edges(), tr.name, tr.src, tr.dst) {
			t.Errorf("missing transition %s --%s--> %s", tr.src, tr.name, tr.dst)
		}
	}
	// One edge per (node, outcome).
	type key struct {
		from string
		o    Outcome
	}
	seen := map[key]bool{}
	for _, e := range f.Edges() {
		if seen[key{e.From, e.Outcome}] {
			t.Errorf("edge %s --%s--> listed twice", e.From, e.Outcome)
		}
		seen[key{e.From, e.Outcome}] = true
	}

	// Node details the runtime relies on.
	mm := f.Nodes["main_menu"].Menu
	if got := mm.Args("new_sales/1001.wav", "new_sales/9004.wav"); got != "1 1 3 5000 # new_sales/1001.wav new_sales/9004.wav menu_number [1-5]" {
		t.Errorf("main menu args = %q", got)
	}
	ce := f.Nodes["collect_extn"].Menu
	if got := ce.Args("new_sales/2002.wav", "new_sales/9004.wav"); got != `3 3 3 5000 # new_sales/2002.wav new_sales/9004.wav extn_number [68]\d\d` {
		t.Errorf("collect args = %q", got)
	}
	cc := f.Nodes["cc_menu"].Menu
	if got := cc.Args("new_sales/8601.wav", "new_sales/9004.wav"); got != "1 1 2 5000 # new_sales/8601.wav new_sales/9004.wav cc_menu_number [12]" {
		t.Errorf("cc menu args = %q", got)
	}
	b := f.Nodes["bridge_cc"].Bridge
	if b.Ringback != "${us-ring}" || !b.ContinueOnFail || !b.HangupAfterBridge || b.Prompt == nil || b.Prompt.Raw != "new_sales/1002.wav" {
		t.Errorf("bridge_cc = %+v", b)
	}
	tr := f.Nodes["transfer_hst"].Transfer
	if tr.Dest.Raw != "fifo_hst" || tr.Dialplan != "XML" || tr.Context != "new_sales" {
		t.Errorf("transfer_hst = %+v", tr)
	}
	crm := f.Prefetch["crm"]
	if crm.Default != "00000000" || crm.Key.Raw != "${caller_id}" || crm.Timeout.String() != "1.5s" {
		t.Errorf("crm prefetch = %+v", crm)
	}
	ov := f.Nodes["office_hours"].Time.Override
	if ov.Key != "fsivr:override:sales" || !slices.Equal(ov.Actions, []string{"transfer", "playback", "hangup"}) {
		t.Errorf("override = %+v", ov)
	}
	if f.Nodes["office_hours"].Time.Zone.String() != "America/New_York" {
		t.Errorf("zone = %v", f.Nodes["office_hours"].Time.Zone)
	}
	w := f.Nodes["wait_crm"].WaitFor
	if w.Prefetch != "crm" || !slices.Equal(w.Require, []string{"extension"}) {
		t.Errorf("wait_for = %+v", w)
	}
}

func TestNotifyCompiled(t *testing.T) {
	f, err := Load("notify.yaml", Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []struct {
		name     Outcome
		src, dst string
	}{
		{ChoiceOutcome("1"), "message", "confirmed"},
		{ChoiceOutcome("2"), "message", "repeat"},
		{OutcomeDone, "repeat", "message"},
		{OutcomeFailed, "message", "no_response"},
		{OutcomeDone, "confirmed", "thanks"},
		{OutcomeDone, "no_response", "goodbye_prompt"},
		{OutcomeDone, "thanks", "hangup_call"},
		{OutcomeDone, "hangup_call", StateEnd},
	} {
		if !hasTransition(f.Edges(), tr.name, tr.src, tr.dst) {
			t.Errorf("missing transition %s --%s--> %s", tr.src, tr.name, tr.dst)
		}
	}
	set := f.Nodes["confirmed"].Set
	if len(set) != 1 || set[0].Var != "notify_result" || set[0].Value.Raw != "confirmed" || !set[0].Channel {
		t.Errorf("confirmed set = %+v", set)
	}
	// The derived regex lets FreeSWITCH reject other keys itself.
	if got := f.Nodes["message"].Menu.Regex; got != "^(1|2)$" {
		t.Errorf("derived regex = %q", got)
	}
	want := []string{"notify/1000.wav", "notify/9004.wav", "notify/1001.wav", "notify/1002.wav"}
	if got := f.Prompts(); !slices.Equal(got, want) {
		t.Errorf("Prompts() = %v, want %v", got, want)
	}
}

func TestDuplicateFlowNames(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("notify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, n), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LoadDir(dir, Options{SkipPromptCheck: true})
	if err == nil || !strings.Contains(err.Error(), `b.yaml:3: flow name "notify" is already used by`) {
		t.Errorf("duplicate name not reported: %v", err)
	}
	if got["notify"] == nil || got["notify"].File != filepath.Join(dir, "a.yaml") {
		t.Errorf("the first valid flow should still be returned: %v", got)
	}
}
