package ivr_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

// Event orderings through the in-memory channel: the test plays
// FreeSWITCH and puts events in the orders a real switch can produce.

const orderFlow = `name: order
start: welcome
nodes:
  welcome: {kind: play, prompt: test/ok.wav, next: menu}
  menu:
    kind: menu
    prompt: test/ok.wav
    choices: {"1": bye}
    on_fail: bye
  bye: {kind: hangup}
`

type memCall struct {
	ch   *ivrtest.Channel
	log  *ivrtest.CallLog
	done chan struct{}
}

func startMemCall(t *testing.T) *memCall {
	t.Helper()
	f, err := flows.Parse("order.yaml", []byte(orderFlow), flows.Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	c := &memCall{
		ch:   ivrtest.NewChannel("3f0c9a57-8a6e-4c1b-9d2e-1a2b3c4d5e6f", "5551001", "7000", nil),
		log:  &ivrtest.CallLog{},
		done: make(chan struct{}),
	}
	eng := ivr.NewEngine(ivr.Config{Flows: ivrtest.Flows{"order": f}, DefaultFlow: "order", CallLog: c.log})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { defer close(c.done); eng.Handle(ctx, c.ch) }()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func (c *memCall) next(t *testing.T, want string) ivrtest.Sent {
	t.Helper()
	select {
	case s := <-c.ch.Sends():
		if got := strings.TrimSpace(s.App + " " + s.Arg); got != want {
			t.Fatalf("sent %q, want %q", got, want)
		}
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing sent; want %q (sent so far: %q)", want, c.ch.Commands())
	}
	return ivrtest.Sent{}
}

func (c *memCall) entries(t *testing.T) []calllog.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	es, err := c.log.WaitHangup(ctx, c.ch.UUID())
	if err != nil {
		t.Fatal(err)
	}
	return es
}

const orderMenu = "play_and_get_digits 1 1 3 5000 # test/ok.wav silence_stream://250 menu ^(1)$"

// A completion with someone else's Application-UUID (an app the dialplan
// ran, a decoy) does not move the flow; ours does.
func TestCompletionOfAnotherAppIsIgnored(t *testing.T) {
	c := startMemCall(t)
	c.next(t, "answer")
	play := c.next(t, "playback test/ok.wav")
	c.ch.Complete(ivrtest.Sent{App: "playback", Arg: "test/ok.wav", UUID: "not-ours"})
	c.ch.Complete(play)
	menu := c.next(t, orderMenu)
	c.ch.Complete(menu, "variable_menu", "1", "variable_read_result", "success")
	c.next(t, "hangup NORMAL_CLEARING")
	c.ch.Hangup("NORMAL_CLEARING")
	if p := c.entries(t)[len(c.entries(t))-1].Fields["path"]; p != "welcome>menu>bye" {
		t.Fatalf("path %q", p)
	}
}

// The app's completion and the hangup in one batch: FreeSWITCH ends the
// playback because the caller hung up. Nothing is sent after the hangup.
func TestCompletionThenHangupInOneBatchSendsNothing(t *testing.T) {
	c := startMemCall(t)
	c.next(t, "answer")
	play := c.next(t, "playback test/ok.wav")
	c.ch.Push(
		c.ch.Event("CHANNEL_EXECUTE_COMPLETE", "Application", "playback", "Application-UUID", play.UUID),
		c.ch.Event("CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING"),
		c.ch.Event("CHANNEL_HANGUP_COMPLETE", "Hangup-Cause", "NORMAL_CLEARING"),
	)
	es := c.entries(t)
	hu := es[len(es)-1]
	if got := c.ch.Commands(); len(got) != 2 {
		t.Fatalf("sent after the hangup: %q", got)
	}
	if hu.Fields["outcome"] != "caller_hangup" || hu.Value != "NORMAL_CLEARING" {
		t.Fatalf("hangup entry %+v", hu)
	}
}

// A hangup while the menu runs, and the menu's completion after it (the
// order FreeSWITCH uses): the late completion moves nothing.
func TestCompletionAfterHangupMovesNothing(t *testing.T) {
	c := startMemCall(t)
	c.next(t, "answer")
	c.ch.Complete(c.next(t, "playback test/ok.wav"))
	menu := c.next(t, orderMenu)
	c.ch.Push(c.ch.Event("CHANNEL_HANGUP", "Hangup-Cause", "ORIGINATOR_CANCEL"))
	c.ch.Complete(menu, "variable_menu", "1")
	c.ch.Push(c.ch.Event("CHANNEL_HANGUP_COMPLETE", "Hangup-Cause", "ORIGINATOR_CANCEL"))
	es := c.entries(t)
	if got := c.ch.Commands(); len(got) != 3 {
		t.Fatalf("sent after the hangup: %q", got)
	}
	if p := es[len(es)-1].Fields["path"]; p != "welcome>menu" {
		t.Fatalf("path %q", p)
	}
}

// The connection closes with no hangup event: FreeSWITCH went away.
func TestConnectionGoneIsDisconnected(t *testing.T) {
	c := startMemCall(t)
	c.next(t, "answer")
	c.next(t, "playback test/ok.wav")
	c.ch.Close()
	es := c.entries(t)
	if hu := es[len(es)-1]; hu.Fields["outcome"] != "disconnected" {
		t.Fatalf("outcome %q, want disconnected", hu.Fields["outcome"])
	}
}

// Issue 16 item 10: the app-duration metric is labelled with the app we
// sent, never with the Application header the peer puts in its event.
func TestAppMetricLabelIsTheAppWeSent(t *testing.T) {
	f, err := flows.Parse("order.yaml", []byte(orderFlow), flows.Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	ch := ivrtest.NewChannel("5c0e2a3b-0d7e-4f0a-8c55-7d2b6f1e0a99", "5551001", "7000", nil)
	eng := ivr.NewEngine(ivr.Config{Flows: ivrtest.Flows{"order": f}, DefaultFlow: "order", Metrics: ivr.NewMetrics(reg)})
	done := make(chan struct{})
	go func() { defer close(done); eng.Handle(context.Background(), ch) }()
	c := &memCall{ch: ch}
	c.next(t, "answer")
	play := c.next(t, "playback test/ok.wav")
	for i := range 3 {
		ch.Push(ch.Event("CHANNEL_EXECUTE_COMPLETE", "Application", "evil-"+strconv.Itoa(i), "Application-UUID", play.UUID))
		if i == 0 {
			c.next(t, orderMenu)
		}
	}
	ch.Hangup("NORMAL_CLEARING")
	<-done
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, mf := range mfs {
		if mf.GetName() != "fsivr_app_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetValue())
			}
		}
	}
	if strings.Join(labels, ",") != "playback" {
		t.Fatalf("app labels %q, want only playback", labels)
	}
}
