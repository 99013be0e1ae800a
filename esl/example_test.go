package esl_test

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/fsivr/fsivr/esl"
)

// An outbound server: FreeSWITCH's dialplan runs
// <action application="socket" data="127.0.0.1:8084 async full"/>.
func ExampleServer() {
	srv := esl.NewServer(func(ctx context.Context, c *esl.OutboundConn) {
		log := slog.With("uuid", c.UUID())
		if _, err := c.Execute(ctx, "answer", ""); err != nil {
			return
		}
		ev, err := c.Execute(ctx, "play_and_get_digits",
			"1 1 3 5000 # ivr/menu.wav ivr/invalid.wav menu_number [1-5]")
		if errors.Is(err, esl.ErrHangup) {
			log.Info("caller hung up", "cause", c.HangupCause())
			return
		}
		if err != nil {
			return
		}
		log.Info("caller chose", "digit", ev.Get("variable_menu_number"))
		// Events nobody waits for (DTMF, CUSTOM, hangup) are in the mailbox.
		for _, e := range c.Drain(nil) {
			log.Debug("event", "name", e.Name())
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a real daemon cancels on SIGTERM, then calls Shutdown
	_ = srv.Serve(ctx, ln)
	_ = srv.Shutdown(context.Background())
}

// An inbound client: originate a call and learn its result.
func ExampleDial() {
	ctx := context.Background()
	c, err := esl.Dial(ctx, "127.0.0.1:8021", "ClueCon")
	if err != nil {
		return
	}
	defer c.Close()
	body, err := c.BgAPI(ctx, "originate {origination_uuid=2f6c...}loopback/ivr/default &park")
	var re *esl.ReplyError
	if errors.As(err, &re) {
		slog.Warn("originate failed", "cause", re.Reason()) // e.g. NO_ROUTE_DESTINATION
		return
	}
	slog.Info("originated", "result", body)

	if err := c.Subscribe(ctx, "plain", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"); err != nil {
		return
	}
	var evs []*esl.Event
	for {
		select {
		case <-c.Notify():
			evs = c.Drain(evs[:0])
			for _, e := range evs {
				slog.Info("event", "name", e.Name(), "uuid", e.Get("Unique-ID"))
			}
		case <-c.Done():
			slog.Warn("connection lost", "err", c.Err())
			return
		}
	}
}
