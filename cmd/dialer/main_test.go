package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/fsivr/fsivr/ami/amitest"
)

// fakeAsterisk answers every call after a short ring; numbers ending in
// 3 are busy once.
func fakeAsterisk(t *testing.T) *amitest.Server {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := amitest.NewServer(amitest.Config{Logger: slog.New(slog.DiscardHandler), Outcome: func(o amitest.Originate) amitest.Outcome {
		mu.Lock()
		defer mu.Unlock()
		seen[o.Channel]++
		if strings.HasSuffix(o.Channel, "3@test") && seen[o.Channel] == 1 {
			return amitest.Outcome{Kind: amitest.Busy, Ring: 20 * time.Millisecond}
		}
		return amitest.Outcome{Kind: amitest.Answered, Ring: 30 * time.Millisecond, Talk: 40 * time.Millisecond}
	}})
	t.Cleanup(srv.Close)
	return srv
}

func envFor(srv *amitest.Server, spool string) map[string]string {
	return map[string]string{
		"FSIVR_AMI_ADDR": srv.Addr, "FSIVR_AMI_SECRET": "secret", "FSIVR_SPOOL_DIR": spool,
		"FSIVR_PROGRESS": "100ms", "FSIVR_LOG_LEVEL": "error",
	}
}

func TestRunPlainLines(t *testing.T) {
	srv := fakeAsterisk(t)
	env := envFor(srv, t.TempDir())
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"run", "testdata/campaign.yaml", "testdata/contacts.csv"}, &out, &errb,
		func(k string) string { return env[k] }, false)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"row 42, column number: invalid_number",
		"preflight: rows=41 contacts=40 dialable_now=40",
		"trunk=reachable",
		"progress: dialed=",
		"done: dialed=44 answered=40 failed=0",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "\r") || strings.Contains(s, "\x1b[") {
		t.Errorf("plain mode wrote terminal control characters")
	}
	if n := len(srv.ActionsNamed("Originate")); n != 44 {
		t.Errorf("fake Asterisk got %d Originates, want 44 (40 + 4 busy retried)", n)
	}
	if p := srv.PeakInFlightOriginates(); p > 3 {
		t.Errorf("%d in flight, 3 ports", p)
	}
}

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildDialer builds the binary once for every test that runs it.
func buildDialer(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "dialer-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "dialer")
		cmd := exec.Command("go", "build", "-o", built.bin, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// TestRunProgressBarInPTY runs the built binary in a pseudo-terminal: the
// bar redraws its line (carriage returns) with the counters.
func TestRunProgressBarInPTY(t *testing.T) {
	srv := fakeAsterisk(t)
	bin := buildDialer(t)
	cmd := exec.Command(bin, "run", "testdata/campaign.yaml", "testdata/contacts.csv")
	cmd.Env = os.Environ()
	for k, v := range envFor(srv, t.TempDir()) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&buf, f); close(copied) }() // EIO at the end is how a pty says EOF
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dialer: %v\n%s", err, buf.String())
	}
	<-copied
	s := buf.String()
	if !strings.Contains(s, "\r") || !regexp.MustCompile(`\d+%`).MatchString(s) || !strings.Contains(s, "dialed=") {
		t.Errorf("no progress bar in the terminal output:\n%q", s)
	}
	if strings.Contains(s, "progress: dialed=") {
		t.Errorf("plain lines on a terminal")
	}
	if !strings.Contains(s, "done: dialed=44 answered=40") {
		t.Errorf("no summary:\n%s", s)
	}
}

func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"demo"}, &out, io.Discard, func(string) string { return "" }, false); code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"contact ann  answered after 1 attempt(s)",
		"contact bob  answered after 2 attempt(s)",
		"contact gus  dnc after 0 attempt(s)",
		"contact fay  failed after 1 attempt(s)",
		"done: 9 attempts",
		"Originates seen by the fake Asterisk: 9, at most",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
}

func TestConfigEnvOverrides(t *testing.T) {
	env := map[string]string{"FSIVR_STORE": "redis", "FSIVR_REDIS_ADDRS": "a:1,b:2", "FSIVR_LEASE": "45s", "FSIVR_AMI_SECRET": "s3"}
	cfg, err := loadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != "redis" || len(cfg.Redis.Addrs) != 2 || cfg.Lease != 45*time.Second || cfg.AMI.Secret != "s3" {
		t.Errorf("cfg %+v", cfg)
	}
	env = map[string]string{"FSIVR_LEASE": "soon", "FSIVR_AMI_SECRET": "x"}
	if _, err := loadConfig("", func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "FSIVR_LEASE") {
		t.Errorf("bad duration: %v", err)
	}
	if _, err := loadConfig("", func(k string) string { return map[string]string{"FSIVR_STORE": "disk"}[k] }); err == nil {
		t.Error("unknown store accepted")
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := loadConfig("testdata/dialer.yaml", func(k string) string {
		return map[string]string{"FSIVR_AMI_SECRET": "from-env"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != "redis" || cfg.AMI.Secret != "from-env" || cfg.DNCRedisKey != "{fsivr}:dnc" || cfg.Lease != 30*time.Second {
		t.Errorf("cfg %+v", cfg)
	}
	if _, err := loadCampaign("testdata/campaign.yaml"); err != nil {
		t.Error(err)
	}
}
