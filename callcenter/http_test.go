package callcenter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sseEvent is one received SSE message, with when it arrived.
type sseEvent struct {
	id, event string
	data      map[string]any
	at        time.Time
}

type sseClient struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	events chan sseEvent
	done   chan struct{}
}

func newTestServer(t *testing.T, cfg HandlerConfig) *httptest.Server {
	t.Helper()
	var logs bytes.Buffer
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, nil))
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	return srv
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func subscribe(t *testing.T, client *http.Client, url, token, lastID string) (*sseClient, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	c := &sseClient{t: t, resp: resp, cancel: cancel, events: make(chan sseEvent, 100000), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.close)
	return c, resp.StatusCode
}

func (c *sseClient) read() {
	defer close(c.done)
	sc := bufio.NewScanner(c.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" {
				cur.at = time.Now()
				c.events <- cur
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &cur.data); err != nil {
				c.t.Errorf("bad data line %q: %v", line, err)
			}
		}
	}
}

func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
	<-c.done
}

// next returns the next event, failing after a timeout.
func (c *sseClient) next() sseEvent {
	c.t.Helper()
	select {
	case e := <-c.events:
		return e
	case <-time.After(5 * time.Second):
		c.t.Fatal("no event within 5 s")
	}
	return sseEvent{}
}

// until collects events up to and including the first of type typ.
func (c *sseClient) until(typ string) []sseEvent {
	c.t.Helper()
	var out []sseEvent
	for {
		e := c.next()
		out = append(out, e)
		if e.event == typ {
			return out
		}
	}
}

func (c *sseClient) none(d time.Duration) {
	c.t.Helper()
	select {
	case e := <-c.events:
		c.t.Errorf("unexpected event %s %v", e.event, e.data)
	case <-time.After(d):
	}
}

