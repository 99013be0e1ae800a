package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dashboard"
	"github.com/fsivr/fsivr/dialer/dialertest"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/internal/redistest"
)

// chromiumPath finds Debian's chromium. Absent, the test FAILS: CI
// installs it (apt-get install chromium), and a browser test that skips
// proves nothing.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found on PATH: install it (apt-get install -y chromium)")
	return ""
}

// browser starts headless chromium with a fresh profile and collects the
// page's JavaScript errors (exceptions, console.error, error log entries).
type browser struct {
	ctx      context.Context
	dropping atomic.Bool // the test is cutting the dashboard's stream
	mu       sync.Mutex
	errors   []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1400),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	b := &browser{ctx: ctx}
	if err := b.listen(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) listen(ctx context.Context) error {
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if ex := e.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value))
				}
				msg = "console.error: " + strings.Join(parts, " ")
			}
		case *cdplog.EventEntryAdded:
			// A stream the test cuts on purpose (CloseClientConnections)
			// is logged as a failed load of /dash/events; any other error
			// entry fails the test.
			dropped := e.Entry.Source == cdplog.EntrySourceNetwork && strings.HasSuffix(e.Entry.URL, "/dash/events") &&
				strings.Contains(e.Entry.Text, "ERR_INCOMPLETE_CHUNKED_ENCODING")
			if e.Entry.Level == cdplog.EntryLevelError && !(dropped && b.dropping.Load()) {
				msg = "log: " + e.Entry.Text + " " + e.Entry.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	return err
}

// tab opens another tab of the same browser (its own sessionStorage).
func (b *browser) tab(t *testing.T) *browser {
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	nb := &browser{ctx: ctx}
	if err := nb.listen(ctx); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	return nb
}

func (b *browser) jsErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// eval returns what expr evaluates to, as a string.
func (b *browser) eval(t *testing.T, expr string) string {
	t.Helper()
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`String((function(){ try { return (`+expr+`); } catch (e) { return "!"+e; } })())`))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return out
}

// waitFor polls expr until it evaluates to want; the deadline only bounds
// a failure.
func (b *browser) waitFor(t *testing.T, what, expr, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = b.eval(t, expr); got == want {
			return
		}
		time.Sleep(40 * time.Millisecond)
	}
	t.Fatalf("%s: %s is %q, want %q", what, expr, got, want)
}

func (b *browser) login(t *testing.T, url, secret string) {
	t.Helper()
	if err := chromedp.Do(b.ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), secret),
		chromedp.Click(chromedp.CSS("#login-btn")),
		chromedp.WaitVisible(chromedp.CSS("#board")),
	); err != nil {
		t.Fatalf("login: %v", err)
	}
}

func text(sel string) string {
	b, _ := json.Marshal(sel)
	return fmt.Sprintf(`(document.querySelector(%s) || {textContent: "(none)"}).textContent`, b)
}

func count(sel string) string {
	b, _ := json.Marshal(sel)
	return fmt.Sprintf(`document.querySelectorAll(%s).length`, b)
}

func fakeCallCentre() amitest.Config {
	return amitest.Config{
		Queues: []amitest.Queue{
			{Name: "support", Members: []amitest.Member{
				{Interface: "Local/500@agent/n", Name: "Alice", StateInterface: "Custom:agent500"},
				{Interface: "Local/501@agent/n", Name: "Bob", StateInterface: "Custom:agent501"},
			}},
			{Name: "sales", Members: []amitest.Member{
				{Interface: "Local/502@agent/n", Name: "Carol", StateInterface: "Custom:agent502"},
			}},
		},
		Hints: []amitest.Hint{
			{Exten: "500", Context: "agents", Hint: "Custom:agent500"},
			{Exten: "501", Context: "agents", Hint: "Custom:agent501"},
			{Exten: "502", Context: "agents", Hint: "Custom:agent502"},
		},
		Devices: []amitest.Device{
			{Name: "Custom:agent500", State: "NOT_INUSE"}, {Name: "Custom:agent501", State: "NOT_INUSE"},
			{Name: "Custom:agent502", State: "NOT_INUSE"},
		},
		BootDelay: 100 * time.Millisecond,
	}
}

type world struct {
	url   string
	fake  *amitest.Server
	eng   *dialer.Engine
	calls *calllog.Writer
	srv   *httptest.Server
	// resumes counts /dash/events requests that carried Last-Event-ID.
	resumes *atomic.Int32
}

