package esldial_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/esldial"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/internal/redistest"
)

// The dialer process of the kill test is this test binary run again with
// these variables set (TestMain hands it to childDialer).
const (
	envChild = "FSIVR_ESLDIAL_CHILD"
	envRedis = "FSIVR_ESLDIAL_REDIS"
	envFS    = "FSIVR_ESLDIAL_FS"
	envBase  = "FSIVR_ESLDIAL_BASE"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(childDialer())
	}
	os.Exit(m.Run())
}

// killCampaign is the campaign both the test and its dialer processes use.
func killCampaign() dialer.Campaign {
	return dialer.Campaign{ID: "kill", CallerID: "+12125550000",
		Trunks: []dialer.Trunk{{Name: "fs", Channel: "sofia/gateway/carrier/${number}", Ports: 4}},
		Answer: dialer.Answer{Flow: "notify"},
		// No retries: every contact is dialed once, so a second originate
		// of a number can only be a double dial.
		Retries: map[dialer.Disposition]dialer.Retry{}, MaxAttempts: 1}
}

// childDialer runs the campaign on Redis against the fake FreeSWITCH until
// it is done (exit 0) or killed.
func childDialer() int {
	base, err := time.Parse(time.RFC3339Nano, os.Getenv(envBase))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: base:", err)
		return 2
	}
	rc := redis.NewClient(&redis.Options{Addr: os.Getenv(envRedis)})
	defer rc.Close()
	b := esldial.New(esldial.Config{Addr: os.Getenv(envFS), Password: "ClueCon", Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = b.Run(ctx) }()
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "child: no event socket")
		return 2
	}
	eng, err := dialer.NewEngine(killCampaign(), dialer.Options{Store: dialer.NewRedisStore(rc), Backend: b,
		Clock: dialer.NewOffsetClock(base), Lease: 1500 * time.Millisecond, Poll: 100 * time.Millisecond,
		Owner: os.Getenv(envChild), Logger: quiet()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	if _, err := eng.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child: run:", err)
		return 1
	}
	return 0
}

// SIGKILL of a dialer process in the middle of a FreeSWITCH campaign: the
// next process takes the leases over and reconciles each attempt by its
// origination_uuid (live while uuid_exists, then ended with the hangup it
// saw); no number is ever originated twice, and only the calls in flight at
// the kill may lose their outcome.
func TestKillAndReconcile(t *testing.T) {
	rs := redistest.NewServer(t, redistest.Options{AppendOnly: true})
	ivrSrv, _ := startIVR(t)
	fs := esltest.NewServer(esltest.Config{OutboundAddr: ivrSrv.Addr, Script: func(string) esltest.Script {
		return esltest.Script{Digits: []string{"1"}, PlaybackDuration: 250 * time.Millisecond}
	}})
	defer fs.Close()

	// Inside New York's default calling hours whatever the hour of the run;
	// every process gets the same clock.
	t0 := time.Now()
	base := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	eng, err := dialer.NewEngine(killCampaign(), dialer.Options{Store: dialer.NewRedisStore(rs.Client(t)),
		Backend: esldial.New(esldial.Config{}), Clock: dialer.NewOffsetClock(base), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := eng.Create(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 24
	var cs []dialer.Contact
	for i := range n {
		cs = append(cs, dialer.Contact{ID: fmt.Sprintf("c%02d", i), Number: fmt.Sprintf("+1212555%04d", i), Zones: []string{"America/New_York"}})
	}
	if _, _, err := eng.Add(ctx, cs); err != nil {
		t.Fatal(err)
	}
	run := func(owner string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"="+owner, envRedis+"="+rs.Addr, envFS+"="+fs.Addr,
			envBase+"="+base.Add(time.Since(t0)).Format(time.RFC3339Nano))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := run("first")
	// Kill it once calls are up.
	deadline := time.Now().Add(15 * time.Second)
	for bgapis(fs) < 6 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()
	killedAt := bgapis(fs)
	if killedAt == 0 || killedAt >= n {
		t.Fatalf("killed after %d originates of %d: not mid-campaign", killedAt, n)
	}
	second := run("second")
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("second dialer: %v", err)
		}
	case <-time.After(90 * time.Second):
		_ = second.Process.Kill()
		t.Fatal("the second dialer did not finish the campaign")
	}

	// What FreeSWITCH saw: one originate per number, with the attempt id as
	// origination_uuid.
	perNumber := map[string]int{}
	for _, r := range fs.Commands() {
		if r.Verb != "bgapi" {
			continue
		}
		for _, c := range cs {
			if strings.Contains(r.Raw, "/"+c.Number+" ") {
				perNumber[c.Number]++
			}
		}
	}
	store := dialer.NewRedisStore(rs.Client(t))
	unknown, byFirst := 0, 0
	for _, c := range cs {
		st, atts, err := store.Contact(ctx, "kill", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(atts) != 1 {
			t.Errorf("%s: %d attempts", c.ID, len(atts))
			continue
		}
		if atts[0].Owner == "first" {
			byFirst++ // begun by the killed dialer, finished by reconciliation
		}
		switch perNumber[c.Number] {
		case 1:
		case 0:
			// Begun (the record is written first) but killed before the
			// bgapi: FreeSWITCH has no trace, so it cannot be told from a
			// call that rang and ended; it is lost, never dialed again.
			if atts[0].Owner != "first" || st != dialer.StatusUnknown {
				t.Errorf("%s never originated: status %s, begun by %s", c.Number, st, atts[0].Owner)
			}
		default:
			t.Errorf("%s originated %d times", c.Number, perNumber[c.Number])
		}
		switch st {
		case dialer.StatusAnswered:
		case dialer.StatusUnknown:
			unknown++
		default:
			t.Errorf("%s: status %s (%+v)", c.ID, st, atts[0])
		}
	}
	// The killed dialer began every attempt it originated, and at most one
	// more per port that it had begun but not yet sent.
	if byFirst < killedAt || byFirst > killedAt+4 {
		t.Errorf("%d attempts begun by the killed dialer on record, it originated %d (4 ports)", byFirst, killedAt)
	}
	// Only the calls in flight at the kill (4 ports) can have lost their outcome.
	if unknown > 4 {
		t.Errorf("%d outcomes lost, at most the 4 calls in flight at the kill", unknown)
	}
	t.Logf("killed after %d originates; %d contacts, %d answered, %d lost to the kill", killedAt, n, n-unknown, unknown)
}

func bgapis(fs *esltest.Server) int {
	k := 0
	for _, r := range fs.Commands() {
		if r.Verb == "bgapi" {
			k++
		}
	}
	return k
}