func summary(evs []sseEvent) []string {
	var out []string
	for _, e := range evs {
		s := e.event
		keys := []string{"agent", "queue", "status", "count", "reason"}
		if e.event == "stale" {
			keys = nil // its reason is an error text
		}
		for _, k := range keys {
			if v, ok := e.data[k]; ok {
				s += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		out = append(out, s)
	}
	return out
}

var testTokens = []Token{
	{Name: "sup", SHA256: HashToken("sup-secret"), Agents: []string{"500", "501"}, Queues: []string{"support"}},
	{Name: "sales", SHA256: HashToken("sales-secret"), Agents: []string{"510"}, Queues: []string{"sales"}},
	{Name: "wall", SHA256: HashToken("wall-secret"), Agents: []string{Any}, Queues: []string{Any}},
}

// Two clients with different scopes get exactly their events; a late
// client first gets the snapshot; a client that resumes with
// Last-Event-ID misses nothing and sees nothing twice.
func TestSSEScopesSnapshotResume(t *testing.T) {
	hub := NewHub(HubConfig{})
	srv := newTestServer(t, HandlerConfig{Hub: hub, Tokens: testTokens})
	a, _ := subscribe(t, nil, srv.URL+"/v1/events?agents=500,501&queues=support", "sup-secret", "")
	b, _ := subscribe(t, nil, srv.URL+"/v1/events?agents=510&queues=sales", "sales-secret", "")
	for _, c := range []*sseClient{a, b} {
		evs := c.until("snapshotEnd")
		if evs[0].event != "snapshot" || evs[0].data["reason"] != "new" || len(evs) != 2 {
			t.Fatalf("empty snapshot = %v", summary(evs))
		}
	}
	m := NewModel(ModelConfig{})
	for _, e := range liveEvents(loadCapture(t, "61_queue_members_pause_add_remove"))[:12] {
		hub.Publish(m.Apply(e)...)
	}
	hub.Publish(Event{Type: TypeQueueMemberStatus, Agent: "510", Queue: "sales", Status: "not_inuse"},
		Event{Type: TypeQueueCount, Queue: "sales", Count: 2},
		Event{Type: TypeQueueMemberStatus, Agent: "500", Queue: "sales", Status: "not_inuse"}, // neither: a lacks sales, b lacks 500
		Event{Type: TypeStale, Reason: "test"})
	ga := summary(a.until("stale"))
	for _, s := range ga {
		if strings.Contains(s, "queue=sales") || strings.Contains(s, "agent=510") || strings.Contains(s, "queue=agentsq") {
			t.Errorf("a got %s", s)
		}
	}
	if len(ga) < 3 || ga[0] != "agentName agent=500" || ga[len(ga)-1] != "stale" {
		t.Errorf("a got %v", ga)
	}
	gb := summary(b.until("stale"))
	if want := []string{"queueMemberStatus agent=510 queue=sales status=not_inuse", "queueCount queue=sales count=2", "stale"}; strings.Join(gb, "|") != strings.Join(want, "|") {
		t.Errorf("b got %v\nwant %v", gb, want)
	}

	// A late client: snapshot first (the facts in scope, stale included), then live.
	late, _ := subscribe(t, nil, srv.URL+"/v1/events?agents=510&queues=sales", "sales-secret", "")
	snap := summary(late.until("snapshotEnd"))
	if want := []string{"snapshot reason=new", "queueCount queue=sales count=2", "queueMemberStatus agent=510 queue=sales status=not_inuse", "stale", "snapshotEnd"}; strings.Join(snap, "|") != strings.Join(want, "|") {
		t.Errorf("late snapshot %v\nwant %v", snap, want)
	}

	// Resume: b goes away after an event, events are published while it is
	// away, it comes back with the last id it saw.
	hub.Publish(Event{Type: TypeQueueCount, Queue: "sales", Count: 3})
	last := b.next()
	if last.data["count"] != float64(3) || last.id == "" {
		t.Fatalf("b: %+v", last)
	}
	b.close()
	hub.Publish(Event{Type: TypeQueueCount, Queue: "sales", Count: 4}, Event{Type: TypeResynced}, Event{Type: TypeQueueCount, Queue: "support", Count: 9})
	hub.Publish(Event{Type: TypeQueueMemberStatus, Agent: "510", Queue: "sales", Status: "paused", PausedReason: "lunch", PausedSince: 7})
	r, _ := subscribe(t, nil, srv.URL+"/v1/events?agents=510&queues=sales", "sales-secret", last.id)
	got := r.until("queueMemberStatus")
	if s := summary(got); strings.Join(s, "|") != "queueCount queue=sales count=4|resynced|queueMemberStatus agent=510 queue=sales status=paused" {
		t.Errorf("resumed got %v", s)
	}
	r.none(100 * time.Millisecond)
	if got[2].data["pausedReason"] != "lunch" {
		t.Errorf("paused event %v", got[2].data)
	}
	// a resume id from another process is answered with a flagged snapshot
	s2, _ := subscribe(t, nil, srv.URL+"/v1/events?agents=510&queues=sales", "sales-secret", "other.5")
	if first := s2.next(); first.event != "snapshot" || first.data["reason"] != "unknown" || first.data["resumed"] != false {
		t.Errorf("foreign id: %+v", first)
	}
}

func TestSSERefusals(t *testing.T) {
	hub := NewHub(HubConfig{})
	var logs bytes.Buffer
	lw := &lockedWriter{w: &logs}
	srv := newTestServer(t, HandlerConfig{Hub: hub, Tokens: testTokens, Logger: slog.New(slog.NewTextHandler(lw, nil))})
	for _, c := range []struct {
		url, token string
		code       int
	}{
		{"/v1/events?agents=510&queues=sales", "sup-secret", http.StatusForbidden},
		{"/v1/events?agents=500&queues=sales", "sup-secret", http.StatusForbidden},
		{"/v1/events?agents=*", "sup-secret", http.StatusForbidden},
		{"/v1/events?agents=500", "wrong", http.StatusUnauthorized},
		{"/v1/events?agents=a|b", "sup-secret", http.StatusBadRequest},
	} {
		if _, code := subscribe(t, nil, srv.URL+c.url, c.token, ""); code != c.code {
			t.Errorf("%s with %s: %d, want %d", c.url, c.token, code, c.code)
		}
	}
	lw.mu.Lock()
	out := logs.String()
	lw.mu.Unlock()
	if !strings.Contains(out, "refused: outside the token's scope") || !strings.Contains(out, "outside=\"agent 510\"") {
		t.Errorf("refusal not logged:\n%s", out)
	}
	if strings.Contains(out, "sup-secret") || strings.Contains(out, "wrong") {
		t.Error("a token reached the log")
	}
	if hub.Subscribers() != 0 {
		t.Errorf("refused requests left %d subscribers", hub.Subscribers())
	}
}

// smallBufListener makes accepted connections' send buffers small so a
// client that stops reading blocks the server's writes soon.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// A client that stops reading is dropped; another client's events are not
// delayed meanwhile (measured by its receive times against publish times).
func TestSlowClientDroppedOthersUndelayed(t *testing.T) {
	hub := NewHub(HubConfig{Buffer: 32})
	h, err := NewHandler(HandlerConfig{Hub: hub, Tokens: testTokens, WriteTimeout: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallBufListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)

	slowClient := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}}
	// the slow client reads its snapshot, then never reads again
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/events?agents=*&queues=*", nil)
	req.Header.Set("Authorization", "Bearer wall-secret")
	resp, err := slowClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	fast, _ := subscribe(t, nil, srv.URL+"/v1/events?agents=*&queues=*", "wall-secret", "")
	fast.until("snapshotEnd")

	big := strings.Repeat("x", 2000)
	published := map[string]time.Time{}
	var order []string
	deadline := time.Now().Add(10 * time.Second)
	for hub.Subscribers() > 1 && time.Now().Before(deadline) {
		for i := 0; i < 20; i++ {
			hub.Publish(Event{Type: TypeAgentName, Agent: fmt.Sprint(len(order)), Name: big})
			id := hub.LastID()
			published[id] = time.Now()
			order = append(order, id)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if hub.Subscribers() != 1 {
		t.Fatalf("the slow client was not dropped after %d events", len(order))
	}
	var worst time.Duration
	for _, id := range order {
		e := fast.next()
		if e.id != id {
			t.Fatalf("fast client got id %s, want %s", e.id, id)
		}
		if d := e.at.Sub(published[id]); d > worst {
			worst = d
		}
	}
	t.Logf("%d events; slow client dropped; fast client's worst delay %v", len(order), worst)
	// The slow client stalls for its whole buffer and the write timeout
	// (300 ms) before it is dropped; the fast one must not wait for that.
	if worst > 250*time.Millisecond {
		t.Errorf("fast client delayed by %v while the slow one stalled", worst)
	}
}

func TestNewHandlerChecksTokens(t *testing.T) {
	hub := NewHub(HubConfig{})
	for name, toks := range map[string][]Token{
		"no name":   {{SHA256: HashToken("a")}},
		"bad hash":  {{Name: "x", SHA256: "secret-in-clear"}},
		"duplicate": {{Name: "x", SHA256: HashToken("a")}, {Name: "y", SHA256: HashToken("a")}},
		"bad agent": {{Name: "x", SHA256: HashToken("a"), Agents: []string{"5\r\n00"}}},
		"bad queue": {{Name: "x", SHA256: HashToken("a"), Queues: []string{"a,b"}}},
	} {
		if _, err := NewHandler(HandlerConfig{Hub: hub, Tokens: toks}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewHandler(HandlerConfig{Hub: hub, Tokens: testTokens}); err != nil {
		t.Errorf("good tokens: %v", err)
	}
}
