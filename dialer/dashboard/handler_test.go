package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dashboard"
	"github.com/fsivr/fsivr/internal/redistest"
)

type snap struct {
	id   string
	data struct {
		Campaigns []dashboard.CampaignView `json:"campaigns"`
		IVR       *dashboard.IVRView       `json:"ivr"`
	}
}

// follow reads /dash/events and sends each snapshot on the channel.
func follow(t *testing.T, url, secret, lastID string) (<-chan snap, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/dash/events", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	out := make(chan snap, 100)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var s snap
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				s.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &s.data); err != nil {
					t.Errorf("bad snapshot %q: %v", line, err)
				}
			case line == "" && s.id != "":
				out <- s
				s = snap{}
			}
		}
	})
	return out, func() { cancel(); resp.Body.Close(); wg.Wait() }
}

func next(t *testing.T, ch <-chan snap) snap {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot")
	}
	return snap{}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var wall = callcenter.Token{Name: "wall", SHA256: callcenter.HashToken("wall-secret"), Agents: []string{"*"}, Queues: []string{"*"}}

// A client that resumes with the id of the snapshot it has gets no copy
// of it: the first snapshot after the reconnect is the next change.
func TestEventsResumeWithLastEventID(t *testing.T) {
	store := dialer.NewMemStore()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := store.Create(ctx, "spring", 5); err != nil {
		t.Fatal(err)
	}
	dash, err := dashboard.New(dashboard.Config{Tokens: []dashboard.Token{{Token: wall, Campaigns: []string{"*"}, Control: true}},
		Store: store, Campaigns: []string{"spring"}, Poll: 20 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dash)
	defer srv.Close()
	defer dash.Close()
	done := make(chan struct{})
	go func() { dash.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	ch, stop := follow(t, srv.URL, "wall-secret", "")
	var first snap
	for first = next(t, ch); len(first.data.Campaigns) != 1 || first.data.Campaigns[0].State != "running"; first = next(t, ch) {
	}
	stop()
	ch, stop = follow(t, srv.URL, "wall-secret", first.id)
	defer stop()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/dash/api/campaigns/spring/pause", nil)
	req.Header.Set("Authorization", "Bearer wall-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pause: %d", resp.StatusCode)
	}
	got := next(t, ch)
	if got.id == first.id || got.data.Campaigns[0].State != "paused" {
		t.Errorf("after resuming from %s the first snapshot is %s with state %q, want the pause", first.id, got.id, got.data.Campaigns[0].State)
	}
	if p, _ := store.Progress(ctx, "spring"); p.State != dialer.CampaignPaused {
		t.Errorf("store state %q after pause", p.State)
	}
}

func xadd(t *testing.T, srv *redistest.Server, stream string, fields ...string) {
	t.Helper()
	vals := append([]string{"v", "1", "ts", time.Now().UTC().Format(time.RFC3339Nano)}, fields...)
	if err := srv.Client(t).XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: vals}).Err(); err != nil {
		t.Fatal(err)
	}
}

