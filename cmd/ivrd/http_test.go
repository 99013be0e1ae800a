package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Issue 16 item 13: /healthz says 503 while calls drain (the HTTP server
// stays up until the drain ends), /readyz exists, connections are bounded.
func TestHealthDuringDrain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var h health
	stop, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveHTTP(stop, ln, newHTTPHandler(prometheus.NewRegistry(), &h, false), slog.New(slog.DiscardHandler))
	}()
	base := "http://" + ln.Addr().String()
	if got := get(t, base+"/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("readyz while starting: %d", got)
	}
	h.ready.Store(true)
	if get(t, base+"/healthz") != 200 || get(t, base+"/readyz") != 200 {
		t.Error("not healthy and ready once started")
	}
	h.draining.Store(true) // SIGTERM: the drain runs, the HTTP server still answers
	if got := get(t, base+"/healthz"); got != http.StatusServiceUnavailable {
		t.Errorf("healthz during the drain: %d, want 503", got)
	}
	if got := get(t, base+"/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("readyz during the drain: %d, want 503", got)
	}
	cancel()
	<-done

	srv := newHTTPServer("127.0.0.1:0", http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 || srv.ReadTimeout <= 0 {
		t.Errorf("unbounded HTTP server: %+v", srv)
	}
}

// Issue 16 item 21: readiness reaches systemd's notify socket.
func TestSdNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := sdNotify(func(k string) string {
		if k == "NOTIFY_SOCKET" {
			return path
		}
		return ""
	}, "READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	if err := sdNotify(func(string) string { return "" }, "READY=1"); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
	_ = os.Remove(path)
}

// Issue 14 item 1: the CPU profile of a real ivrd is one config key away,
// and off unless asked for.
func TestPprofOnlyWhenConfigured(t *testing.T) {
	for _, on := range []bool{false, true} {
		srv := httptest.NewServer(newHTTPHandler(prometheus.NewRegistry(), &health{}, on))
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		if got := get(t, srv.URL+"/debug/pprof/goroutine?debug=1"); got != want {
			t.Errorf("pprof %v: /debug/pprof/goroutine said %d, want %d", on, got, want)
		}
		srv.Close()
	}
}
