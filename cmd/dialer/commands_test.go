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

// The call-centre commands place and move calls (originate-call dials any
// number through the agent's phone): only dashboard tokens with control:
// true send them. A wallboard's token (control: false, on a screen in the
// room) reads the stream and nothing more.
func TestCommandsNeedControl(t *testing.T) {
	post := startCommands(t, "")
	for _, c := range []struct{ path, body string }{
		{"/v1/originate-call", `{"agent":"500","number":"5551234"}`},
		{"/v1/park-and-announce", `{"agent":"500"}`},
		{"/v1/queue-action", `{"action":"pause","agent":"500","queue":"support"}`},
	} {
		if code := post(c.path, "wall-secret", c.body); code != http.StatusUnauthorized && code != http.StatusForbidden {
			t.Errorf("%s with the wallboard's token: %d, want 401 or 403", c.path, code)
		}
		// The supervisor's gets through to the service (no AMI here: 503).
		if code := post(c.path, "sup-secret", c.body); code != http.StatusServiceUnavailable {
			t.Errorf("%s with a control token: %d, want 503 (not connected)", c.path, code)
		}
	}
}

// startCommands mounts the call-centre commands of a dialer.yaml (AMI on a
// closed port: a command the service accepts ends in 503) with a wallboard
// token (wall-secret) and a control one (sup-secret), plus extra YAML, and
// returns a poster: path, secret, body -> status.
func startCommands(t *testing.T, extra string) func(path, secret, body string) int {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "dialer.yaml")
	yaml := `spool_dir: ` + filepath.Join(dir, "spool") + `
ami: {addr: "127.0.0.1:1", username: dialer, secret: s}
dashboard:
  tokens:
    - {name: wall, sha256: ` + callcenter.HashToken("wall-secret") + `, agents: ["*"], queues: ["*"], campaigns: ["*"]}
    - {name: sup, sha256: ` + callcenter.HashToken("sup-secret") + `, agents: ["*"], queues: ["*"], campaigns: ["*"], control: true}
` + extra
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
	t.Cleanup(d.close)
	mux := http.NewServeMux()
	cc, err := startCallCentre(context.Background(), mux, cfg, nil, cfg.Dashboard.callcenterTokens(), d.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.close)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return func(path, secret, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
}

// The callcentre: section names the caller ids originate-call and the
// contexts redirect-call may use; without it only the number and the
// default context are accepted, and a name that would break a header is
// refused at start.
func TestCallCentreConfig(t *testing.T) {
	post := startCommands(t, `callcentre:
  caller_ids: ['"Sales" <+14155550000>']
  redirect_contexts: [sales]
`)
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{"/v1/originate-call", `{"agent":"500","number":"5551234","callerId":"\"Sales\" <+14155550000>"}`, http.StatusServiceUnavailable},
		{"/v1/originate-call", `{"agent":"500","number":"5551234","callerId":"+18005551234"}`, http.StatusBadRequest},
		{"/v1/redirect-call", `{"agent":"500","exten":"600","context":"sales"}`, http.StatusServiceUnavailable},
		{"/v1/redirect-call", `{"agent":"500","exten":"600","context":"outbound"}`, http.StatusBadRequest},
	} {
		if code := post(c.path, "sup-secret", c.body); code != c.want {
			t.Errorf("%s %s: %d, want %d", c.path, c.body, code, c.want)
		}
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "dialer.yaml")
	bad := "ami: {addr: \"127.0.0.1:1\"}\ndashboard: {tokens: [{name: sup, sha256: " + callcenter.HashToken("x") +
		", agents: [\"*\"], queues: [\"*\"], control: true}]}\ncallcentre: {redirect_contexts: [\"sales floor\"]}\n"
	if err := os.WriteFile(conf, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(conf, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := startCallCentre(context.Background(), http.NewServeMux(), cfg, nil, cfg.Dashboard.callcenterTokens(), nil); err == nil {
		t.Error("a redirect context with a space was accepted")
	}
}
