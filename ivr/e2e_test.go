package ivr_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/crm"
	"github.com/fsivr/fsivr/crm/crmtest"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

type singleFlow = ivrtest.Flows

func loadFlows(t testing.TB) singleFlow {
	t.Helper()
	out := singleFlow{}
	for _, name := range []string{"sales", "notify"} {
		f, err := flows.Load("../flows/"+name+".yaml", flows.Options{SoundsDir: "../sounds"})
		if err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		out[name] = f
	}
	return out
}

// newYork returns a fixed instant in the sales flow's zone.
func newYork(t testing.TB, weekday time.Weekday, hour, min int) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-11-23 is a Monday.
	day := 23 + (int(weekday)+6)%7
	return time.Date(2026, 11, day, hour, min, 0, 0, loc)
}

type harness struct {
	srv  *ivrtest.Server
	addr string
	log  *ivrtest.CallLog
	crm  *crmtest.Server
	reg  *prometheus.Registry
}

type harnessOpts struct {
	now       time.Time
	overrides ivr.OverrideStore
	crmURL    string // overrides the fake CRM's URL (e.g. a closed port)
	crmTO     time.Duration
	flows     singleFlow // nil: flows/sales.yaml and flows/notify.yaml
	serve     ivr.ServeOptions
	sounds    fs.FS
}

