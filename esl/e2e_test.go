package esl_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/esl/esltest"
)

func e2eCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serveOne runs handler for one call placed by esltest with script.
func serveOne(t *testing.T, script esltest.Script, handler func(ctx context.Context, c *esl.OutboundConn)) *esltest.Call {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan struct{})
	srv := esl.NewServer(func(ctx context.Context, c *esl.OutboundConn) {
		defer close(handled)
		handler(ctx, c)
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	call, err := esltest.DialOutbound(e2eCtx(t), ln.Addr().String(), script)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	<-handled
	if err := srv.Shutdown(e2eCtx(t)); err != nil {
		t.Error(err)
	}
	if err := <-served; err != nil {
		t.Error(err)
	}
	return call
}

func TestE2EMenuAndFailedBridge(t *testing.T) {
	var digit, disposition string
	var execErr error
	call := serveOne(t, esltest.Script{Digits: []string{"2"}, PlaybackDuration: 5 * time.Millisecond,
		Vars: map[string]string{"ivr_flow": "sales"}},
		func(ctx context.Context, c *esl.OutboundConn) {
			if c.ChannelData().Get("variable_ivr_flow") != "sales" {
				t.Errorf("channel data ivr_flow = %q", c.ChannelData().Get("variable_ivr_flow"))
			}
			if _, execErr = c.Execute(ctx, "answer", ""); execErr != nil {
				return
			}
			ev, err := c.Execute(ctx, "play_and_get_digits", "1 1 3 5000 # ivr/menu.wav ivr/invalid.wav menu_number [1-5]")
			if execErr = err; err != nil {
				return
			}
			digit = ev.Get("variable_menu_number")
			ev, execErr = c.Execute(ctx, "bridge", "user/1001")
			if execErr == nil {
				disposition = ev.Get("variable_originate_disposition")
			}
		})
	if execErr != nil || digit != "2" || disposition == "" {
		t.Errorf("digit %q disposition %q err %v", digit, disposition, execErr)
	}
	if err := call.Wait(); err != nil {
		t.Errorf("fake call: %v", err)
	}
}

func TestE2ECallerHangsUpDuringPlayback(t *testing.T) {
	var playErr error
	var cause string
	call := serveOne(t, esltest.Script{PlaybackDuration: time.Second,
		HangupAt: &esltest.HangupPoint{App: "playback", Delay: 10 * time.Millisecond}},
		func(ctx context.Context, c *esl.OutboundConn) {
			_, playErr = c.Execute(ctx, "playback", "ivr/welcome.wav")
			<-c.HungUp()
			cause = c.HangupCause()
			if _, err := c.Send(ctx, "playback", "x"); !errors.Is(err, esl.ErrHangup) {
				t.Errorf("Send after hangup: %v", err)
			}
		})
	if !errors.Is(playErr, esl.ErrHangup) || cause != "NORMAL_CLEARING" {
		t.Errorf("playback err %v cause %q", playErr, cause)
	}
	_ = call.Wait()
	var verbs []string
	for _, r := range call.Commands() {
		verbs = append(verbs, r.Verb)
	}
	if got := strings.Join(verbs, " "); !strings.HasSuffix(got, "sendmsg exit") {
		t.Errorf("commands %q: want exactly one sendmsg, then exit after hangup", got)
	}
}

func TestE2EInboundOriginate(t *testing.T) {
	fs := esltest.NewServer(esltest.Config{Password: "ClueCon"})
	defer fs.Close()
	addr := fs.Addr
	c, err := esl.Dial(e2eCtx(t), addr, "ClueCon")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body, err := c.BgAPI(e2eCtx(t), "originate {origination_uuid=6f1c1d4e-0000-4000-8000-000000000001}loopback/ivr/default &park")
	if err != nil || body != "+OK 6f1c1d4e-0000-4000-8000-000000000001\n" {
		t.Errorf("originate: %q %v", body, err)
	}
	if _, err := esl.Dial(e2eCtx(t), addr, "wrong"); !errors.Is(err, esl.ErrAuth) {
		t.Errorf("bad password: %v", err)
	}
}
