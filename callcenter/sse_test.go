package callcenter

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// An idle stream gets heartbeat comments, so proxies keep it open.
func TestHeartbeat(t *testing.T) {
	hub := NewHub(HubConfig{})
	h, err := NewHandler(HandlerConfig{Hub: hub, Tokens: testTokens, Heartbeat: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /v1/events?queues=support HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sup-secret\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	status, _ := r.ReadString('\n')
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("status line %q", status)
	}
	beats := 0
	var head []string
	for beats < 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d heartbeats: %v", beats, err)
		}
		if len(head) < 8 {
			head = append(head, strings.TrimSpace(line))
		}
		if line == ": heartbeat\n" {
			beats++
		}
	}
	if !strings.Contains(strings.Join(head, "|"), "Content-Type: text/event-stream") {
		t.Errorf("response head %v", head)
	}
	if hub.Subscribers() != 1 {
		t.Errorf("subscribers = %d", hub.Subscribers())
	}
	h.Close()
	if hub.Subscribers() != 0 {
		t.Errorf("after Close, subscribers = %d", hub.Subscribers())
	}
}

// Over HTTP/2 (no hijacking) the same stream goes through net/http.
func TestSSEOverHTTP2(t *testing.T) {
	hub := NewHub(HubConfig{})
	h, err := NewHandler(HandlerConfig{Hub: hub, Tokens: testTokens, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	hub.Publish(Event{Type: TypeQueueCount, Queue: "support", Count: 2})
	c, _ := subscribe(t, srv.Client(), srv.URL+"/v1/events?queues=support", "sup-secret", "")
	if c.resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s", c.resp.Proto)
	}
	if s := summary(c.until("snapshotEnd")); strings.Join(s, "|") != "snapshot reason=new|queueCount queue=support count=2|snapshotEnd" {
		t.Errorf("snapshot %v", s)
	}
	hub.Publish(Event{Type: TypeQueueCount, Queue: "support", Count: 3}, Event{Type: TypeQueueCount, Queue: "sales", Count: 1})
	if e := c.next(); e.data["count"] != float64(3) || e.id == "" {
		t.Errorf("live event %+v", e)
	}
	c.none(50 * time.Millisecond)
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub(HubConfig{Metrics: m, Buffer: 1})
	srv := newTestServer(t, HandlerConfig{Hub: hub, Tokens: testTokens, Metrics: m})
	if _, code := subscribe(t, nil, srv.URL+"/v1/events?agents=510", "sup-secret", ""); code != 403 {
		t.Fatalf("code %d", code)
	}
	slow, _ := hub.Subscribe(Scope{Queues: []string{"q"}}, "", "")
	hub.Publish(Event{Type: TypeQueueCount, Queue: "q", Count: 1}, Event{Type: TypeQueueCount, Queue: "q", Count: 2})
	if !hub.Dropped(slow) {
		t.Fatal("not dropped")
	}
	for name, want := range map[string]float64{
		"fsivr_callcenter_refused_total":              1,
		"fsivr_callcenter_slow_clients_dropped_total": 1,
		"fsivr_callcenter_subscribers":                0,
	} {
		if got := gatherValue(t, reg, name, ""); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := gatherValue(t, reg, "fsivr_callcenter_events_total", "queueCount"); got != 2 {
		t.Errorf("events_total{type=queueCount} = %v", got)
	}
	m.reconnected(0.02)
	if got := gatherValue(t, reg, "fsivr_callcenter_ami_reconnects_total", ""); got != 1 {
		t.Errorf("ami_reconnects_total = %v", got)
	}
}

func gatherValue(t *testing.T, reg *prometheus.Registry, name, typ string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if typ != "" {
				match := false
				for _, l := range m.GetLabel() {
					if l.GetName() == "type" && l.GetValue() == typ {
						match = true
					}
				}
				if !match {
					continue
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("metric %s{%s} not found", name, typ)
	return 0
}