func startIVR(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	h := &harness{log: &ivrtest.CallLog{}, reg: prometheus.NewRegistry()}
	// Every entry any call of the test wrote must be of a declared kind.
	t.Cleanup(func() {
		for _, e := range h.log.Undeclared() {
			t.Errorf("entry of undeclared kind %q written: %+v", e.Kind, e)
		}
	})
	h.crm = crmtest.NewServer(map[string]crmtest.Answer{
		"5551001": {Extension: "1001", Name: "Ada"},
	})
	t.Cleanup(h.crm.Close)
	url := h.crm.URL
	if o.crmURL != "" {
		url = o.crmURL
	}
	to := o.crmTO
	if to == 0 {
		to = time.Second
	}
	client, err := crm.New(crm.Config{BaseURL: url, Timeout: to, CacheSize: -1, BreakerFailures: -1}, &http.Client{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := o.now
	if now.IsZero() {
		now = newYork(t, time.Wednesday, 10, 0)
	}
	fl := o.flows
	if fl == nil {
		fl = loadFlows(t)
	}
	eng := ivr.NewEngine(ivr.Config{
		Flows:       fl,
		DefaultFlow: "sales",
		CallLog:     h.log,
		Prefetchers: map[string]ivr.Prefetcher{"crm": client},
		Overrides:   o.overrides,
		Sounds:      o.sounds,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:         func() time.Time { return now },
		Metrics:     ivr.NewMetrics(h.reg),
	})
	if o.serve.DrainTimeout == 0 {
		o.serve.DrainTimeout = 5 * time.Second
	}
	srv := ivrtest.NewServer(eng, o.serve)
	h.srv = srv
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	h.addr = srv.Addr
	return h
}

// call runs one scripted call to its end. When hangupOnTransfer is set the
// caller hangs up once the IVR transferred the call (in FreeSWITCH the
// channel would go on in the dialplan; the socket stays until hangup).
func (h *harness) call(t *testing.T, s esltest.Script, hangupOnTransfer bool) (*esltest.Call, []calllog.Entry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := make(chan esltest.Record, 256)
	s.Observer = func(r esltest.Record) {
		select {
		case seen <- r:
		default:
		}
	}
	c, err := esltest.StartOutbound(ctx, h.addr, s)
	if err != nil {
		t.Fatalf("start call: %v", err)
	}
	for waiting := true; waiting; {
		select {
		case r := <-seen:
			if hangupOnTransfer && r.Verb == "sendmsg" && r.App == "transfer" {
				go c.Hangup("NORMAL_CLEARING")
			}
		case <-c.Done():
			waiting = false
		}
	}
	if err := c.Err(); err != nil {
		t.Fatalf("call: %v", err)
	}
	// The session writes its hangup entry before the socket closes, but the
	// handler may still be finishing: wait for it (bounded).
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	es, err := h.log.WaitHangup(wctx, c.UUID())
	if err != nil {
		t.Fatal(err)
	}
	return c, es
}

// apps returns "app arg" for every sendmsg execute the IVR sent.
func apps(c *esltest.Call) []string {
	var out []string
	for _, r := range c.Commands() {
		if r.Verb == "sendmsg" && r.App != "" {
			out = append(out, strings.TrimSpace(r.App+" "+r.Arg))
		}
	}
	return out
}

func wantApps(t *testing.T, c *esltest.Call, want ...string) {
	t.Helper()
	got := apps(c)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("commands sent:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func entry(es []calllog.Entry, kind calllog.Kind) (calllog.Entry, bool) {
	return ivrtest.Find(es, kind)
}

func lastHangup(t *testing.T, es []calllog.Entry) calllog.Entry {
	t.Helper()
	e := es[len(es)-1]
	if e.Kind != calllog.KindHangup {
		t.Fatalf("last entry is %q, want hangup", e.Kind)
	}
	return e
}

const (
	welcome  = "playback new_sales/1000.wav"
	mainMenu = "play_and_get_digits 1 1 3 5000 # new_sales/1001.wav new_sales/9004.wav menu_number [1-5]"
)

func TestSalesTimeRouting(t *testing.T) {
	cases := []struct {
		name string
		now  func(t testing.TB) time.Time
		want string
		rule string
	}{
		{"weekday 09:00 main menu", func(t testing.TB) time.Time { return newYork(t, time.Tuesday, 9, 0) }, "", "Workday"},
		{"weekend 10:00 main menu", func(t testing.TB) time.Time { return newYork(t, time.Saturday, 10, 0) }, "", "Weekend"},
		{"weekend 09:30 closed", func(t testing.TB) time.Time { return newYork(t, time.Sunday, 9, 30) }, "transfer fifo_cellphone XML new_sales", "default"},
		{"evening 20:30 hst", func(t testing.TB) time.Time { return newYork(t, time.Monday, 20, 30) }, "transfer fifo_hst XML new_sales", "Evening"},
		{"night 23:00 cellphone", func(t testing.TB) time.Time { return newYork(t, time.Thursday, 23, 0) }, "transfer fifo_cellphone XML new_sales", "default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startIVR(t, harnessOpts{now: tc.now(t)})
			s := esltest.Script{CallerIDNumber: "5559999", Digits: []string{"1"}}
			c, es := h.call(t, s, true)
			if tc.want == "" {
				wantApps(t, c, "answer", welcome, mainMenu, "transfer fifo_hst XML new_sales")
			} else {
				wantApps(t, c, "answer", welcome, tc.want)
			}
			e, ok := entry(es, calllog.KindTimeRule)
			if !ok || e.Value != tc.rule {
				t.Fatalf("time_rule entry %+v, want %q", e, tc.rule)
			}
		})
	}
}

func TestSalesOverride(t *testing.T) {
	h := startIVR(t, harnessOpts{overrides: ivr.MapOverrides{"fsivr:override:sales": "transfer fifo_hst XML new_sales"}})
	c, es := h.call(t, esltest.Script{CallerIDNumber: "5559999"}, true)
	wantApps(t, c, "answer", welcome, "transfer fifo_hst XML new_sales")
	e, ok := entry(es, calllog.KindTimeRule)
	if !ok || e.Value != "override" || e.Fields["override"] != "transfer fifo_hst XML new_sales" {
		t.Fatalf("override not logged: %+v", e)
	}
}

func TestSalesOverrideRefused(t *testing.T) {
	// A value outside the allowed actions is refused and logged; the time
	// rules decide instead.
	h := startIVR(t, harnessOpts{overrides: ivr.MapOverrides{"fsivr:override:sales": "bridge sofia/gateway/x/1900"}})
	c, es := h.call(t, esltest.Script{CallerIDNumber: "5559999", Digits: []string{"1"}}, true)
	wantApps(t, c, "answer", welcome, mainMenu, "transfer fifo_hst XML new_sales")
	e, ok := entry(es, calllog.KindError)
	if !ok || e.Value != "override refused" {
		t.Fatalf("refused override not logged: %+v", es)
	}
}

func TestSalesMenu(t *testing.T) {
	bridgeSets := []string{"set ringback=${us-ring}", "set continue_on_fail=true", "set hangup_after_bridge=true"}
	cases := []struct {
		name     string
		script   esltest.Script
		want     []string
		outcome  string
		transfer bool
	}{
		{
			name:   "1 hot sales",
			script: esltest.Script{CallerIDNumber: "5559999", Digits: []string{"1"}},
			want:   []string{"answer", welcome, mainMenu, "transfer fifo_hst XML new_sales"}, outcome: "transfer:fifo_hst", transfer: true,
		},
		{
			name: "2 with CRM extension bridges",
			script: esltest.Script{CallerIDNumber: "5551001", Digits: []string{"2"},
				Bridges: []esltest.BridgeOutcome{{Answer: true, TalkTime: 20 * time.Millisecond}}},
			want: append(append([]string{"answer", welcome, mainMenu, "playback new_sales/1002.wav"}, bridgeSets...), "bridge user/1001"), outcome: "bridged",
		},
		{
			name:   "3 without CRM extension goes to the sales queue",
			script: esltest.Script{CallerIDNumber: "5552222", Digits: []string{"3"}},
			want:   []string{"answer", welcome, mainMenu, "transfer fifo_sales XML new_sales"}, outcome: "transfer:fifo_sales", transfer: true,
		},
		{
			name: "5 collects an extension and bridges to it",
			script: esltest.Script{CallerIDNumber: "5559999", Digits: []string{"5", "601"},
				Bridges: []esltest.BridgeOutcome{{Answer: true, TalkTime: 10 * time.Millisecond}}},
			want: append(append([]string{"answer", welcome, mainMenu,
				`play_and_get_digits 3 3 3 5000 # new_sales/2002.wav new_sales/9004.wav extn_number [68]\d\d`}, bridgeSets...), "bridge user/601"),
			outcome: "bridged",
		},
		{
			name:   "timeout and invalid entries consume tries, then a valid one",
			script: esltest.Script{CallerIDNumber: "5559999", Digits: []string{"", "9", "1"}},
			want:   []string{"answer", welcome, mainMenu, "transfer fifo_hst XML new_sales"}, outcome: "transfer:fifo_hst", transfer: true,
		},
		{
			name:   "nothing valid after three tries",
			script: esltest.Script{CallerIDNumber: "5559999", Digits: []string{"", "9", "0", "1"}},
			want:   []string{"answer", welcome, mainMenu, "playback new_sales/9003.wav", "hangup NORMAL_CLEARING"}, outcome: "hangup",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startIVR(t, harnessOpts{})
			c, es := h.call(t, tc.script, tc.transfer)
			wantApps(t, c, tc.want...)
			hu := lastHangup(t, es)
			if hu.Fields["outcome"] != tc.outcome {
				t.Fatalf("outcome %q, want %q (entries %+v)", hu.Fields["outcome"], tc.outcome, es)
			}
			if hu.Fields["path"] == "" || !strings.HasPrefix(hu.Fields["path"], "welcome>office_hours>main_menu") {
				t.Fatalf("path %q", hu.Fields["path"])
			}
			if m, ok := entry(es, calllog.KindMenu); !ok || m.Fields["var"] != "menu_number" {
				t.Fatalf("menu entry missing: %+v", es)
			}
		})
	}
}

func TestSalesBridgeFailureMenu(t *testing.T) {
	ccMenu := "play_and_get_digits 1 1 2 5000 # new_sales/81001.wav new_sales/9004.wav cc_menu_number [12]"
	cases := []struct {
		digit, cause, want string
	}{
		{"1", "USER_NOT_REGISTERED", "transfer Playcell_1001 XML new_sales"},
		{"2", "USER_BUSY", "transfer VM_1001 XML new_sales"},
		{"", "NO_ANSWER", "transfer Quit XML new_sales"},
	}
	for _, tc := range cases {
		t.Run(tc.cause, func(t *testing.T) {
			h := startIVR(t, harnessOpts{})
			digits := []string{"2", tc.digit}
			if tc.digit == "" {
				digits = []string{"2", "", ""}
			}
			c, es := h.call(t, esltest.Script{CallerIDNumber: "5551001", Digits: digits,
				Bridges: []esltest.BridgeOutcome{{Cause: tc.cause}}}, true)
			got := apps(c)
			if len(got) < 2 || got[len(got)-2] != ccMenu || got[len(got)-1] != tc.want {
				t.Fatalf("commands %q, want ... %q, %q", got, ccMenu, tc.want)
			}
			var failed bool
			for _, e := range es {
				if e.Kind == calllog.KindBridge && e.Value == "failed" && e.Fields["disposition"] == tc.cause {
					failed = true
				}
			}
			if !failed {
				t.Fatalf("bridge failure with disposition %s not logged: %+v", tc.cause, es)
			}
		})
	}
}

func TestSalesCRMFailuresFallBackToQueue(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + closed.Addr().String()
	closed.Close()

	hold := make(chan struct{})
	defer close(hold)
	cases := []struct {
		name   string
		answer *crmtest.Answer
		url    string
	}{
		{name: "slow", answer: &crmtest.Answer{Extension: "1001", Hold: hold}},
		{name: "down", url: downURL},
		{name: "500", answer: &crmtest.Answer{Status: 500}},
		{name: "injection comma", answer: &crmtest.Answer{Body: "1001, sofia/gateway/x/1900", Plain: true}},
		{name: "injection newline", answer: &crmtest.Answer{Body: "1001\nbridge user/1900", Plain: true}},
		{name: "garbage", answer: &crmtest.Answer{Body: "{\"extension\": {}}", ContentType: "application/json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startIVR(t, harnessOpts{crmURL: tc.url, crmTO: 300 * time.Millisecond})
			if tc.answer != nil {
				h.crm.Set("5553333", *tc.answer)
			}
			c, es := h.call(t, esltest.Script{CallerIDNumber: "5553333", Digits: []string{"4"}}, true)
			wantApps(t, c, "answer", welcome, mainMenu, "transfer fifo_sales XML new_sales")
			e, ok := entry(es, calllog.KindCRM)
			if !ok || e.Value != "error" || e.Fields["error"] == "" {
				t.Fatalf("crm failure not logged: %+v", es)
			}
		})
	}
}

func TestSalesCallerHangup(t *testing.T) {
	cases := []struct {
		name string
		at   esltest.HangupPoint
		last string // last command sent
		node string
	}{
		{"during welcome", esltest.HangupPoint{App: "playback", Nth: 1, Delay: time.Millisecond}, welcome, "welcome"},
		{"during menu", esltest.HangupPoint{App: "play_and_get_digits", Nth: 1, Delay: time.Millisecond}, mainMenu, "main_menu"},
		{"during bridge", esltest.HangupPoint{App: "bridge", Nth: 1, Delay: 5 * time.Millisecond}, "bridge user/1001", "bridge_cc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startIVR(t, harnessOpts{})
			s := esltest.Script{CallerIDNumber: "5551001", Digits: []string{"2"}, PlaybackDuration: 50 * time.Millisecond,
				Bridges: []esltest.BridgeOutcome{{Answer: true, TalkTime: time.Second}}, HangupAt: &tc.at}
			c, es := h.call(t, s, false)
			got := apps(c)
			if got[len(got)-1] != tc.last {
				t.Fatalf("last command %q, want %q (nothing may follow the hangup); all: %q", got[len(got)-1], tc.last, got)
			}
			hu := lastHangup(t, es)
			if hu.Value != "NORMAL_CLEARING" || hu.Node != tc.node {
				t.Fatalf("hangup entry %+v, want cause NORMAL_CLEARING at %s", hu, tc.node)
			}
		})
	}
}

