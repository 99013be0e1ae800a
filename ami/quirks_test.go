package ami

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Where other Go AMI libraries fail on the captures (issue 9), and the test
// that shows this package does not:
//
//	goami2: drops a message with a bare LF     TestBareLFReplyIsOneMessage, TestBareLFJoinsTwoHeaders
//	goami2: drops `ChanVariable(Local/…;1)`    TestChanVariables
//	goami2: loses FullyBooted/SuccessfulAuth
//	        read together with the login reply TestLoginPlainKeepsEventsReadWithTheReply
//	goami2: drops events when the consumer
//	        pauses 20 ms                       TestQuirkConsumerPausesLoseNothing
//	amigo:  keeps one value of a repeated key  TestRepeatedHeadersInOrder, TestCommandBothForms
//	amigo:  misses UniqueID by exact case      TestGetIsCaseInsensitive, TestQuirkCdrUniqueIDCase
//	goami:  takes the next message as the reply TestConcurrentActionsMatchedByActionID
//	goami:  loses the last messages on close   TestQuirkLastMessagesBeforeClose
//	astgo:  loops at full CPU on the Park reply TestBareLFReplyIsOneMessage, TestE2EParkBareLF
//	gami:   deadlocks on a reply nobody waits
//	        for (OriginateResponse, Goodbye)   TestOriginateResponseIsAnEventAndStrayRepliesAreHarmless
//	all:    `Filter: name(A|B)` matches nothing TestInvalidValuesWriteNothing, ExampleFilter_Validate

// The listener session of the 20-client load (1,425 messages) replayed to
// a consumer that sleeps 20 ms between drains: every event arrives, in order.
func TestQuirkConsumerPausesLoseNothing(t *testing.T) {
	raw := string(readTestdata(t, "68_many_clients_load_listener01.s2c.raw"))
	want, err := readMessages(newBannerReader(t, []byte(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var wantEvents []string
	for _, m := range want {
		if m.IsEvent() {
			wantEvents = append(wantEvents, m.Name()+"/"+m.Get("Uniqueid"))
		}
	}
	c, p := newPair(t, Config{})
	sub := c.Subscribe()
	body := raw[strings.IndexByte(raw, '\n')+1:]
	go func() {
		for len(body) > 0 { // in TCP-sized pieces, as Asterisk writes
			n := min(len(body), 1448)
			p.send(body[:n])
			body = body[n:]
		}
	}()
	var got []string
	deadline := time.After(20 * time.Second)
	for len(got) < len(wantEvents) {
		select {
		case <-sub.Notify():
			for _, m := range sub.Drain(nil) {
				got = append(got, m.Name()+"/"+m.Get("Uniqueid"))
			}
			time.Sleep(20 * time.Millisecond)
		case <-deadline:
			t.Fatalf("%d of %d events", len(got), len(wantEvents))
		}
	}
	if strings.Join(got, ",") != strings.Join(wantEvents, ",") {
		t.Error("events differ from the capture")
	}
}

// Events sent just before Asterisk closes (65: Shutdown, then EOF) are all
// delivered, even when drained after the connection ended.
func TestQuirkLastMessagesBeforeClose(t *testing.T) {
	c, p := newPair(t, Config{})
	sub := c.Subscribe()
	go func() {
		p.send(strings.Repeat("Event: UserEvent\r\nUserEvent: Last\r\n\r\n", 50) +
			"Event: Shutdown\r\nPrivilege: system,all\r\nShutdown: Cleanly\r\nRestart: True\r\n\r\n")
		_ = p.nc.Close()
	}()
	<-c.Done()
	<-sub.Done()
	got := sub.Drain(nil)
	if len(got) != 51 || got[50].Name() != "Shutdown" {
		t.Fatalf("drained %d events after the close", len(got))
	}
}

// Cdr says UniqueID where every other event says Uniqueid (and the
// Tracker must not care).
func TestQuirkCdrUniqueIDCase(t *testing.T) {
	raw := readTestdata(t, "10_originate_local100_answer.s2c.raw")
	if !bytes.Contains(raw, []byte("UniqueID: ")) || !bytes.Contains(raw, []byte("Uniqueid: ")) {
		t.Fatal("capture 10 lacks the two spellings")
	}
	msgs, err := readMessages(newBannerReader(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	cdrs := 0
	for _, m := range msgs {
		if m.Name() == "Cdr" {
			cdrs++
			if m.Get("Uniqueid") == "" || m.Get("UniqueID") != m.Get("uniqueid") {
				t.Errorf("Cdr Uniqueid %q", m.Get("Uniqueid"))
			}
		}
	}
	if cdrs != 2 {
		t.Errorf("%d Cdr events", cdrs)
	}
}
