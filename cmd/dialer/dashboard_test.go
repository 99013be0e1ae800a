package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer"
)

// The dashboard section mounts the page at / and the call-centre stream
// beside it; a campaign given to serve is shown to a token that sees it.
func TestDashboardMounted(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "dialer.yaml")
	yaml := `spool_dir: ` + filepath.Join(dir, "spool") + `
ami: {addr: "127.0.0.1:1", username: dialer, secret: s}
dashboard:
  tokens:
    - name: wall
      sha256: ` + callcenter.HashToken("wall-secret") + `
      agents: ["*"]
      queues: [support]
      campaigns: ["*"]
  thresholds:
    support: {waiting: 3, longest_wait: 2m}
`
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(conf, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDeps(cfg, io.Discard, &dialer.Normalizer{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	mux := http.NewServeMux()
	dash, err := mountDashboard(context.Background(), mux, cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	defer dash.close()
	cc, err := startCallCentre(context.Background(), mux, cfg, nil, cfg.Dashboard.callcenterTokens(), d.log)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.close()
	dash.addCampaign("spring")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path, secret string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/", ""); code != 200 || !strings.Contains(body, "/dash/static/app.js") {
		t.Fatalf("GET /: %d %.100s", code, body)
	}
	if code, _ := get("/dash/api/me", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("unknown token: %d", code)
	}
	code, body := get("/dash/api/me", "wall-secret")
	if code != 200 || !strings.Contains(body, `"campaigns":["spring"]`) || !strings.Contains(body, `"longestWaitSecs":120`) {
		t.Errorf("me: %d %s", code, body)
	}
	// the call-centre stream is there, within the token's queues
	if code, _ := get("/v1/events?queues=sales", "wall-secret"); code != http.StatusForbidden {
		t.Errorf("events outside the token's queues: %d, want 403", code)
	}
}
