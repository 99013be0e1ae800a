package esltest_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"

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
