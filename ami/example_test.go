package ami_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/ami/amitest"
)

// Dial, run a list action and a CLI command.
func Example() {
	srv := amitest.NewServer(amitest.Config{AuthFailDelay: 10 * time.Millisecond})
	defer srv.Close()
	ctx := context.Background()

	_, err := ami.Dial(ctx, srv.Addr, "dialer", "wrong")
	fmt.Println(errors.Is(err, ami.ErrAuth))

	// A Dialer holds the credentials, the login mode and the Config.
	d := ami.Dialer{Username: "dialer", Secret: "secret", MD5: true,
		Config: ami.Config{Logger: slog.New(slog.DiscardHandler), ActionTimeout: 5 * time.Second}}
	c, err := d.Dial(ctx, srv.Addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	channels, err := c.CoreShowChannels(ctx)
	fmt.Println(len(channels), "channels", err)
	// Output:
	// true
	// 0 channels <nil>
}

// Place a call and follow it to its outcome.
func ExampleTracker() {
	srv := amitest.NewServer(amitest.Config{})
	defer srv.Close()
	ctx := context.Background()
	c, err := ami.Dial(ctx, srv.Addr, "dialer", "secret")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	events := c.Subscribe("OriginateResponse", "Newchannel", "Newstate", "DialBegin", "DialEnd", "Hangup")
	defer events.Close()

	tr := ami.NewTracker()
	o, err := tr.Place("call-1", ami.Originate{
		Channel: "Local/200@test", Context: "test", Exten: "100", Timeout: 30 * time.Second,
	}, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.Originate(ctx, o)
	if out, done := tr.Sent("call-1", err, time.Now()); done {
		fmt.Println(out.Disposition)
		return
	}
	for {
		<-events.Notify()
		for _, ev := range events.Drain(nil) {
			if out, done := tr.Feed(ev, time.Now()); done {
				fmt.Println(out.ID, out.Disposition, "reason", out.Reason, "cause", out.Cause)
				return
			}
		}
	}
	// Output:
	// call-1 busy reason 5 cause 17
}

// A filter must name one event: Asterisk accepts name(A|B) and matches
// nothing, so it is refused before anything is sent.
func ExampleFilter_Validate() {
	fmt.Println(ami.Filter{MatchCriteria: "action(include),name(Hangup|Newchannel)"}.Validate() != nil)
	for _, f := range ami.IncludeEvents("Hangup", "Newchannel") {
		fmt.Println(f.MatchCriteria, f.Validate())
	}
	// Output:
	// true
	// action(include),name(Hangup) <nil>
	// action(include),name(Newchannel) <nil>
}
