package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/internal/logbuf"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/amidial"
)

// The tokens of the tests: their secrets, and the config's hashes.
const (
	secretCaller = "caller-secret-1"
	secretReader = "reader-secret-2"
	secretOps    = "ops-secret-3"
	secretSlow   = "slow-secret-4"
)

func testTokens() []Token {
	tok := func(name, secret string, rate float64, burst int, scopes ...Scope) Token {
		return Token{Token: callcenter.Token{Name: name, SHA256: callcenter.HashToken(secret)}, Scopes: scopes, Rate: rate, Burst: burst, MaxCalls: 20}
	}
	return []Token{
		tok("web", secretCaller, 100, 100, ScopeCallsCreate),
		tok("reader", secretReader, 100, 100, ScopeCampaignsRead),
		tok("ops", secretOps, 100, 100, ScopeCampaignsRead, ScopeCampaignsWrite),
		tok("slow", secretSlow, 0.001, 1, ScopeCallsCreate),
	}
}

// The scripted destinations: the fake Asterisk decides each call's outcome
// by the number in the dial string.
const (
	numAnswer   = "+14155550101"
	numBusy     = "+14155550102"
	numNoAnswer = "+14155550103"
)

func asteriskOutcome(o amitest.Originate) amitest.Outcome {
	switch {
	case strings.Contains(o.Channel, numBusy):
		return amitest.Outcome{Kind: amitest.Busy, Ring: 20 * time.Millisecond}
	case strings.Contains(o.Channel, numNoAnswer):
		return amitest.Outcome{Kind: amitest.NoAnswer, Ring: 50 * time.Millisecond}
	}
	return amitest.Outcome{Kind: amitest.Answered, Ring: 20 * time.Millisecond, Talk: 150 * time.Millisecond}
}

type env struct {
	srv   *httptest.Server
	ast   *amitest.Server
	api   *Handler
	store dialer.Store
	logs  *logbuf.Buffer
}

func testConfig() Config {
	return Config{
		Tokens:   testTokens(),
		Trunks:   []Trunk{{Name: "carrier", Backend: "asterisk", Channel: "PJSIP/${number}@carrier", Ports: 4, CallerIDs: []string{"+14155550000"}}},
		Messages: map[string]string{"welcome": "custom/welcome"},
		Agents:   map[string]string{"500": "PJSIP/500"},
		Numbers:  NumberPolicy{AllowedRegions: []string{"US", "GB"}, DefaultRegion: "US", DailyCap: 5},
		Webhooks: WebhookConfig{AllowedHosts: []string{"127.0.0.1"}, Secret: "hook-secret", AllowHTTP: true, RetryMin: 20 * time.Millisecond},
		MaxBody:  16 << 10,
	}
}

// newEnv starts the fake Asterisk, the AMI backend and the API on a real
// loopback listener.
func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	return newEnvStore(t, cfg, dialer.NewMemStore())
}

// newEnvStore is newEnv on the given store.
func newEnvStore(t *testing.T, cfg Config, store dialer.Store) *env {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ast := amitest.NewServer(amitest.Config{Logger: quiet, Outcome: asteriskOutcome})
	t.Cleanup(ast.Close)
	b := amidial.New(amidial.Config{Addr: ast.Addr, Username: "dialer", Secret: "secret", Logger: quiet, AMI: ami.Config{Logger: quiet}, Tick: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-b.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("no AMI connection to the fake")
	}
	logs := &logbuf.Buffer{}
	api, err := New(cfg, Options{Store: store, Backends: map[string]dialer.Backend{"asterisk": b},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), EnginePoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() { srv.Close(); api.Close() })
	return &env{srv: srv, ast: ast, api: api, store: store, logs: logs}
}

type reply struct {
	code   int
	header http.Header
	body   []byte
}

func (r reply) problem(t *testing.T) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != r.code || p.Type != problemType(p.Reason) || p.Title == "" {
		t.Errorf("problem %+v does not match status %d", p, r.code)
	}
	return p
}

func (e *env) do(t *testing.T, method, path, token string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{code: resp.StatusCode, header: resp.Header, body: b}
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

// waitCall polls GET /v1/calls/{id} until the call ended.
func (e *env) waitCall(t *testing.T, id string) CallView {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.do(t, "GET", "/v1/calls/"+id, secretCaller, nil)
		if r.code != http.StatusOK {
			t.Fatalf("GET call: %d %s", r.code, r.body)
		}
		var v CallView
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		if v.State == CallEnded {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s not ended: %+v", id, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