// startWorld wires what `dialer serve` wires: the call-centre Service,
// Hub and Handler on an amitest fake, a campaign engine on the scripted
// backend, the call-log stream in a real Redis, and the dashboard at /.
func startWorld(t *testing.T) *world {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rds := redistest.NewServer(t, redistest.Options{})
	client := rds.Client(t)

	fake := amitest.NewServer(fakeCallCentre())
	t.Cleanup(fake.Close)
	hub := callcenter.NewHub(callcenter.HubConfig{Retention: time.Minute})
	svc, err := callcenter.NewService(callcenter.ServiceConfig{Addr: fake.Addr, Username: "dialer", Secret: "secret", Hub: hub,
		Logger: log, MinDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sup := callcenter.Token{Name: "supervisor", SHA256: callcenter.HashToken("sup-secret"),
		Agents: []string{callcenter.Any}, Queues: []string{callcenter.Any}}
	team := callcenter.Token{Name: "support-team", SHA256: callcenter.HashToken("team-secret"),
		Agents: []string{"500", "501"}, Queues: []string{"support"}}
	cc, err := callcenter.NewHandler(callcenter.HandlerConfig{Hub: hub, Commands: svc, Logger: log,
		Tokens: []callcenter.Token{sup, team}})
	if err != nil {
		t.Fatal(err)
	}

	store := dialer.NewMemStore()
	camp := dialer.Campaign{
		ID:      "reminders",
		Trunks:  []dialer.Trunk{{Name: "carrier", Channel: "PJSIP/${number}@carrier", Ports: 2, CPS: 20}},
		Hours:   dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}},
		Retries: map[dialer.Disposition]dialer.Retry{dialer.Busy: {Max: 1, Delay: 100 * time.Millisecond}},
	}
	backend := dialertest.New(nil, func(c dialer.Call, n int) dialertest.Step {
		switch {
		case c.ContactID == "c8":
			return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Failed}, Delay: 150 * time.Millisecond}
		case (c.ContactID == "c1" || c.ContactID == "c2") && n == 0:
			return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Busy}, Delay: 150 * time.Millisecond}
		}
		return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Answered}, Delay: 250 * time.Millisecond}
	})
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: store, Backend: backend, Logger: log, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := eng.Create(ctx); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("id,number,timezone\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&csv, "c%d,+4420794600%02d,Europe/London\n", i, i)
	}
	if _, err := dialer.ImportCSV(ctx, strings.NewReader(csv.String()), &dialer.Normalizer{}, func(cs []dialer.Contact) error {
		_, _, err := eng.Add(ctx, cs)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	lcfg := calllog.Config{SpoolDir: t.TempDir()}
	keys, err := lcfg.Keys()
	if err != nil {
		t.Fatal(err)
	}
	calls, err := calllog.NewWriter(lcfg, client, log)
	if err != nil {
		t.Fatal(err)
	}
	flow, err := flows.Load(filepath.Join("testdata", "notify.yaml"), flows.Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	dash, err := dashboard.New(dashboard.Config{
		Tokens: []dashboard.Token{
			{Token: sup, Campaigns: []string{callcenter.Any}, Control: true},
			{Token: team, Campaigns: []string{"reminders"}},
		},
		Store: store, Campaigns: []string{"reminders"}, Poll: 50 * time.Millisecond,
		Redis: client, Stream: keys.StreamKeys()[0], Flows: []*flows.Flow{flow},
		Thresholds: map[string]dashboard.Threshold{"support": {Waiting: 1}},
		Logger:     log,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range callcenter.Paths {
		mux.Handle(p, cc)
	}
	mux.Handle("/", dash)
	resumes := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dash/events" && r.Header.Get("Last-Event-ID") != "" {
			resumes.Add(1)
		}
		mux.ServeHTTP(w, r)
	}))

	var wg sync.WaitGroup
	wg.Go(func() { _ = svc.Run(ctx) })
	wg.Go(func() { dash.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		cc.Close()
		dash.Close()
		srv.Close()
		wg.Wait()
		_ = calls.Close(context.Background())
	})
	return &world{url: srv.URL + "/", fake: fake, eng: eng, calls: calls, srv: srv, resumes: resumes}
}

