package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsivr/fsivr/internal/logbuf"
)

func TestOutboundCallerHangupDuringPlayback(t *testing.T) {
	rp := newReplayPeer(t, "s2_outbound_caller_hangup_linger")
	var mu sync.Mutex
	var errs []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, format)
		t.Errorf(format, args...)
	}
	srv := NewServer(func(ctx context.Context, c *OutboundConn) {
		if c.UUID() != "5d2fdf85-788d-4263-b074-1c00f0b011c5" {
			fail("UUID %q", c.UUID())
		}
		if c.ChannelData().Get("Channel-Destination-Number") != "ivr" {
			fail("channel data: %q", c.ChannelData().Get("Channel-Destination-Number"))
		}
		ev, err := c.Execute(ctx, "answer", "")
		if err != nil || ev.Get("Application") != "answer" {
			fail("answer: %v %v", ev, err)
			return
		}
		_, err = c.Execute(ctx, "playback", "tone_stream://L=20;%(500,500,440)")
		if !errors.Is(err, ErrHangup) {
			fail("playback: %v, want ErrHangup", err)
		}
		<-c.HungUp()
		if c.HangupCause() != "NORMAL_CLEARING" {
			fail("cause %q", c.HangupCause())
		}
		// The interrupted playback's completion comes after the hangup and
		// lands in the mailbox.
		var sawPlaybackError bool
		for evs := c.Drain(nil); !sawPlaybackError; evs = c.Drain(evs[:0]) {
			for _, e := range evs {
				if e.Name() == "CHANNEL_EXECUTE_COMPLETE" && e.Get("Application-Response") == "PLAYBACK ERROR" {
					sawPlaybackError = true
				}
			}
			if !sawPlaybackError {
				select {
				case <-c.Notify():
				case <-c.Done():
					fail("connection ended before the completion")
					return
				}
			}
		}
		if _, err := c.Send(ctx, "playback", "x"); !errors.Is(err, ErrHangup) {
			fail("Send after hangup: %v", err)
		}
		if _, err := c.Execute(ctx, "playback", "x"); !errors.Is(err, ErrHangup) {
			fail("Execute after hangup: %v", err)
		}
	})
	p := runOutbound(t, srv, rp.serve)
	want := []string{"connect", "myevents", "linger", "event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF CUSTOM fifo::info", "sendmsg", "sendmsg", "exit"}
	if got := p.commands(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("FreeSWITCH received %q, want %q (nothing after hangup but exit)", got, want)
	}
}

func TestOutboundUnknownAppHangsUp(t *testing.T) {
	rp := newReplayPeer(t, "s1c_outbound_bad_app")
	result := make(chan error, 1)
	srv := NewServer(func(ctx context.Context, c *OutboundConn) {
		if _, err := c.Execute(ctx, "answer", ""); err != nil {
			result <- err
			return
		}
		_, err := c.Execute(ctx, "nosuchapp", "")
		result <- err
	})
	runOutbound(t, srv, rp.serve)
	if err := <-result; !errors.Is(err, ErrHangup) {
		t.Errorf("unknown app: %v, want ErrHangup", err)
	}
}

func TestOutboundExecuteMatchesByUUID(t *testing.T) {
	rp := newReplayPeer(t, "s2_outbound_caller_hangup_linger")
	type outcome struct {
		ev  *Message
		err error
		bad error
	}
	res := make(chan outcome, 1)
	srv := NewServer(func(ctx context.Context, c *OutboundConn) {
		var o outcome
		defer func() { res <- o }()
		var answer *Message
		if answer, o.bad = c.Execute(ctx, "answer", ""); o.bad != nil {
			return
		}
		if answer.Get("Application-UUID") == "decoy" || answer.Get("Application") != "answer" {
			o.bad = errors.New("Execute returned the decoy completion")
			return
		}
		// The decoy (same app, other UUID) is in the mailbox.
		decoyQueued := false
		for _, e := range c.Drain(nil) {
			decoyQueued = decoyQueued || e.Get("Application-UUID") == "decoy"
		}
		if !decoyQueued {
			o.bad = errors.New("decoy completion not in the mailbox")
			return
		}
		o.ev, o.err = c.Execute(ctx, "play\nback", "x")
		if !errors.Is(o.err, ErrInvalidValue) {
			return
		}
		_, o.bad = c.Send(ctx, "playback", "a\r\nevent-lock: false")
		if !errors.Is(o.bad, ErrInvalidValue) {
			return
		}
		o.bad = nil
	})
	// A decoy completion for the same app with another UUID must not be
	// taken as ours: prepend one to the answer segment.
	decoy := plainEvent("", "Event-Name", "CHANNEL_EXECUTE_COMPLETE", "Application", "answer", "Application-UUID", "decoy")
	rp.segments[4] = append([]byte(decoy), rp.segments[4]...)
	p := runOutbound(t, srv, rp.serve)
	o := <-res
	if o.bad != nil || !errors.Is(o.err, ErrInvalidValue) {
		t.Errorf("outcome %+v", o)
	}
	// Five setup/answer commands, nothing for the invalid ones, then the
	// channel is still up so no exit: just close.
	if got := p.commands(); len(got) != 5 {
		t.Errorf("FreeSWITCH received %q", got)
	}
}

