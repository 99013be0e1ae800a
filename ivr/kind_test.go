package ivr_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/crm/crmtest"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/flows"
)

// A prefetch may be called anything, "hangup" included: its result is a crm
// entry naming the prefetch, never an entry of kind hangup that would end the
// call's summary early (issue 8, the live bug).
const prefetchNamedHangup = `name: pfhangup
start: welcome
prefetch:
  hangup: {kind: crm, key: "${caller_id}", timeout: 1s}
nodes:
  welcome: {kind: play, prompt: test/ok.wav, next: wait}
  wait: {kind: wait_for, prefetch: hangup, timeout: 1s, require: [extension], ready: found, missing: bye}
  found: {kind: play, prompt: "test/${hangup.extension}.wav", next: bye}
  bye: {kind: hangup}
`

func TestPrefetchNamedHangupIsACRMEntry(t *testing.T) {
	f, err := flows.Parse("pfhangup.yaml", []byte(prefetchNamedHangup), flows.Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	h := startIVR(t, harnessOpts{flows: singleFlow{"pfhangup": f}})
	c, es := h.call(t, esltest.Script{CallerIDNumber: "5551001", Vars: map[string]string{"ivr_flow": "pfhangup"}}, false)
	wantApps(t, c, "answer", "playback test/ok.wav", "playback test/1001.wav", "hangup NORMAL_CLEARING")

	var hangups []calllog.Entry
	for _, e := range es {
		if e.Kind == calllog.KindHangup {
			hangups = append(hangups, e)
		}
	}
	if len(hangups) != 1 {
		t.Fatalf("%d hangup entries, want exactly 1: %+v", len(hangups), es)
	}
	hu := lastHangup(t, es)
	if got := hu.Fields["path"]; got != strings.Join([]string{"welcome", "wait", "found", "bye"}, calllog.PathSeparator) {
		t.Fatalf("path %q", got)
	}
	if hu.Fields["outcome"] != "hangup" {
		t.Fatalf("outcome %q, want hangup", hu.Fields["outcome"])
	}
	pf, ok := entry(es, calllog.KindCRM)
	if !ok || pf.Fields["prefetch"] != "hangup" || pf.Value != "ok" || pf.Fields["extension"] != "1001" {
		t.Fatalf("prefetch result entry %+v, want kind crm naming prefetch hangup", pf)
	}
}

// A menu that leads back to itself replays (looplab/fsm has no
// self-transition; the session re-enters the node) and the path shows it twice.
func TestMenuTargetingItselfReplays(t *testing.T) {
	f, err := flows.Parse("self.yaml", []byte(`name: self
start: main_menu
nodes:
  main_menu:
    kind: menu
    prompt: test/ok.wav
    choices: {"1": bye, "9": main_menu}
    on_fail: bye
  bye: {kind: hangup}
`), flows.Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	h := startIVR(t, harnessOpts{flows: singleFlow{"self": f}})
	c, es := h.call(t, esltest.Script{CallerIDNumber: "5551001", Vars: map[string]string{"ivr_flow": "self"}, Digits: []string{"9", "1"}}, false)
	menu := "play_and_get_digits 1 1 3 5000 # test/ok.wav silence_stream://250 main_menu ^(1|9)$"
	wantApps(t, c, "answer", menu, menu, "hangup NORMAL_CLEARING")
	if p := lastHangup(t, es).Fields["path"]; p != "main_menu>main_menu>bye" {
		t.Fatalf("path %q", p)
	}
}

// Issue 16 item 4: a prompt built from data plays the node's fallback when
// its file is absent from the sounds.
func TestPromptFromDataFallsBack(t *testing.T) {
	f, err := flows.Parse("fb.yaml", []byte(`name: fb
start: wait
prefetch:
  crm: {kind: crm, key: "${caller_id}", timeout: 1s}
nodes:
  wait: {kind: wait_for, prefetch: crm, timeout: 1s, ready: hello, missing: hello}
  hello: {kind: play, prompt: "test/8${crm.extension}.wav", fallback_prompt: test/generic.wav, next: bye}
  bye: {kind: hangup}
`), flows.Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings for a prompt with a fallback: %v", f.Warnings)
	}
	sounds := fstest.MapFS{"test/81001.wav": {Data: []byte("RIFF")}, "test/generic.wav": {Data: []byte("RIFF")}}
	h := startIVR(t, harnessOpts{flows: singleFlow{"fb": f}, sounds: sounds})
	h.crm.Set("5551009", crmtest.Answer{Extension: "1009"})
	vars := map[string]string{"ivr_flow": "fb"}
	c, _ := h.call(t, esltest.Script{CallerIDNumber: "5551001", Vars: vars}, false)
	wantApps(t, c, "answer", "playback test/81001.wav", "hangup NORMAL_CLEARING")
	c, _ = h.call(t, esltest.Script{CallerIDNumber: "5551009", Vars: vars}, false)
	wantApps(t, c, "answer", "playback test/generic.wav", "hangup NORMAL_CLEARING")
}