// TestBrowserDashboard drives Debian's Chromium against the page: a
// campaign's counters move to their final values, an agent state change
// made in amitest appears, a call through the IVR appears on its node and
// leaves, the stale marker shows while Asterisk restarts, and a token
// without a queue's (or the buttons') scope never sees them.
func TestBrowserDashboard(t *testing.T) {
	chromiumPath(t) // first: a missing browser fails, before anything may skip
	w := startWorld(t)
	b := newBrowser(t)
	b.login(t, w.url, "sup-secret")

	// Agents and queues from the call-centre stream.
	b.waitFor(t, "agent grid", count("#agents tr[data-agent]"), "3")
	b.waitFor(t, "agent name", text(`tr[data-agent="500"] .name`), "Alice")
	b.waitFor(t, "agent state", text(`tr[data-agent="500"] .state`), "not_inuse")
	b.waitFor(t, "queue tiles", count("#queues .queue"), "2")
	for i, q := range []struct{ queue, id string }{{"support", "s1"}, {"support", "s2"}, {"sales", "s3"}} {
		if err := w.fake.JoinQueue(q.queue, amitest.QueueCaller{Channel: fmt.Sprintf("Local/555000%d@customer-0000000%d;1", i, i),
			Uniqueid: q.id, CallerIDNum: fmt.Sprintf("555000%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b.waitFor(t, "support waiting", text(`.queue[data-queue="support"] .waiting`), "2")
	b.waitFor(t, "sales waiting", text(`.queue[data-queue="sales"] .waiting`), "1")
	b.waitFor(t, "support over its threshold", `document.querySelector('.queue[data-queue="support"]').classList.contains("alarm")`, "true")
	if got := b.eval(t, `document.querySelector('.queue[data-queue="sales"]').classList.contains("alarm")`); got != "false" {
		t.Errorf("sales tile red without a threshold: %s", got)
	}

	// An agent's phone goes in use in Asterisk.
	if !w.fake.SetDeviceState("Custom:agent500", "INUSE") {
		t.Fatal("amitest: SetDeviceState refused")
	}
	b.waitFor(t, "agent 500 in use", text(`tr[data-agent="500"] .state`), "inuse")
	// An agent pauses (through the call-centre API, which asks Asterisk).
	preq, _ := http.NewRequest(http.MethodPost, w.url+"v1/queue-action",
		strings.NewReader(`{"action":"pause","agent":"501","queue":"support","reason":"lunch"}`))
	preq.Header.Set("Authorization", "Bearer sup-secret")
	presp, err := http.DefaultClient.Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != http.StatusOK {
		t.Fatalf("queue-action pause: %d", presp.StatusCode)
	}
	b.waitFor(t, "agent 501 paused", text(`tr[data-agent="501"] .state`)+"+'/'+"+text(`tr[data-agent="501"] .reason`), "paused/lunch")

	// The campaign runs; the counters move and end at their final values.
	sel := `.campaign[data-campaign="reminders"] `
	b.waitFor(t, "campaign shown", text(sel+".remaining"), "8")
	b.waitFor(t, "buttons for a controlling token", count(sel+"button"), "3")
	runDone := make(chan dialer.Progress, 1)
	go func() {
		p, err := w.eng.Run(context.Background())
		if err != nil {
			t.Errorf("campaign: %v", err)
		}
		runDone <- p
	}()
	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && b.eval(t, text(sel+".remaining")) != "0" {
		seen[b.eval(t, text(sel+".dialed"))] = true
		time.Sleep(30 * time.Millisecond)
	}
	p := <-runDone
	if len(seen) < 3 {
		t.Errorf("the dialed counter was seen at %v only: it did not move live", seen)
	}
	want := map[string]string{"dialed": "10", "answered": "7", "failed": "1", "retrying": "0", "remaining": "0"}
	if p.Attempts != 10 || p.Final[dialer.StatusAnswered] != 7 {
		t.Fatalf("engine ended with %+v, the test's script expects 10 attempts and 7 answered", p)
	}
	for k, v := range want {
		b.waitFor(t, "final "+k, text(sel+"."+k), v)
	}
	b.waitFor(t, "campaign done", text(sel+".state"), "done")
	if n := b.eval(t, count(sel+"svg.chart polyline")); n != "2" {
		t.Errorf("chart: %s polylines, want 2 (dialed, answered)", n)
	}

	// A call runs through the IVR: on its node, then gone.
	b.waitFor(t, "call-log stream followed", `document.querySelector("#ivr-stream").hidden`, "true")
	node := func(id string) string { return text(`.flow[data-flow="notify"] g[data-node="` + id + `"] .count`) }
	b.waitFor(t, "flow drawn", node("message"), "0")
	w.calls.Append(calllog.Entry{Call: "call-1", Flow: "notify", FlowVersion: flowVersion, Kind: calllog.KindCallStart})
	w.calls.Append(calllog.Entry{Call: "call-1", Flow: "notify", Node: "message", Kind: calllog.KindNode, Value: "NotifyMessage"})
	b.waitFor(t, "call on message", node("message"), "1")
	b.waitFor(t, "in progress", text("#ivr-inprogress"), "1")
	b.waitFor(t, "calls per minute", text("#ivr-cpm"), "1")
	w.calls.Append(calllog.Entry{Call: "call-1", Flow: "notify", Node: "confirmed", Kind: calllog.KindNode})
	b.waitFor(t, "call moved on", node("confirmed")+"+'/'+"+node("message"), "1/0")
	b.waitFor(t, "edge traversed", `document.querySelector('.flow[data-flow="notify"] path[data-edge="message>confirmed"]').classList.contains("hot")`, "true")
	shot(t, b, "dashboard.png")
	w.calls.Append(calllog.Entry{Call: "call-1", Flow: "notify", Node: "confirmed", Kind: calllog.KindHangup, Value: "NORMAL_CLEARING",
		Fields: map[string]string{"outcome": "hangup"}})
	b.waitFor(t, "call left", node("confirmed"), "0")
	b.waitFor(t, "in progress after hangup", text("#ivr-inprogress"), "0")
	b.waitFor(t, "outcome counted", text(`#ivr-outcomes li[data-outcome="hangup"]`), "hangup: 1")

	// The dashboard's stream drops (the call-centre one, hijacked, stays):
	// the page reconnects with Last-Event-ID and goes on updating.
	b.dropping.Store(true)
	w.srv.CloseClientConnections()
	w.calls.Append(calllog.Entry{Call: "call-2", Flow: "notify", FlowVersion: flowVersion, Kind: calllog.KindCallStart})
	w.calls.Append(calllog.Entry{Call: "call-2", Flow: "notify", Node: "message", Kind: calllog.KindNode})
	b.waitFor(t, "call after the reconnect", node("message"), "1")
	if w.resumes.Load() == 0 {
		t.Error("the page reconnected without Last-Event-ID")
	}
	b.waitFor(t, "connection shown live", text("#conn"), "live")
	b.dropping.Store(false)

	// Asterisk restarts: stale while the link is down, cleared after.
	up := w.fake.Restart(time.Second)
	b.waitFor(t, "stale marker", `document.querySelector("#stale").hidden`, "false")
	<-up
	b.waitFor(t, "stale cleared", `document.querySelector("#stale").hidden`, "true")
	// live again after the reconnect
	if !w.fake.SetDeviceState("Custom:agent500", "NOT_INUSE") {
		t.Fatal("amitest: SetDeviceState refused")
	}
	b.waitFor(t, "agent 500 free after the reconnect", text(`tr[data-agent="500"] .state`), "not_inuse")

	// A token scoped to the support queue and agents 500-501, no control.
	team := b.tab(t)
	team.login(t, w.url, "team-secret")
	team.waitFor(t, "team agents", count("#agents tr[data-agent]"), "2")
	team.waitFor(t, "team queues", text(`.queue[data-queue="support"] .waiting`), "0") // the restart dropped the callers
	team.waitFor(t, "team sees the campaign", text(sel+".answered"), "7")
	if n := team.eval(t, count(`.queue[data-queue="sales"], tr[data-agent="502"]`)); n != "0" {
		t.Errorf("the support team sees %s sales elements", n)
	}
	if n := team.eval(t, count(sel+"button")); n != "0" {
		t.Errorf("a token without control sees %s campaign buttons", n)
	}
	// and the API refuses it the action the page hides
	req, _ := http.NewRequest(http.MethodPost, w.url+"dash/api/campaigns/reminders/pause", nil)
	req.Header.Set("Authorization", "Bearer team-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("pause by a token without control: %d, want 403", resp.StatusCode)
	}
	// nor may it subscribe to the sales queue's events
	req, _ = http.NewRequest(http.MethodGet, w.url+"v1/events?queues=sales", nil)
	req.Header.Set("Authorization", "Bearer team-secret")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sales events for the support team: %d, want 403", resp.StatusCode)
	}
	shot(t, team, "team.png")

	for _, tab := range []*browser{b, team} {
		for _, e := range tab.jsErrors() {
			t.Errorf("JavaScript error: %s", e)
		}
	}
}

const flowVersion = "test"

// shot saves a screenshot under the test's temp dir (FSIVR_SCREENSHOTS
// names another directory, to look at while developing).
func shot(t *testing.T, b *browser, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("FSIVR_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
