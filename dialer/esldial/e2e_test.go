package esldial_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

// startIVR runs the real ivr engine with flows/notify.yaml on a loopback
// listener, as ivrd serves FreeSWITCH's outbound socket.
func startIVR(t *testing.T) (*ivrtest.Server, *ivrtest.CallLog) {
	t.Helper()
	f, err := flows.Load("../../flows/notify.yaml", flows.Options{SoundsDir: "../../sounds"})
	if err != nil {
		t.Fatalf("load notify: %v", err)
	}
	log := &ivrtest.CallLog{}
	eng := ivr.NewEngine(ivr.Config{Flows: ivrtest.Flows{"notify": f}, DefaultFlow: "sales", CallLog: log, Logger: quiet()})
	srv := ivrtest.NewServer(eng, ivr.ServeOptions{DrainTimeout: 5 * time.Second, Logger: quiet()})
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("ivr serve: %v", err)
		}
	})
	return srv, log
}

// The loop closed: the dialer originates through (fake) FreeSWITCH, which
// hands the answered call to the real ivr engine over the outbound socket;
// notify.yaml runs with the callee's scripted DTMF; the flow's
// notify_result comes back on CHANNEL_HANGUP_COMPLETE to the attempt.
func TestEndToEndNotify(t *testing.T) {
	ivrSrv, calls := startIVR(t)
	scripts := map[string]esltest.Script{
		"+12125550101": {Digits: []string{"1"}},                                                                   // confirms at once
		"+12125550102": {Digits: []string{"2", "1"}},                                                              // hears it again, then confirms
		"+12125550103": {},                                                                                        // says nothing: no_response
		"+12125550104": {Digits: []string{"", "x", ""}},                                                           // silence, invalid, silence
		"+12125550105": {HangupAt: &esltest.HangupPoint{App: "play_and_get_digits", Delay: 5 * time.Millisecond}}, // hangs up mid-message
	}
	fs := esltest.NewServer(esltest.Config{OutboundAddr: ivrSrv.Addr, Script: func(dest string) esltest.Script {
		s := scripts[dest]
		s.PlaybackDuration = 20 * time.Millisecond
		return s
	}})
	defer fs.Close()
	b := start(t, fs)
	cases := []struct {
		number, result string
		repeated       bool
	}{
		{"+12125550101", "confirmed", false},
		{"+12125550102", "confirmed", true},
		{"+12125550103", "no_response", false},
		{"+12125550104", "no_response", false},
		{"+12125550105", "", false},
	}
	for _, c := range cases {
		t.Run(c.number, func(t *testing.T) {
			cl := call(c.number)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := b.Originate(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if out.Disposition != dialer.Answered || out.Answered.IsZero() {
				t.Fatalf("%+v: want answered", out)
			}
			if got := out.Vars["notify_result"]; got != c.result {
				t.Errorf("notify_result %q, want %q (vars %v)", got, c.result, out.Vars)
			}
			// The ivr engine ran notify on this very call (uuid = attempt id).
			es, err := calls.WaitHangup(ctx, cl.AttemptID)
			if err != nil {
				t.Fatalf("ivr call log: %v", err)
			}
			if es[0].Flow != "notify" {
				t.Errorf("flow %q, want notify", es[0].Flow)
			}
			repeated := false
			for _, e := range es {
				repeated = repeated || e.Kind == calllog.KindNode && e.Value == "NotifyRepeat"
			}
			if repeated != c.repeated {
				t.Errorf("NotifyRepeat logged %v, want %v: %+v", repeated, c.repeated, es)
			}
		})
	}
}

// recorder keeps the engine's attempt and contact records.
type recorder struct {
	mu       sync.Mutex
	attempts []dialer.AttemptRecord
	contacts []dialer.ContactRecord
}

func (r *recorder) RecordAttempt(a dialer.AttemptRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
}

func (r *recorder) RecordContact(c dialer.ContactRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.contacts = append(r.contacts, c)
}

// The same loop driven by the dialer's engine: a campaign of three
// contacts; each attempt is recorded answered with the flow's result.
func TestEngineNotifyCampaign(t *testing.T) {
	ivrSrv, _ := startIVR(t)
	digits := map[string][]string{"+12125550111": {"1"}, "+12125550112": {"2", "1"}, "+12125550113": nil}
	fs := esltest.NewServer(esltest.Config{OutboundAddr: ivrSrv.Addr, Script: func(dest string) esltest.Script {
		return esltest.Script{Digits: digits[dest], PlaybackDuration: 20 * time.Millisecond}
	}})
	defer fs.Close()
	b := start(t, fs)
	rec := &recorder{}
	camp := dialer.Campaign{ID: "notify", CallerID: `"Clinic" <+12125550000>`,
		Trunks: []dialer.Trunk{{Name: "fs", Channel: "sofia/gateway/carrier/${number}", Ports: 2}},
		Answer: dialer.Answer{Flow: "notify"}}
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: dialer.NewMemStore(), Backend: b, Recorder: rec,
		Logger: quiet(), Poll: 50 * time.Millisecond,
		// Inside the default calling hours of New York, whatever the hour of the run.
		Clock: dialer.NewOffsetClock(time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eng.Create(ctx); err != nil {
		t.Fatal(err)
	}
	var cs []dialer.Contact
	for n := range digits {
		cs = append(cs, dialer.Contact{ID: n[len(n)-3:], Number: n, Zones: []string{"America/New_York"}})
	}
	if _, _, err := eng.Add(ctx, cs); err != nil {
		t.Fatal(err)
	}
	p, err := eng.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, p)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string]string{"+12125550111": "confirmed", "+12125550112": "confirmed", "+12125550113": "no_response"}
	if len(rec.attempts) != len(want) {
		t.Fatalf("%d attempts recorded, want %d: %+v", len(rec.attempts), len(want), rec.attempts)
	}
	for _, a := range rec.attempts {
		if a.Disposition != dialer.Answered || a.Answered.IsZero() || a.Vars["notify_result"] != want[a.Number] {
			t.Errorf("%s: %s answered=%v vars=%v; want answered, notify_result=%s", a.Number, a.Disposition, a.Answered, a.Vars, want[a.Number])
		}
	}
}