func TestFifoEventsLogged(t *testing.T) {
	h := startIVR(t, harnessOpts{})
	// The caller waits in the queue (FreeSWITCH runs the transfer a moment
	// after its +OK), an agent takes it, then the caller hangs up.
	c, menu := startWatched(t, h, esltest.Script{CallerIDNumber: "5552222", Digits: []string{"3"}, FifoBridge: true,
		PlaybackDuration: 20 * time.Millisecond})
	waitMenu(t, c, menu)
	time.AfterFunc(300*time.Millisecond, func() { c.Hangup("NORMAL_CLEARING") })
	es := waitHangupEntry(t, h, c.UUID())
	if _, ok := entry(es, calllog.KindFIFO); !ok {
		t.Fatalf("no fifo entry: %+v", es)
	}
}

func TestNotifyFlow(t *testing.T) {
	h := startIVR(t, harnessOpts{})
	c, es := h.call(t, esltest.Script{CallerIDNumber: "5550000", Vars: map[string]string{"ivr_flow": "notify"},
		Digits: []string{"2", "1"}}, false)
	menu := "play_and_get_digits 1 1 3 5000 # notify/1000.wav notify/9004.wav notify_digit ^(1|2)$"
	got := apps(c)
	want := []string{"answer", menu, menu, "set notify_result=confirmed", "playback notify/1001.wav", "hangup NORMAL_CLEARING"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("notify commands %q\nwant %q", got, want)
	}
	if es[0].Flow != "notify" {
		t.Fatalf("flow %q", es[0].Flow)
	}
}

