package ivrtest_test

import (
	"context"
	"fmt"

	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

func ExampleChannel() {
	f, err := flows.Parse("hello.yaml", []byte(`name: hello
start: hello
nodes:
  hello: {kind: play, prompt: hello.wav, next: bye}
  bye: {kind: hangup}
`), flows.Options{SkipPromptCheck: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	log := &ivrtest.CallLog{}
	eng := ivr.NewEngine(ivr.Config{Flows: ivrtest.Flows{"hello": f}, DefaultFlow: "hello", CallLog: log})
	ch := ivrtest.NewChannel("6c1f1c52-1f0e-4d6b-a3f4-2f4f1d1e9b10", "5551001", "7000", nil)
	done := make(chan struct{})
	go func() { defer close(done); eng.Handle(context.Background(), ch) }()

	fmt.Println((<-ch.Sends()).App) // answer: its completion is not waited for
	play := <-ch.Sends()
	fmt.Println(play.App, play.Arg)
	ch.Complete(play)
	hangup := <-ch.Sends()
	fmt.Println(hangup.App, hangup.Arg)
	ch.Hangup("NORMAL_CLEARING")
	<-done
	es := log.ByCall(ch.UUID())
	last := es[len(es)-1]
	fmt.Println(last.Kind, last.Fields["path"], last.Fields["outcome"])
	// Output:
	// answer
	// playback hello.wav
	// hangup NORMAL_CLEARING
	// hangup hello>bye hangup
}
