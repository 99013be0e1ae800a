package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func unit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("ivrd.service")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The settings ivrd relies on: readiness by sd_notify, reload by SIGHUP, a
// stop timeout longer than the drain, enough file descriptors, a sandbox.
func TestUnitKeepsWhatIvrdNeeds(t *testing.T) {
	u := unit(t)
	for _, want := range []string{
		"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "User=fsivr",
	} {
		if !strings.Contains(u, "\n"+want+"\n") {
			t.Errorf("unit lacks %q", want)
		}
	}
	m := regexp.MustCompile(`\nTimeoutStopSec=(\S+)\n`).FindStringSubmatch(u)
	if m == nil {
		t.Fatal("no TimeoutStopSec")
	}
	stop, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	// drain_timeout of configs/ivrd.yaml plus the 2 s hand-over grace.
	cfg, err := os.ReadFile("../ivrd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dm := regexp.MustCompile(`(?m)^drain_timeout: (\S+)`).FindSubmatch(cfg)
	if dm == nil {
		t.Fatal("no drain_timeout in configs/ivrd.yaml")
	}
	drain, err := time.ParseDuration(string(dm[1]))
	if err != nil {
		t.Fatal(err)
	}
	if stop <= drain+2*time.Second {
		t.Errorf("TimeoutStopSec %s is not above drain_timeout %s + 2s", stop, drain)
	}
	if !regexp.MustCompile(`\nLimitNOFILE=(\d{5,})\n`).MatchString(u) {
		t.Error("LimitNOFILE missing or below 10000")
	}
}

// systemd-analyze verify, with ExecStart pointed at an executable that
// exists here (the unit names the installed path).
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (apt-get install systemd); .ci/run installs it")
	}
	dir := t.TempDir()
	bin, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	u := strings.ReplaceAll(unit(t), "/usr/local/bin/ivrd", bin)
	path := filepath.Join(dir, "ivrd.service")
	if err := os.WriteFile(path, []byte(u), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	// verify also lints units it pulls in (network-online.target ...) on
	// this machine; only lines about our unit count.
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "ivrd.service") {
			ours = append(ours, l)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