func TestSalesOverridePlaybackAnnouncement(t *testing.T) {
	// A playback override takes a path; the announcement plays and the call ends.
	h := startIVR(t, harnessOpts{overrides: ivr.MapOverrides{"fsivr:override:sales": "playback new_sales/9003.wav"}})
	c, es := h.call(t, esltest.Script{CallerIDNumber: "5559999"}, false)
	wantApps(t, c, "answer", welcome, "playback new_sales/9003.wav", "hangup NORMAL_CLEARING")
	if hu := lastHangup(t, es); hu.Fields["outcome"] != "override:playback" {
		t.Fatalf("outcome %q", hu.Fields["outcome"])
	}
}

// Issue 14: ivrd's CPU per event is its CPU seconds over
// fsivr_esl_events_total, which counts every event each connection read
// once the connection ends.
func TestEventsCountedPerConnection(t *testing.T) {
	h := startIVR(t, harnessOpts{})
	c, _ := h.call(t, esltest.Script{CallerIDNumber: "5559999", Digits: []string{"1"}, PlaybackDuration: time.Millisecond}, true)
	n := len(apps(c))
	var got float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if got = counterValue(t, h.reg, "fsivr_esl_events_total"); got > 0 {
			break
		}
	}
	// Every app the IVR ran brought at least CHANNEL_EXECUTE and its
	// completion; the hangup brought two more.
	if got < float64(2*n+2) {
		t.Fatalf("fsivr_esl_events_total = %v after a call of %d apps, want at least %d", got, n, 2*n+2)
	}
}

