package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/internal/redistest"
)

// scripted is the fake Asterisk's own record of every originate: which
// contact, what outcome it was given, and when its channel lived.
type scripted struct {
	mu    sync.Mutex
	rng   *rand.Rand
	calls []scriptedCall
}

type scriptedCall struct {
	contact    string
	kind       amitest.OutcomeKind
	start, end time.Time
}

func (s *scripted) outcome(o amitest.Originate) amitest.Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	contact := ""
	for _, v := range o.Variables {
		for _, kv := range strings.Split(v, ",") {
			if c, ok := strings.CutPrefix(kv, "FSIVR_CONTACT="); ok {
				contact = c
			}
		}
	}
	kinds := []amitest.OutcomeKind{amitest.Answered, amitest.Answered, amitest.Busy, amitest.NoAnswer}
	out := amitest.Outcome{Kind: kinds[s.rng.IntN(len(kinds))],
		Ring: time.Duration(50+s.rng.IntN(250)) * time.Millisecond, Talk: time.Duration(s.rng.IntN(300)) * time.Millisecond}
	if out.Kind == amitest.NoAnswer {
		out.Ring = 0 // the Originate's Timeout (1 s)
	}
	now := time.Now()
	life := out.Ring
	if out.Kind == amitest.NoAnswer {
		life = time.Second
	}
	if out.Kind == amitest.Answered {
		life += out.Talk
	}
	s.calls = append(s.calls, scriptedCall{contact: contact, kind: out.Kind, start: now, end: now.Add(life)})
	return out
}

func (s *scripted) byContact() map[string][]scriptedCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string][]scriptedCall{}
	for _, c := range s.calls {
		m[c.contact] = append(m[c.contact], c)
	}
	return m
}

// peak is the most channels alive at once by the scripted lifetimes (each
// lifetime is inside the real one, so the real peak is at least this).
func (s *scripted) peak() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	type ev struct {
		at time.Time
		d  int
	}
	var evs []ev
	for _, c := range s.calls {
		evs = append(evs, ev{c.start, 1}, ev{c.end, -1})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at.Equal(evs[j].at) {
			return evs[i].d < evs[j].d
		}
		return evs[i].at.Before(evs[j].at)
	})
	n, best := 0, 0
	for _, e := range evs {
		n += e.d
		best = max(best, n)
	}
	return best
}

const killCampaign = `id: %s
default_region: GB
trunks:
  - {name: local, channel: "Local/${number}@test", ports: 4, cps: 30}
max_concurrent: %d
answer: {context: test, exten: "100", priority: "1"}
ring_timeout: 1s
max_attempts: 3
retries:
  busy: {max: 1, delay: 200ms}
  no_answer: {max: 1, delay: 200ms}
hours:
  windows: [{from: "00:00", to: "24:00"}]
`

type killRig struct {
	bin, campaign, contacts string
	env                     []string
	store                   *dialer.RedisStore
	fake                    *scripted
	srv                     *amitest.Server
	ids                     []string
}