func TestServerAllowList(t *testing.T) {
	srv := NewServer(func(ctx context.Context, c *OutboundConn) { t.Error("handler ran for a refused peer") })
	srv.Allow = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	p := runOutbound(t, srv, func(p *fakePeer) {
		if m := p.next(); m != nil {
			t.Errorf("refused peer got %q", m.CommandLine())
		}
	})
	if len(p.commands()) != 0 {
		t.Error("bytes were sent to a refused peer")
	}
}

func TestOutboundS1FullScript(t *testing.T) {
	rp := newReplayPeer(t, "s1_outbound_full")
	type step struct{ name, got, want string }
	var steps []step
	srv := NewServer(func(ctx context.Context, c *OutboundConn) {
		check := func(name, got, want string) { steps = append(steps, step{name, got, want}) }
		ev, err := c.Execute(ctx, "answer", "")
		check("answer", ev.Get("Application")+errString(err), "answer")
		ev, err = c.Execute(ctx, "playback", "tone_stream://%(500,0,440)")
		check("playback", ev.Get("Application-Response")+errString(err), "FILE PLAYED")
		ev, err = c.Execute(ctx, "play_and_get_digits", "1 1 3 5000 # silence_stream://250 silence_stream://250 menu_number [1-5]")
		check("pagd1", ev.Get("variable_menu_number")+errString(err), "2")
		ev, err = c.Execute(ctx, "play_and_get_digits", "1 1 3 5000 # silence_stream://250 silence_stream://250 menu_number2 [1-5]")
		check("pagd2", ev.Get("variable_menu_number2")+errString(err), "3")
		_, err = c.Execute(ctx, "set", "continue_on_fail=true")
		check("set1", errString(err), "")
		_, err = c.Execute(ctx, "set", "hangup_after_bridge=true")
		check("set2", errString(err), "")
		ev, err = c.Execute(ctx, "bridge", "user/1001")
		check("bridge", ev.Get("variable_originate_disposition")+errString(err), "USER_NOT_REGISTERED")
		up, err := c.API(ctx, "uptime")
		check("api", up+errString(err), "217\n")
	})
	runOutbound(t, srv, func(p *fakePeer) {
		// Replay up to the api call, then hang up from FreeSWITCH's side.
		rp.tx = rp.tx[:14]
		rp.serve(p)
	})
	for _, s := range steps {
		if s.got != s.want {
			t.Errorf("%s: got %q, want %q", s.name, s.got, s.want)
		}
	}
	if len(steps) != 8 {
		t.Errorf("ran %d steps", len(steps))
	}
}

func errString(err error) string {
	if err != nil {
		return " error: " + err.Error()
	}
	return ""
}