// TestEventReactionObserved: the commands a session sends in answer to
// events are timed from when the reader queued those events; the answer
// sent at connect answers no event and is not.
func TestEventReactionObserved(t *testing.T) {
	h := startIVR(t, harnessOpts{})
	c, _ := h.call(t, esltest.Script{CallerIDNumber: "5559999", Digits: []string{"1"}, PlaybackDuration: time.Millisecond}, true)
	if got := apps(c); len(got) != 4 {
		t.Fatalf("apps %v, want answer, playback, play_and_get_digits, transfer", got)
	}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var hist *dto.Histogram
	for _, mf := range mfs {
		if mf.GetName() == "fsivr_event_reaction_seconds" {
			hist = mf.GetMetric()[0].GetHistogram()
		}
	}
	if hist == nil {
		t.Fatal("no fsivr_event_reaction_seconds")
	}
	// The menu answers the welcome's completion, the transfer the menu's;
	// the playback may follow the answer's reply or its completion event.
	if n := hist.GetSampleCount(); n < 2 || n > 3 {
		t.Errorf("%d reactions observed, want 2 or 3 (the answer is not one)", n)
	}
	if hist.GetSampleSum() <= 0 {
		t.Errorf("reaction time sum %v, want > 0", hist.GetSampleSum())
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