// The IVR view comes from the call-log stream through the dashboard's
// consumer group: entries written while no dashboard runs are read by the
// next one (the group remembers where it was), a call sits on its node
// until its hangup, and the outcome and the edge it took are counted.
func TestIVRFromCallLogStream(t *testing.T) {
	rds := redistest.NewServer(t, redistest.Options{})
	const stream = "{fsivr}:calls"
	start := func() (string, func()) {
		dash, err := dashboard.New(dashboard.Config{Tokens: []dashboard.Token{{Token: wall}}, Redis: rds.Client(t), Stream: stream, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(dash)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { dash.Run(ctx); close(done) }()
		return srv.URL, func() { dash.Close(); srv.Close(); cancel(); <-done }
	}
	until := func(ch <-chan snap, ok func(dashboard.IVRView) bool) dashboard.IVRView {
		t.Helper()
		for {
			s := next(t, ch)
			if s.data.IVR != nil && ok(*s.data.IVR) {
				return *s.data.IVR
			}
		}
	}
	url, stop := start()
	ch, unfollow := follow(t, url, "wall-secret", "")
	until(ch, func(v dashboard.IVRView) bool { return v.StreamHealthy }) // the group exists
	unfollow()
	stop()

	xadd(t, rds, stream, "call", "c1", "flow", "sales", "kind", "call_start")
	xadd(t, rds, stream, "call", "c1", "flow", "sales", "node", "welcome", "kind", "node")
	xadd(t, rds, stream, "call", "c2", "flow", "sales", "kind", "call_start")
	xadd(t, rds, stream, "call", "c2", "flow", "sales", "node", "welcome", "kind", "node")
	xadd(t, rds, stream, "call", "c1", "flow", "sales", "node", "main_menu", "kind", "node")

	url, stop = start()
	defer stop()
	ch, unfollow = follow(t, url, "wall-secret", "")
	defer unfollow()
	v := until(ch, func(v dashboard.IVRView) bool { return v.InProgress == 2 })
	if v.ByNode["sales"]["welcome"] != 1 || v.ByNode["sales"]["main_menu"] != 1 || v.ByFlow["sales"] != 2 {
		t.Errorf("by node %v, by flow %v", v.ByNode, v.ByFlow)
	}
	if v.Edges["sales"]["welcome>main_menu"] != 1 || v.CallsPerMin != 2 {
		t.Errorf("edges %v, calls/min %d", v.Edges, v.CallsPerMin)
	}
	xadd(t, rds, stream, "call", "c1", "flow", "sales", "node", "main_menu", "kind", "hangup", "value", "NORMAL_CLEARING", "outcome", "caller_hangup")
	v = until(ch, func(v dashboard.IVRView) bool { return v.InProgress == 1 })
	if v.Outcomes["caller_hangup"] != 1 || v.ByNode["sales"]["main_menu"] != 0 || v.ByNode["sales"]["welcome"] != 1 {
		t.Errorf("after the hangup: outcomes %v, by node %v", v.Outcomes, v.ByNode)
	}
}

// A token sees only its campaigns in the stream, and may change the state
// of none without control, nor of a campaign outside its list.
func TestCampaignScope(t *testing.T) {
	store := dialer.NewMemStore()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, id := range []string{"spring", "autumn"} {
		if err := store.Create(ctx, id, 5); err != nil {
			t.Fatal(err)
		}
	}
	lead := callcenter.Token{Name: "lead", SHA256: callcenter.HashToken("lead-secret"), Agents: []string{"500"}, Queues: []string{"support"}}
	viewer := callcenter.Token{Name: "viewer", SHA256: callcenter.HashToken("viewer-secret")}
	dash, err := dashboard.New(dashboard.Config{Tokens: []dashboard.Token{
		{Token: lead, Campaigns: []string{"spring"}, Control: true},
		{Token: viewer, Campaigns: []string{"*"}},
	}, Store: store, Campaigns: []string{"spring", "autumn"}, Poll: 20 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dash)
	defer srv.Close()
	defer dash.Close()
	done := make(chan struct{})
	go func() { dash.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	ch, stop := follow(t, srv.URL, "lead-secret", "")
	defer stop()
	var s snap
	for s = next(t, ch); len(s.data.Campaigns) == 0 || s.data.Campaigns[0].State != "running"; s = next(t, ch) {
	}
	if len(s.data.Campaigns) != 1 || s.data.Campaigns[0].ID != "spring" {
		t.Errorf("lead sees %+v, want spring only", s.data.Campaigns)
	}
	post := func(secret, path string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		secret, path string
		want         int
	}{
		{"lead-secret", "/dash/api/campaigns/autumn/cancel", http.StatusForbidden},
		{"viewer-secret", "/dash/api/campaigns/spring/pause", http.StatusForbidden},
		{"lead-secret", "/dash/api/campaigns/spring/explode", http.StatusNotFound},
		{"nobody", "/dash/api/campaigns/spring/pause", http.StatusUnauthorized},
		{"lead-secret", "/dash/api/campaigns/spring/cancel", http.StatusOK},
	} {
		if got := post(c.secret, c.path); got != c.want {
			t.Errorf("POST %s: %d, want %d", c.path, got, c.want)
		}
	}
	for id, want := range map[string]dialer.RunState{"spring": dialer.CampaignCancelled, "autumn": dialer.CampaignRunning} {
		if p, _ := store.Progress(ctx, id); p.State != want {
			t.Errorf("%s is %q, want %q", id, p.State, want)
		}
	}
}
