package callcenter

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/ami/amitest"
)

func post(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func fakeCallCentre() amitest.Config {
	return amitest.Config{
		Queues: []amitest.Queue{{Name: "support", Members: []amitest.Member{
			{Interface: "Local/500@agent/n", Name: "Alice", StateInterface: "Custom:agent500"},
			{Interface: "Local/501@agent/n", Name: "Bob", StateInterface: "Custom:agent501"},
		}}},
		Hints: []amitest.Hint{
			{Exten: "500", Context: "agents", Hint: "Custom:agent500"},
			{Exten: "501", Context: "agents", Hint: "Custom:agent501"},
		},
		Devices: []amitest.Device{{Name: "Custom:agent500", State: "NOT_INUSE"}, {Name: "Custom:agent501", State: "NOT_INUSE"}},
	}
}

// rebuildFresh builds a model from the fake's lists over a new connection:
// what the fake's state is now.
func rebuildFresh(t *testing.T, addr string) View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ami.Dial(ctx, addr, "dialer", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var items []Fields
	for _, list := range []func(context.Context) ([]*ami.Message, error){
		func(ctx context.Context) ([]*ami.Message, error) { return c.QueueStatus(ctx, "", "") },
		c.ExtensionStateList, c.DeviceStateList, c.CoreShowChannels,
	} {
		ms, err := list(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			items = append(items, m)
		}
	}
	m := NewModel(ModelConfig{})
	m.Rebuild(items)
	return m.View()
}

// Asterisk restarts mid-stream while an agent is paused and a caller
// waits: after the reconnect the model equals the fake's state, clients
// got exactly the differences (stale first, resynced last), a resuming
// client misses nothing and sees nothing twice, and the list actions were
// sent only at the two connects.
func TestRestartMidStream(t *testing.T) {
	cfg := fakeCallCentre()
	cfg.BootDelay = 150 * time.Millisecond // Login is accepted before FullyBooted after the restart (65)
	fake := amitest.NewServer(cfg)
	t.Cleanup(fake.Close)
	hub := NewHub(HubConfig{})
	var logs bytes.Buffer
	lw := &lockedWriter{w: &logs}
	log := slog.New(slog.NewTextHandler(lw, nil))
	svc, err := NewService(ServiceConfig{Addr: fake.Addr, Username: "dialer", Secret: "secret", Hub: hub, Logger: log,
		MinDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(HandlerConfig{Hub: hub, Tokens: testTokens, Commands: svc, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // after the clients' cleanups (LIFO)
	t.Cleanup(h.Close)

	t.Cleanup(func() {
		if t.Failed() {
			lw.mu.Lock()
			t.Logf("service log:\n%s", logs.String())
			lw.mu.Unlock()
		}
	})
	// subscribed before the service runs, so it sees the first resynced
	wall, _ := subscribe(t, nil, srv.URL+"/v1/events?agents=*&queues=*", "wall-secret", "")
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-runDone
	})
	first := summary(wall.until("resynced"))
	t.Logf("first connect: %v", first)
	for _, want := range []string{"agentName agent=500", "queueMemberStatus agent=501 queue=support status=not_inuse", "extensionStatus agent=500 status=not_inuse", "queueCount queue=support count=0"} {
		if !containsStr(first, want) {
			t.Errorf("first rebuild lacks %q", want)
		}
	}
	// the agent pauses (a command through the API), a caller joins
	if code, body := post(t, srv.URL+"/v1/queue-action", "sup-secret", `{"action":"pause","agent":"500","queue":"support","reason":"lunch"}`); code != 200 {
		t.Fatalf("pause: %d %s", code, body)
	}
	if e := wall.next(); e.event != "queueMemberStatus" || e.data["status"] != "paused" || e.data["pausedReason"] != "lunch" {
		t.Fatalf("after pause: %s %v", e.event, e.data)
	}
	fake.Emit("QueueCallerJoin", "agent", amitest.Header{Name: "Channel", Value: "Local/5551234@customer-00000001;1"},
		amitest.Header{Name: "CallerIDNum", Value: "5551234"}, amitest.Header{Name: "Uniqueid", Value: "w-1"},
		amitest.Header{Name: "Queue", Value: "support"}, amitest.Header{Name: "Position", Value: "1"}, amitest.Header{Name: "Count", Value: "1"})
	if e := wall.next(); e.event != "queueCount" || e.data["count"] != float64(1) {
		t.Fatalf("after join: %s %v", e.event, e.data)
	}
	// the scoped client leaves before the restart and resumes after it
	scoped, _ := subscribe(t, nil, srv.URL+"/v1/events?agents=501&queues=support", "sup-secret", "")
	scoped.until("snapshotEnd")
	lastID := hub.LastID()
	scoped.close()

	fake.Restart(400 * time.Millisecond)
	if e := wall.next(); e.event != "stale" {
		t.Fatalf("after the restart: %s %v", e.event, e.data)
	}
	// while Asterisk is down Bob's phone goes in use
	if !fake.SetDeviceState("Custom:agent501", "INUSE") {
		t.Fatal("SetDeviceState refused")
	}
	diffs := summary(wall.until("resynced"))
	want := []string{"extensionStatus agent=501 status=inuse", "queueMemberStatus agent=501 queue=support status=inuse", "queueCount queue=support count=0", "resynced"}
	if !reflect.DeepEqual(diffs, want) {
		t.Errorf("differences after the reconnect:\n got %v\nwant %v", diffs, want)
	}
	resumed, _ := subscribe(t, nil, srv.URL+"/v1/events?agents=501&queues=support", "sup-secret", lastID)
	got := summary(resumed.until("resynced"))
	if wantR := []string{"stale", "extensionStatus agent=501 status=inuse", "queueMemberStatus agent=501 queue=support status=inuse", "queueCount queue=support count=0", "resynced"}; !containsAllInOrder(got, wantR) || len(got) != len(wantR) {
		t.Errorf("resumed client:\n got %v\nwant %v", got, wantR)
	}

	// no polling: each list action once per connect (two connects)
	for _, a := range RebuildActions {
		if n := len(fake.ActionsNamed(a)); n != 2 {
			t.Errorf("%s sent %d times, want 2 (one per connect)", a, n)
		}
	}
	// after the restart the lists waited for FullyBooted (BootDelay after Login)
	logins, lists := fake.ActionsNamed("Login"), fake.ActionsNamed("QueueStatus")
	last, found := lists[len(lists)-1], false
	for _, l := range logins {
		if l.Session == last.Session {
			found = true
			if last.At.Sub(l.At) < cfg.BootDelay {
				t.Errorf("QueueStatus %v after Login, before FullyBooted", last.At.Sub(l.At))
			}
		}
	}
	if !found {
		t.Errorf("no Login in session %d", last.Session)
	}
	for _, a := range []string{"QueueSummary", "Status", "Agents", "ExtensionState"} {
		if n := len(fake.ActionsNamed(a)); n != 0 {
			t.Errorf("%s sent %d times", a, n)
		}
	}
	// the model equals the fake's state
	if got, want := svc.View(), rebuildFresh(t, fake.Addr); !reflect.DeepEqual(got.Members, want.Members) || !reflect.DeepEqual(got.Queues, want.Queues) || !reflect.DeepEqual(got.Agents, want.Agents) {
		t.Errorf("model after reconnect:\n%+v\nfake's state:\n%+v", got, want)
	}
	v := svc.View().Members["support/500"]
	if !v.Paused || v.PausedReason != "lunch" {
		t.Errorf("agent 500 after the restart: %+v", v)
	}
}

// The server-side filter lets through what the model needs and not the
// rest: the VarSet of MIXMONITOR_FILENAME passes, another VarSet does not.
func TestServerSideFilter(t *testing.T) {
	fake := amitest.NewServer(fakeCallCentre())
	defer fake.Close()
	hub := NewHub(HubConfig{})
	svc, err := NewService(ServiceConfig{Addr: fake.Addr, Username: "dialer", Secret: "secret", Hub: hub,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	sub, _ := hub.Subscribe(Scope{Agents: []string{Any}, Queues: []string{Any}}, "", "")
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitType(t, sub, TypeResynced)
	n0 := svc.AMIEvents()
	H := func(n, v string) amitest.Header { return amitest.Header{Name: n, Value: v} }
	fake.Emit("VarSet", "dialplan", H("Uniqueid", "c-1"), H("Variable", "SOMETHING_ELSE"), H("Value", "/wrong.wav"))
	fake.Emit("VarSet", "dialplan", H("Uniqueid", "c-1"), H("Variable", "MIXMONITOR_FILENAME"), H("Value", "/opt/ast/var/spool/asterisk/monitor/c-1.wav"))
	fake.Emit("Newexten", "dialplan", H("Uniqueid", "c-1"))
	fake.Emit("AgentComplete", "agent", H("Uniqueid", "c-1"), H("Queue", "support"), H("Interface", "Local/500@agent/n"),
		H("HoldTime", "3"), H("TalkTime", "9"), H("Reason", "agent"))
	e := waitType(t, sub, TypeAgentComplete)
	if e.Recording != "/opt/ast/var/spool/asterisk/monitor/c-1.wav" || e.TalkTime != 9 || e.HoldTime != 3 || e.Agent != "500" {
		t.Errorf("agentComplete = %+v", e)
	}
	if n := svc.AMIEvents() - n0; n != 2 {
		t.Errorf("%d AMI events reached the model, want 2: the MIXMONITOR_FILENAME VarSet and AgentComplete", n)
	}
}

func waitType(t *testing.T, s *Subscriber, typ Type) Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f := <-s.ch:
			if f.ev.Type == typ {
				return f.ev
			}
		case <-timeout:
			t.Fatalf("no %s within 5 s", typ)
		}
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsAllInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// A dropped connection (network cut, Asterisk still up): clients get stale,
// then resynced with nothing between when nothing changed, and a change
// made while the link was down arrives exactly once.
func TestDroppedConnectionNoDuplicates(t *testing.T) {
	fake := amitest.NewServer(fakeCallCentre())
	t.Cleanup(fake.Close)
	hub := NewHub(HubConfig{})
	svc, err := NewService(ServiceConfig{Addr: fake.Addr, Username: "dialer", Secret: "secret", Hub: hub,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		MinDelay: 50 * time.Millisecond, MaxDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := hub.Subscribe(Scope{Agents: []string{Any}, Queues: []string{Any}}, "", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitType(t, sub, TypeResynced)

	types := func() []string {
		var out []string
		for {
			f := <-sub.ch
			s := string(f.ev.Type)
			if f.ev.Agent != "" {
				s += " " + f.ev.Agent
			}
			if f.ev.Status != "" {
				s += " " + f.ev.Status
			}
			out = append(out, s)
			if f.ev.Type == TypeResynced {
				return out
			}
		}
	}
	fake.DropAll()
	if got := types(); !reflect.DeepEqual(got, []string{"stale", "resynced"}) {
		t.Errorf("after a cut with no change: %v", got)
	}
	// cut again, and refuse connects while Bob's phone goes busy
	if err := fake.SetRefusing(true); err != nil {
		t.Fatal(err)
	}
	fake.DropAll()
	if e := waitType(t, sub, TypeStale); e.Type != TypeStale {
		t.Fatal(e)
	}
	fake.SetDeviceState("Custom:agent501", "BUSY")
	if err := fake.SetRefusing(false); err != nil {
		t.Fatal(err)
	}
	// only what changed: queueCount and the names are not told again
	want := []string{"extensionStatus 501 busy", "queueMemberStatus 501 busy", "resynced"}
	if got := types(); !reflect.DeepEqual(got, want) {
		t.Errorf("after a cut with a change: %v, want %v", got, want)
	}
}
