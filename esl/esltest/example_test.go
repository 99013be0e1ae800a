package esltest_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/esl/esltest"
)

// A toy IVR answers, then hangs up; the fake plays the caller's side.
func ExampleDialOutbound() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		for _, cmd := range []string{
			"connect", "myevents",
			"sendmsg\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: 1",
			"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING",
		} {
			fmt.Fprintf(conn, "%s\n\n", cmd)
			// Crude wait: read until the reply to this command (a real client
			// frames every message; see package esl).
			for {
				line, err := r.ReadString('\n')
				if err != nil || strings.HasPrefix(line, "Reply-Text: ") {
					break
				}
			}
		}
		_, _ = r.ReadString(0) // until the fake closes
	}()

	call, err := esltest.DialOutbound(context.Background(), ln.Addr().String(), esltest.Script{CallerIDNumber: "5551234"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, rec := range call.Commands() {
		fmt.Println(strings.TrimSpace(rec.Verb + " " + rec.App))
	}
	fmt.Println(call.HangupCause(), call.Disconnected())
	// Output:
	// connect
	// myevents
	// sendmsg answer
	// sendmsg
	// NORMAL_CLEARING true
}

// Another party transfers the call while the IVR's menu runs (issue 16
// item 1): the menu's completion already names the new destination, and
// the socket application's own completion says the flow is over.
func ExampleCall_Transfer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	menuRunning := make(chan struct{})
	srv := esl.NewServer(func(ctx context.Context, c *esl.OutboundConn) {
		// Send starts the menu; its events arrive in the mailbox.
		if _, err := c.Send(ctx, "play_and_get_digits", "1 1 3 5000 # menu.wav invalid.wav menu_number [1-5]"); err != nil {
			return
		}
		var evs []*esl.Message
		for {
			select {
			case <-c.Notify():
			case <-c.Done():
				return
			}
			evs = c.Drain(evs[:0])
			for _, ev := range evs {
				switch {
				case ev.Name() == "CHANNEL_EXECUTE":
					close(menuRunning)
				case ev.Name() == "CHANNEL_EXECUTE_COMPLETE" && ev.Get("Application") == "play_and_get_digits":
					fmt.Println("menu ended:", ev.Get("variable_read_result"), "now at", ev.Get("Caller-Destination-Number"), ev.Get("Caller-Context"))
				case ev.Name() == "CHANNEL_EXECUTE_COMPLETE" && ev.Get("Application") == "socket":
					fmt.Println("socket app completed: the flow is over")
					return // ivrd would go on observing the queue events; closing is fine too
				}
			}
		}
	})
	srv.Logger = slog.New(slog.DiscardHandler)
	go func() { _ = srv.Serve(context.Background(), ln) }()
	defer func() { _ = srv.Shutdown(context.Background()) }()

	call, err := esltest.StartOutbound(context.Background(), ln.Addr().String(), esltest.Script{PlaybackDuration: time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	<-menuRunning
	call.Transfer("fifo_sales", "new_sales") // uuid_transfer <uuid> fifo_sales XML new_sales
	_ = call.Wait()
	// Output:
	// menu ended: failure now at fifo_sales new_sales
	// socket app completed: the flow is over
}