func TestShutdownCancelsStuckHandlers(t *testing.T) {
	rp := newReplayPeer(t, "s2_outbound_caller_hangup_linger")
	started := make(chan struct{})
	handlerErr := make(chan error, 1)
	srv := NewServer(func(ctx context.Context, c *OutboundConn) {
		close(started)
		<-ctx.Done() // a handler that only stops when told
		handlerErr <- ctx.Err()
	})
	nc, served := serveAndDial(t, srv)
	defer nc.Close()
	peerDone := make(chan struct{})
	go func() {
		defer close(peerDone)
		rp.serve(newFakePeer(t, nc))
	}()
	<-started
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(expired); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	if err := <-handlerErr; !errors.Is(err, context.Canceled) {
		t.Errorf("handler ctx: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	<-peerDone // the server closed the call's connection
}

// Issue 16 item 11: a connect reply without Unique-ID was accepted, and
// calls with an empty uuid merged into one call-log summary. The
// connection is refused with a log line; the handler never runs.
func TestConnectWithoutUniqueIDRefused(t *testing.T) {
	var logs logbuf.Buffer
	srv := NewServer(func(ctx context.Context, c *OutboundConn) {
		t.Errorf("handler ran for a channel without Unique-ID (uuid %q)", c.UUID())
	})
	srv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	p := runOutbound(t, srv, scriptedOutbound(s1ConnectReply(t, "Unique-ID"), func(p *fakePeer, m *Message) {
		p.send(replyMsg("+OK"))
	}))
	if got := p.commands(); len(got) != 1 || got[0] != "connect" {
		t.Errorf("FreeSWITCH received %q after a connect reply without Unique-ID, want only connect", got)
	}
	if !strings.Contains(logs.String(), "without Unique-ID") {
		t.Errorf("no log line for the refused connection; log:\n%s", logs.String())
	}
}

// Issue 16 item 11: a hangup event for another channel ended the call.
// After myevents FreeSWITCH sends only the controlled channel's events
// (mod_event_socket drops others), so one about another channel is
// ignored: not a hangup, not in the mailbox.
func TestEventsAboutAnotherChannelIgnored(t *testing.T) {
	const ours = "07fc0b40-f3ec-4124-b973-b722554fe3af"
	type result struct {
		ev     *Message
		err    error
		hungUp bool
		queued []*Message
		stats  Stats
	}
	res := make(chan result, 1)
	srv := NewServer(func(ctx context.Context, c *OutboundConn) {
		var r result
		r.ev, r.err = c.Execute(ctx, "playback", "ivr/welcome.wav")
		select {
		case <-c.HungUp():
			r.hungUp = true
		default:
		}
		r.queued = c.Drain(nil)
		r.stats = c.Stats()
		res <- r
	})
	srv.Logger = slog.New(slog.DiscardHandler)
	runOutbound(t, srv, scriptedOutbound(s1ConnectReply(t), func(p *fakePeer, m *Message) {
		if m.CommandLine() != "sendmsg" {
			p.send(replyMsg("+OK"))
			return
		}
		p.send(replyMsg("+OK"))
		p.send(plainEvent("", "Event-Name", "CHANNEL_HANGUP", "Unique-ID", "5d2fdf85-788d-4263-b074-1c00f0b011c5", "Hangup-Cause", "NORMAL_CLEARING"))
		p.send(plainEvent("", "Event-Name", "DTMF", "Unique-ID", "5d2fdf85-788d-4263-b074-1c00f0b011c5", "DTMF-Digit", "1"))
		p.send(plainEvent("", "Event-Name", "CHANNEL_EXECUTE_COMPLETE", "Unique-ID", ours,
			"Application", "playback", "Application-Response", "FILE PLAYED", "Application-UUID", m.OuterHeader("Event-UUID")))
	}))
	r := <-res
	if r.err != nil || r.ev.Get("Application-Response") != "FILE PLAYED" {
		t.Errorf("Execute = %v, %v; a hangup of another channel must not end ours", r.ev, r.err)
	}
	if r.hungUp {
		t.Error("HungUp closed by another channel's CHANNEL_HANGUP")
	}
	if len(r.queued) != 0 || r.stats.EventsDropped != 2 {
		t.Errorf("mailbox %v, stats %+v: events about another channel must be dropped", r.queued, r.stats)
	}
}

// Issue 16 item 12 on the outbound side: a message cut off mid-frame ends
// that call's connection after Config.StallTimeout.
func TestOutboundStallClosesConnection(t *testing.T) {
	res := make(chan error, 1)
	srv := NewServer(func(ctx context.Context, c *OutboundConn) {
		_, err := c.Execute(ctx, "playback", "ivr/welcome.wav")
		res <- err
	})
	srv.Logger = slog.New(slog.DiscardHandler)
	srv.StallTimeout = 50 * time.Millisecond
	runOutbound(t, srv, scriptedOutbound(s1ConnectReply(t), func(p *fakePeer, m *Message) {
		p.send(replyMsg("+OK"))
		if m.CommandLine() == "sendmsg" {
			ev := plainEvent("", "Event-Name", "CHANNEL_EXECUTE", "Unique-ID", "07fc0b40-f3ec-4124-b973-b722554fe3af")
			p.send(ev[:len(ev)/2]) // then nothing
		}
	}))
	if err := <-res; !errors.Is(err, ErrStalled) {
		t.Errorf("Execute = %v, want ErrStalled", err)
	}
}

// Issue 16 item 7: ivrd exited when accept failed with EMFILE under a
// connection flood, dropping every call. Failed Accepts are logged,
// counted and retried; only a closed listener ends Serve.
func TestServeRetriesFailedAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: ln, errs: []error{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED}}
	var logs logbuf.Buffer
	handled := make(chan string, 1)
	srv := NewServer(func(ctx context.Context, c *OutboundConn) { handled <- c.UUID() })
	srv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), fl) }()

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	go scriptedOutbound(s1ConnectReply(t), func(p *fakePeer, m *Message) { p.send(replyMsg("+OK")) })(newFakePeer(t, nc))
	select {
	case uuid := <-handled:
		if uuid != "07fc0b40-f3ec-4124-b973-b722554fe3af" {
			t.Errorf("handled %q", uuid)
		}
	case err := <-served:
		t.Fatalf("Serve returned %v after a failed Accept; the call was never served", err)
	}
	if s := srv.Stats(); s.AcceptErrors != 3 || s.Accepted != 1 {
		t.Errorf("stats %+v, want 3 accept errors and 1 accepted", s)
	}
	if n := strings.Count(logs.String(), "accept failed; retrying"); n != 3 {
		t.Errorf("%d retry log lines, want 3:\n%s", n, logs.String())
	}
	// A listener closed behind the server's back ends Serve with an error.
	_ = ln.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve after the listener closed: %v, want net.ErrClosed", err)
	}
	if err := srv.Shutdown(testCtx(t)); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// Issue 14: the three setup commands after connect go in one write (one
