package httpapi

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/esldial"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

// TestClickToCallFreeSWITCH: the same click-to-call against the fake
// FreeSWITCH, whose answered call is handed to the real ivr engine running
// flows/notify.yaml: the bgapi names the notify flow and carries the
// configured prompt (never a request value), the flow's prompt is played
// on the call, and the CDR is answered; busy and no-answer map to their
// dispositions.
func TestClickToCallFreeSWITCH(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	f, err := flows.Load("../../flows/notify.yaml", flows.Options{SoundsDir: "../../sounds"})
	if err != nil {
		t.Fatalf("load notify: %v", err)
	}
	ivrEng := ivr.NewEngine(ivr.Config{Flows: ivrtest.Flows{"notify": f}, DefaultFlow: "notify", CallLog: &ivrtest.CallLog{}, Logger: quiet})
	ivrSrv := ivrtest.NewServer(ivrEng, ivr.ServeOptions{DrainTimeout: 5 * time.Second, Logger: quiet})
	t.Cleanup(func() { _ = ivrSrv.Close() })
	var mu sync.Mutex
	var apps []esltest.Record
	fs := esltest.NewServer(esltest.Config{OutboundAddr: ivrSrv.Addr, Script: func(dest string) esltest.Script {
		switch dest {
		case numBusy:
			return esltest.Script{RejectCause: "USER_BUSY"}
		case numNoAnswer:
			return esltest.Script{RejectCause: "NO_ANSWER"}
		}
		return esltest.Script{Digits: []string{"1"}, PlaybackDuration: 20 * time.Millisecond, Observer: func(r esltest.Record) {
			if r.App != "" {
				mu.Lock()
				apps = append(apps, r)
				mu.Unlock()
			}
		}}
	}})
	t.Cleanup(fs.Close)
	b := esldial.New(esldial.Config{Addr: fs.Addr, Password: "ClueCon", Logger: quiet, Conn: esl.Config{Logger: quiet}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no ESL connection to the fake")
	}
	cfg := testConfig()
	cfg.Trunks = []Trunk{{Name: "fs", Backend: "freeswitch", Kind: "freeswitch", Channel: "sofia/gateway/carrier/${number}", CallerIDs: []string{"+14155550000"}}}
	api, err := New(cfg, Options{Store: dialer.NewMemStore(), Backends: map[string]dialer.Backend{"freeswitch": b}, Logger: quiet, EnginePoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() { srv.Close(); api.Close() })
	e := &env{srv: srv, api: api}

	answered := createCall(t, e, CallRequest{Number: numAnswer, Message: "welcome"})
	busy := createCall(t, e, CallRequest{Number: numBusy, Message: "welcome"})
	noAnswer := createCall(t, e, CallRequest{Number: numNoAnswer, Message: "welcome"})
	v := e.waitCall(t, answered.ID)
	if v.Disposition != dialer.Answered || v.Answered == nil || v.Ended == nil || v.Ended.Before(*v.Answered) || v.Attempt == "" {
		t.Errorf("answered call: %+v", v)
	}
	if got := e.waitCall(t, busy.ID); got.Disposition != dialer.Busy || got.Cause != "USER_BUSY" {
		t.Errorf("busy call: %+v", got)
	}
	if got := e.waitCall(t, noAnswer.ID); got.Disposition != dialer.NoAnswer {
		t.Errorf("no-answer call: %+v", got)
	}
	var bgapi []string
	for _, r := range fs.Commands() {
		if r.Verb == "bgapi" {
			bgapi = append(bgapi, r.Raw)
		}
	}
	if len(bgapi) != 3 {
		t.Fatalf("%d originates, want 3: %q", len(bgapi), bgapi)
	}
	for _, raw := range bgapi {
		if strings.Contains(raw, numAnswer) && (!strings.Contains(raw, "ivr_flow=notify") || !strings.Contains(raw, "message=custom/welcome") ||
			!strings.Contains(raw, "origination_uuid="+v.Attempt)) {
			t.Errorf("originate of the answered call: %s", raw)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	played := false
	for _, r := range apps {
		played = played || (r.App == "play_and_get_digits" || r.App == "playback") && strings.Contains(r.Arg, "notify/1000.wav")
	}
	if !played {
		t.Errorf("the notify message was not played on the call: %+v", apps)
	}
}
