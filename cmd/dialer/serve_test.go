package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/internal/redistest"
)

// TestServeSIGTERMDrains: `dialer serve` with a campaign of long calls on
// Redis: /healthz and /metrics answer; SIGTERM stops claiming, the calls in
// flight end within drain_timeout, the contacts not dialed go back to the
// due set (no lease left behind), and the process exits 0.
func TestServeSIGTERMDrains(t *testing.T) {
	redis := redistest.NewServer(t, redistest.Options{})
	srv := amitest.NewServer(amitest.Config{Logger: slog.New(slog.DiscardHandler), Outcome: func(amitest.Originate) amitest.Outcome {
		return amitest.Outcome{Kind: amitest.Answered, Ring: 50 * time.Millisecond, Talk: 1500 * time.Millisecond}
	}})
	t.Cleanup(srv.Close)
	sd := startServe(t, []string{"FSIVR_STORE=redis", "FSIVR_REDIS_ADDRS=" + redis.Addr, "FSIVR_AMI_ADDR=" + srv.Addr,
		"FSIVR_AMI_SECRET=secret", "FSIVR_HTTP=127.0.0.1:0", "FSIVR_DRAIN_TIMEOUT=5s", "FSIVR_LOG_LEVEL=error",
		"FSIVR_SPOOL_DIR=" + filepath.Join(t.TempDir(), "spool")},
		"serve", "-campaign", "testdata/campaign.yaml", "-contacts", "testdata/contacts.csv")
	cmd, addr := sd.cmd, sd.addr
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if err := srv.WaitActions(context.Background(), "Originate", 3); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "fsivr_dialer_claims_total") {
		t.Errorf("/metrics = %d without the dialer's metrics", code)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	sent := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exit: %v", err)
	}
	if took := time.Since(sent); took > 5*time.Second+3*time.Second {
		t.Errorf("exit took %v, drain bound 5s", took)
	}
	out := <-sd.rest
	store := dialer.NewRedisStore(redis.Client(t))
	p, err := store.Progress(context.Background(), "clitest")
	if err != nil {
		t.Fatal(err)
	}
	placed := len(srv.ActionsNamed("Originate"))
	if p.InFlight != 0 || p.Attempts != placed || p.Due != 40-placed {
		t.Errorf("after SIGTERM: %+v, %d placed (want no lease left, the rest due)\n%s", p, placed, out)
	}
	if p.Final[dialer.StatusAnswered] != placed {
		t.Errorf("calls in flight did not end within the drain: %+v", p)
	}
}