// round trip per call instead of three); their replies are matched in order
// and an -ERR among them still fails the setup, naming its command.
func TestOutboundSetupIsOneWrite(t *testing.T) {
	connectReply := readAll(t, readFixture(t, "s1_outbound_full.rx.bin"))[0].Raw()
	for _, failLinger := range []bool{false, true} {
		nc, peer := tcpPair(t)
		type result struct {
			oc  *OutboundConn
			err error
		}
		done := make(chan result, 1)
		go func() {
			oc, err := newOutboundConn(testCtx(t), nc, Config{Logger: slog.New(slog.DiscardHandler)}.withDefaults(), true, DefaultEvents())
			done <- result{oc, err}
		}()
		buf := make([]byte, 4096)
		_ = peer.SetDeadline(time.Now().Add(5 * time.Second))
		if n, err := peer.Read(buf); err != nil || string(buf[:n]) != "connect\n\n" {
			t.Fatalf("first read %q, %v", buf[:n], err)
		}
		if _, err := peer.Write(connectReply); err != nil {
			t.Fatal(err)
		}
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got := string(buf[:n])
		if !strings.HasPrefix(got, "myevents\n\nlinger\n\nevent plain ") || !strings.HasSuffix(got, "\n\n") || strings.Count(got, "\n\n") != 3 {
			t.Fatalf("setup arrived as %q, want the three commands in one write", got)
		}
		second := "+OK will linger"
		if failLinger {
			second = "-ERR no"
		}
		for _, rt := range []string{"+OK Events Enabled", second, "+OK event listener enabled plain"} {
			fmt.Fprintf(peer, "Content-Type: command/reply\nReply-Text: %s\n\n", rt)
		}
		r := <-done
		var re *ReplyError
		switch {
		case !failLinger && r.err != nil:
			t.Errorf("setup: %v", r.err)
		case failLinger && (!errors.As(r.err, &re) || re.Command != "linger"):
			t.Errorf("setup with -ERR to linger: %v, want a ReplyError for linger", r.err)
		}
		if r.oc != nil {
			_ = r.oc.Close()
		}
	}
}