func newKillRig(t *testing.T, id string, limit, n int) *killRig {
	t.Helper()
	redis := redistest.NewServer(t, redistest.Options{AppendOnly: true})
	fake := &scripted{rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}
	srv := amitest.NewServer(amitest.Config{Logger: slog.New(slog.DiscardHandler), Outcome: fake.outcome})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	r := &killRig{bin: buildDialer(t), campaign: filepath.Join(dir, "c.yaml"), contacts: filepath.Join(dir, "c.csv"),
		store: dialer.NewRedisStore(redis.Client(t)), fake: fake, srv: srv}
	if err := os.WriteFile(r.campaign, fmt.Appendf(nil, killCampaign, id, limit), 0o644); err != nil {
		t.Fatal(err)
	}
	rows := []string{"id,number,timezone"}
	for i := range n {
		r.ids = append(r.ids, fmt.Sprintf("k%03d", i))
		rows = append(rows, fmt.Sprintf("k%03d,+44 20 7946 %04d,Europe/London", i, i))
	}
	if err := os.WriteFile(r.contacts, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.env = append(os.Environ(), "FSIVR_STORE=redis", "FSIVR_REDIS_ADDRS="+redis.Addr, "FSIVR_AMI_ADDR="+srv.Addr,
		"FSIVR_AMI_SECRET=secret", "FSIVR_LEASE=2s", "FSIVR_DRAIN_TIMEOUT=1s", "FSIVR_LOG_LEVEL=error",
		"FSIVR_PROGRESS=1s")
	return r
}

func (r *killRig) start(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(r.bin, "run", r.campaign, r.contacts)
	cmd.Env = append(append([]string(nil), r.env...), "FSIVR_SPOOL_DIR="+filepath.Join(t.TempDir(), name))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// check compares every contact's originates (at the fake) with the policy
// and the store: never more than max_attempts, never a dial after an
// answer, every retryable outcome retried while the policy allows, every
// contact dialed — except where the store says the outcome was lost
// (unknown), which can only be an attempt in flight when a dialer died.
func (r *killRig) check(t *testing.T, id string) (unknown int) {
	t.Helper()
	by := r.fake.byContact()
	ctx := context.Background()
	for _, c := range r.ids {
		calls := by[c]
		st, atts, err := r.store.Contact(ctx, id, c)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Final() {
			t.Errorf("%s: not final (%s)", c, st)
			continue
		}
		if len(calls) > 3 {
			t.Errorf("%s dialed %d times, max_attempts 3", c, len(calls))
		}
		counts := map[amitest.OutcomeKind]int{}
		for i, call := range calls {
			counts[call.kind]++
			retryable := (call.kind == amitest.Busy || call.kind == amitest.NoAnswer) && counts[call.kind] <= 1 && i+1 < 3
			last := i == len(calls)-1
			if !last && !retryable {
				t.Errorf("%s: dialed again after %s (attempt %d): a double dial", c, call.kind, i+1)
			}
			if last && retryable && st != dialer.StatusUnknown {
				t.Errorf("%s: %s on attempt %d was not retried (status %s)", c, call.kind, i+1, st)
			}
		}
		if st == dialer.StatusUnknown {
			unknown++
			continue
		}
		if len(calls) == 0 {
			t.Errorf("%s forgotten: final %s without a call", c, st)
		}
		counted := 0
		for _, a := range atts {
			if a.Disposition != dialer.NotPlaced {
				counted++
			}
		}
		if counted != len(calls) {
			t.Errorf("%s: store has %d attempts, the fake saw %d", c, counted, len(calls))
		}
	}
	return unknown
}

// TestKillAndRestart SIGKILLs the real dialer binary at random moments
// mid-campaign, restarts it, and checks at the fake Asterisk that nobody
// was dialed twice by accident and nobody forgotten.
func TestKillAndRestart(t *testing.T) {
	r := newKillRig(t, "kill", 4, 60)
	const kills = 4
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for i := range kills {
		cmd := r.start(t, fmt.Sprint("run", i))
		time.Sleep(time.Duration(600+rng.IntN(1500)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait() // killed: an error by definition
	}
	cmd := r.start(t, "final")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("final run: %v", err)
		}
	case <-time.After(120 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("final run did not finish")
	}
	unknown := r.check(t, "kill")
	// Only calls in flight when a dialer died can have lost outcomes.
	if unknown > kills*4 {
		t.Errorf("%d contacts with a lost outcome after %d kills of a 4-port dialer", unknown, kills)
	}
	t.Logf("%d originates for %d contacts, %d kills, %d outcomes lost to the kills (final, never re-dialed)",
		len(r.srv.ActionsNamed("Originate")), len(r.ids), kills, unknown)
}

// TestTwoDialersShareTheLimit runs two dialer processes on one campaign
// with a global limit of 4 (each has 4 ports): the fake never has more than
// 4 calls up; one is SIGKILLed midway and the other finishes the campaign.
func TestTwoDialersShareTheLimit(t *testing.T) {
	r := newKillRig(t, "pair", 4, 60)
	a := r.start(t, "a")
	b := r.start(t, "b")
	time.Sleep(1500 * time.Millisecond)
	_ = a.Process.Signal(syscall.SIGKILL)
	_ = a.Wait()
	done := make(chan error, 1)
	go func() { done <- b.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("surviving dialer: %v", err)
		}
	case <-time.After(120 * time.Second):
		_ = b.Process.Kill()
		t.Fatal("the surviving dialer did not finish the campaign")
	}
	if p := r.fake.peak(); p > 4 || p == 0 {
		t.Errorf("%d calls up at once, global limit 4", p)
	}
	unknown := r.check(t, "pair")
	if unknown > 4 {
		t.Errorf("%d lost outcomes after one kill of a 4-port dialer", unknown)
	}
}
