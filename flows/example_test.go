package flows_test

import (
	"fmt"

	"github.com/fsivr/fsivr/flows"
)

func ExampleParse() {
	src := `
name: confirm
start: ask
nodes:
  ask:
    kind: menu
    prompt: notify/confirm.wav
    choices:
      "1": yes
      "2": no
    on_fail: no
  "yes":
    kind: set
    vars: {result: confirmed}
    next: bye
  "no":
    kind: set
    vars: {result: refused}
    next: bye
  bye:
    kind: hangup
`
	f, err := flows.Parse("confirm.yaml", []byte(src), flows.Options{SkipPromptCheck: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Nodes["ask"].Menu.Args("notify/confirm.wav", ""))
	for _, e := range f.Edges() {
		fmt.Printf("%-8s %s -> %s\n", e.Outcome, e.From, e.To)
	}
	// Output:
	// 1 1 3 5000 # notify/confirm.wav silence_stream://250 ask ^(1|2)$
	// choice:1 ask -> yes
	// choice:2 ask -> no
	// failed   ask -> no
	// done     yes -> bye
	// done     no -> bye
	// done     bye -> end
}

func ExampleParse_invalid() {
	src := `
name: typo
start: hello
nodes:
  hello:
    kind: play
    promt: hello.wav
    next: nowhere
`
	_, err := flows.Parse("flows/typo.yaml", []byte(src), flows.Options{SkipPromptCheck: true})
	fmt.Println(err)
	// Output:
	// flows/typo.yaml:5: node "hello": missing required field "prompt"
	// flows/typo.yaml:7: node "hello": unknown field "promt" in a play node (did you mean "prompt"?) (allowed: fallback_prompt, kind, log, next, prompt, prompts)
	// flows/typo.yaml:8: node "hello": unknown target "nowhere" in next
}
