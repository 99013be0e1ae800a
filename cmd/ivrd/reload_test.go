package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

// Version 1 hangs up when the menu gets nothing; version 2 says goodbye first.
const flowV1 = `name: t
start: hello
nodes:
  hello: {kind: play, prompt: a.wav, next: menu}
  menu: {kind: menu, prompt: a.wav, tries: 1, choices: {"1": bye}, on_fail: bye}
  bye: {kind: hangup}
`

const flowV2 = `name: t
start: hello
nodes:
  hello: {kind: play, prompt: a.wav, next: menu}
  menu: {kind: menu, prompt: a.wav, tries: 1, choices: {"1": bye}, on_fail: sorry}
  sorry: {kind: play, prompt: b.wav, next: bye}
  bye: {kind: hangup}
`

const flowBroken = `name: t
start: hello
nodes:
  hello: {kind: play, prompt: a.wav, next: nowhere}
`

// versions lists the flow versions a call's entries name.
func versions(log *ivrtest.CallLog, call string) map[string]bool {
	v := map[string]bool{}
	for _, x := range log.ByCall(call) {
		v[x.FlowVersion] = true
	}
	return v
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func playbacks(c *esltest.Call) []string {
	var out []string
	for _, r := range c.Commands() {
		if r.App == "playback" {
			out = append(out, r.Arg)
		}
	}
	return out
}

func TestReloadKeepsRunningCallsOnTheirVersion(t *testing.T) {
	dir, sounds := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(sounds, "a.wav"), "")
	writeFile(t, filepath.Join(sounds, "b.wav"), "")
	flowFile := filepath.Join(dir, "t.yaml")
	writeFile(t, flowFile, flowV1)
	registry, err := flows.NewRegistry(dir, flows.Options{SoundsDir: sounds})
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := registry.Get("t")

	log := &ivrtest.CallLog{}
	srv := ivrtest.NewServer(ivr.NewEngine(ivr.Config{Flows: registry, DefaultFlow: "t", CallLog: log}),
		ivr.ServeOptions{DrainTimeout: 5 * time.Second})
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()

	// Call 1 waits in the menu (no digits) while the flow is reloaded.
	inMenu := make(chan struct{})
	var once sync.Once
	call1, err := esltest.StartOutbound(ctx, srv.Addr, esltest.Script{
		PlaybackDuration: 300 * time.Millisecond,
		Observer: func(r esltest.Record) {
			if r.App == "play_and_get_digits" {
				once.Do(func() { close(inMenu) })
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-inMenu:
	case <-call1.Done():
		t.Fatalf("call 1 ended before the menu: %v", call1.Err())
	}

	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))
	writeFile(t, flowFile, flowV2)
	reload(registry, logger, "test")
	v2, _ := registry.Get("t")
	if v2 == v1 || v2.Version == v1.Version {
		t.Fatalf("reload did not swap the version (%s)", v1.Version)
	}

	// Call 2 starts after the reload and runs version 2.
	call2, err := esltest.DialOutbound(ctx, srv.Addr, esltest.Script{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call1.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := playbacks(call1); strings.Join(got, ",") != "a.wav" {
		t.Errorf("call 1 (version 1) played %q, want only a.wav", got)
	}
	if got := playbacks(call2); strings.Join(got, ",") != "a.wav,b.wav" {
		t.Errorf("call 2 (version 2) played %q, want a.wav,b.wav", got)
	}
	waitFor(t, func() bool { return len(versions(log, call1.UUID())) > 0 && len(versions(log, call2.UUID())) > 0 })
	if v := versions(log, call1.UUID()); len(v) != 1 || !v[v1.Version] {
		t.Errorf("call 1 log versions %v, want only %s", v, v1.Version)
	}
	if v := versions(log, call2.UUID()); len(v) != 1 || !v[v2.Version] {
		t.Errorf("call 2 log versions %v, want only %s", v, v2.Version)
	}

	// A broken edit is refused with its file:line and logged; version 2 stays.
	writeFile(t, flowFile, flowBroken)
	reload(registry, logger, "test")
	if cur, _ := registry.Get("t"); cur != v2 {
		t.Fatalf("a broken edit replaced the running version")
	}
	if !strings.Contains(logBuf.String(), "flow reload refused") || !strings.Contains(logBuf.String(), "t.yaml:4") {
		t.Fatalf("refused reload not logged with file:line:\n%s", logBuf.String())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConfigEnvOverrides(t *testing.T) {
	env := map[string]string{
		"FSIVR_LISTEN":        "127.0.0.1:9999",
		"FSIVR_REDIS_ADDRS":   "-",
		"FSIVR_DRAIN_TIMEOUT": "5s",
		"FSIVR_ALLOW":         "10.0.0.0/8, 127.0.0.1/32",
	}
	cfg, err := loadConfig("../../configs/ivrd.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" || len(cfg.Redis.Addrs) != 0 || cfg.DrainTimeout != 5*time.Second ||
		len(cfg.Allow) != 2 || cfg.DefaultFlow != "sales" {
		t.Fatalf("config %+v", cfg)
	}
	if _, err := loadConfig("../../configs/ivrd.yaml", func(k string) string {
		if k == "FSIVR_CRM_TIMEOUT" {
			return "soon"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), "FSIVR_CRM_TIMEOUT") {
		t.Fatalf("bad duration accepted: %v", err)
	}
}
