package flows

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestEveryKindHasACompiler fails when a kind is declared (Kinds) without an
// entry in the kinds table, or the table has a kind Kinds does not list.
// ivr has the twin test for its runners.
func TestEveryKindHasACompiler(t *testing.T) {
	for _, k := range Kinds() {
		spec, ok := kinds[k]
		if !ok || spec.compile == nil {
			t.Errorf("kind %q has no compiler in the kinds table", k)
		}
	}
	for k := range kinds {
		if !slices.Contains(Kinds(), k) {
			t.Errorf("kind %q is in the kinds table but not in Kinds()", k)
		}
	}
}

// A node may lead back to itself: that was only a limit of the state machine
// library, which the runtime handles. A menu that replays itself on "9" waits
// for the caller each time, so it is no input-less loop.
func TestNodeMayTargetItself(t *testing.T) {
	src := `name: self_target
start: main_menu
nodes:
  main_menu:
    kind: menu
    prompt: test/ok.wav
    choices:
      "1": bye
      "9": main_menu
    on_fail: bye
  bye:
    kind: hangup
`
	f, err := Parse("self_target.yaml", []byte(src), Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatalf("a menu that targets itself is refused: %v", err)
	}
	if !slices.Contains(f.Edges(), Edge{From: "main_menu", Outcome: ChoiceOutcome("9"), To: "main_menu"}) {
		t.Fatalf("self edge missing: %v", f.Edges())
	}
}

// Prompts are checked in the fs.FS the caller gives: Parse opens no file of
// its own.
func TestPromptsCheckedInTheGivenFS(t *testing.T) {
	src := []byte(`name: fsflow
start: hello
nodes:
  hello: {kind: play, prompts: [lang/hello.wav, "lang/x${caller_id}.wav"], next: bye}
  bye: {kind: hangup}
`)
	sounds := fstest.MapFS{"lang/hello.wav": {Data: []byte("RIFF")}}
	if _, err := Parse("fs.yaml", src, Options{Sounds: sounds}); err != nil {
		t.Fatalf("prompt present in the FS: %v", err)
	}
	_, err := Parse("fs.yaml", src, Options{Sounds: fstest.MapFS{"other/x.wav": {}}})
	if err == nil || !strings.Contains(err.Error(), `prompt "lang/hello.wav": file not found`) ||
		!strings.Contains(err.Error(), `directory "lang" not found`) {
		t.Fatalf("prompt absent from the FS: %v", err)
	}
	_, err = Parse("fs.yaml", src, Options{})
	if err == nil || !strings.Contains(err.Error(), "no sounds directory given") {
		t.Fatalf("Parse without sounds: %v", err)
	}
}

// Issue 16 item 4: the validator warns about a prompt built from data
// without a fallback_prompt (the flow stays valid).
func TestTemplatedPromptWithoutFallbackWarns(t *testing.T) {
	f, err := Parse("w.yaml", []byte(`name: w
start: hello
nodes:
  hello: {kind: play, prompt: "lang/x${caller_id}.wav", next: bye}
  bye: {kind: hangup}
`), Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0].Error(), `w.yaml:4: node "hello": prompt "lang/x${caller_id}.wav" is built from data and has no fallback_prompt`) {
		t.Fatalf("warnings %v", f.Warnings)
	}
	sales, err := Load("sales.yaml", Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(sales.Warnings) != 0 {
		t.Errorf("the shipped sales flow has warnings: %v", sales.Warnings)
	}
}
