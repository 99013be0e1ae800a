package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer/httpapi"
)

// TestServeCallCentreStream: `dialer serve` with API tokens mounts the
// call-centre stream on the config's ami: section; over real HTTP a token
// with events:read gets the SSE snapshot of the fake Asterisk's queue, a
// token without it 403, an unknown token 401.
func TestServeCallCentreStream(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: slog.New(slog.DiscardHandler),
		Queues: []amitest.Queue{{Name: "support", Members: []amitest.Member{
			{Interface: "Local/500@agent/n", Name: "Alice", StateInterface: "Custom:agent500"}}}},
		Hints:   []amitest.Hint{{Exten: "500", Context: "agents", Hint: "Custom:agent500"}},
		Devices: []amitest.Device{{Name: "Custom:agent500", State: "NOT_INUSE"}}})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	conf := filepath.Join(dir, "dialer.yaml")
	yaml := `api:
  tokens:
    - name: wallboard
      sha256: ` + callcenter.HashToken("reader-secret") + `
      scopes: [events:read]
      agents: ["*"]
      queues: ["*"]
    - name: web
      sha256: ` + callcenter.HashToken("web-secret") + `
      scopes: [calls:create]
`
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	sd := startServe(t, []string{"FSIVR_AMI_ADDR=" + srv.Addr, "FSIVR_AMI_SECRET=secret", "FSIVR_HTTP=127.0.0.1:0",
		"FSIVR_LOG_LEVEL=error", "FSIVR_SPOOL_DIR=" + filepath.Join(dir, "spool")}, "serve", "-config", conf)
	client := &http.Client{Timeout: 10 * time.Second}
	open := func(secret string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, "http://"+sd.addr+"/v1/events?agents=*&queues=support", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for secret, want := range map[string]int{"web-secret": http.StatusForbidden, "nobody": http.StatusUnauthorized} {
		resp := open(secret)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("/v1/events with %s: %d %s, want %d", secret, resp.StatusCode, b, want)
		}
	}
	// The service connects to the fake beside the listener: a snapshot
	// taken before that is stale ("connecting"); a new subscriber later
	// gets the queue.
	var snapshot string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp := open("reader-secret")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			resp.Body.Close()
			t.Fatalf("/v1/events with events:read: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var b strings.Builder
		lines := bufio.NewScanner(resp.Body)
		for lines.Scan() && lines.Text() != "event: snapshotEnd" {
			b.WriteString(lines.Text() + "\n")
		}
		resp.Body.Close()
		if snapshot = b.String(); strings.Contains(snapshot, `"queue":"support"`) {
			break
		}
	}
	if !strings.Contains(snapshot, "event: snapshot\n") || !strings.Contains(snapshot, `"queue":"support"`) {
		t.Errorf("snapshot without the fake's queue:\n%s", snapshot)
	}
	_ = sd.cmd.Process.Signal(syscall.SIGTERM)
	if err := sd.cmd.Wait(); err != nil {
		t.Errorf("serve exit: %v", err)
	}
}

// A secret that is both a dashboard token and an API token without
// events:read opens the stream (as the dashboard's); the API-only one
// does not.
func TestCallCentreSharedSecret(t *testing.T) {
	var cfg Config
	cfg.AMI.Addr = "127.0.0.1:1" // nothing there: the stream opens stale
	both := callcenter.Token{Name: "wall", SHA256: callcenter.HashToken("both"), Agents: []string{"*"}, Queues: []string{"*"}}
	cfg.API.Tokens = []httpapi.Token{
		{Token: callcenter.Token{Name: "wall-api", SHA256: both.SHA256}, Scopes: []httpapi.Scope{httpapi.ScopeCallsCreate}},
		{Token: callcenter.Token{Name: "web", SHA256: callcenter.HashToken("web")}, Scopes: []httpapi.Scope{httpapi.ScopeCallsCreate}},
	}
	mux := http.NewServeMux()
	cc, err := startCallCentre(context.Background(), mux, cfg, nil, []callcenter.Token{both}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.close()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for secret, want := range map[string]int{"both": http.StatusOK, "web": http.StatusForbidden} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/events?agents=*&queues=support", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", secret, resp.StatusCode, want)
		}
	}
}
