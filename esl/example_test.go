package esl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/esl/esltest"
)

// An outbound server: FreeSWITCH's dialplan runs
// <action application="socket" data="127.0.0.1:8084 async full"/> and the
// handler runs the call. Here esltest plays FreeSWITCH and the caller, who
// presses 2.
func ExampleServer() {
	srv := esl.NewServer(func(ctx context.Context, c *esl.OutboundConn) {
		fmt.Println("flow:", c.ChannelData().Get("variable_ivr_flow"))
		if _, err := c.Execute(ctx, "answer", ""); err != nil {
			return
		}
		ev, err := c.Execute(ctx, "play_and_get_digits",
			"1 1 3 5000 # ivr/menu.wav ivr/invalid.wav menu_number [1-5]")
		if errors.Is(err, esl.ErrHangup) {
			fmt.Println("caller hung up:", c.HangupCause())
			return
		}
		if err != nil {
			return
		}
		fmt.Println("caller chose", ev.Get("variable_menu_number"))
		_ = c.Hangup(ctx, "NORMAL_CLEARING")
		<-c.HungUp()
	})
	srv.Logger = slog.New(slog.DiscardHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go func() { _ = srv.Serve(context.Background(), ln) }()
	defer func() { _ = srv.Shutdown(context.Background()) }()

	call, err := esltest.DialOutbound(context.Background(), ln.Addr().String(),
		esltest.Script{Digits: []string{"2"}, Vars: map[string]string{"ivr_flow": "sales"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("hangup cause:", call.HangupCause())
	// Output:
	// flow: sales
	// caller chose 2
	// hangup cause: NORMAL_CLEARING
}

// An inbound client: originate a call with our own uuid and learn how it
// went. Here esltest plays FreeSWITCH's event socket.
func ExampleDial() {
	ctx := context.Background()
	fs := esltest.NewServer(esltest.Config{Password: "ClueCon"})
	defer fs.Close()

	c, err := esl.Dial(ctx, fs.Addr, "ClueCon")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	body, err := c.BgAPI(ctx, "originate {origination_uuid=2f6c1d4e-0000-4000-8000-000000000001}loopback/ivr/default &park")
	fmt.Printf("%q %v\n", body, err)

	_, err = c.BgAPI(ctx, "originate error/USER_BUSY &park")
	var re *esl.ReplyError
	if errors.As(err, &re) {
		fmt.Println("originate failed:", re.Reason())
	}
	// Output:
	// "+OK 2f6c1d4e-0000-4000-8000-000000000001\n" <nil>
	// originate failed: USER_BUSY
}

// Reading messages off a byte stream: a reply, then a plain event whose
// values are percent-encoded on the wire.
func ExampleReader() {
	event := "Event-Name: CHANNEL_EXECUTE_COMPLETE\nApplication: playback\nApplication-Data: tone_stream%3A//%25(500,0,440)\n\n"
	stream := "Content-Type: command/reply\nReply-Text: +OK\n\n" +
		fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(event), event)
	r := esl.NewReader(strings.NewReader(stream), 0)
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		switch m.Kind() {
		case esl.KindCommandReply:
			fmt.Println("reply:", m.ReplyText())
		case esl.KindEvent:
			// OuterHeader reads the frame, Get the event inside it.
			fmt.Println(m.OuterHeader("Content-Type"), m.Name(), m.Get("Application-Data"))
		}
	}
	// Output:
	// reply: +OK
	// text/event-plain CHANNEL_EXECUTE_COMPLETE tone_stream://%(500,0,440)
}
