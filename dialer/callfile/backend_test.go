package callfile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/backendtest"
	"github.com/fsivr/fsivr/dialer/callfile"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs a backend on a fake Asterisk with its pbx_spool; withAMI
// connects the manager session for the finer dispositions.
func start(t *testing.T, cfg callfile.Config, withAMI bool) (*callfile.Backend, *amitest.Server, *amitest.Spool) {
	t.Helper()
	srv := amitest.NewServer(amitest.Config{ChannelVars: []string{"CALLID"}, Outcome: func(o amitest.Originate) amitest.Outcome {
		out := amitest.DefaultOutcome(o)
		out.Ring = 20 * time.Millisecond
		return out
	}})
	dir := t.TempDir()
	sp, err := srv.StartSpool(dir, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SpoolDir, cfg.Logger = dir, quiet()
	if withAMI {
		cfg.AMI = &callfile.AMIConfig{Addr: srv.Addr, Username: "dialer", Secret: "secret", Config: ami.Config{Logger: quiet()}}
	}
	b, err := callfile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close(); srv.Close() })
	backendtest.RunUntilCleanup(t, b.Run, b.Ready())
	return b, srv, sp
}

func call(exten string) dialer.Call {
	return dialer.Call{
		AttemptID: dialer.NewID(), Campaign: "camp", ContactID: "c1", Number: "+12125550100", Trunk: "t",
		Channel: "Local/" + exten + "@test", CallerID: `"Dialer" <1234>`,
		Answer:  dialer.Answer{Context: "test", Exten: "400", Priority: "1"},
		Timeout: time.Second, Vars: map[string]string{"name": "Ann"},
	}
}

// The captured outcomes through the fake pbx_spool: the archived file's
// Status, refined by the failed extension's UserEvent when AMI is up.
func TestOutcomes(t *testing.T) {
	for _, withAMI := range []bool{false, true} {
		t.Run(fmt.Sprintf("ami=%v", withAMI), func(t *testing.T) {
			b, _, sp := start(t, callfile.Config{}, withAMI)
			cases := []struct {
				exten  string
				status string
				want   dialer.Disposition // with AMI
			}{
				{"100", "Completed", dialer.Answered},
				{"200", "Expired", dialer.Busy},
				{"300", "Expired", dialer.NoAnswer},
				{"250", "Expired", dialer.Congestion},
				{"260", "Expired", dialer.Rejected},
				{"999", "Expired", dialer.Failed},
			}
			var wg sync.WaitGroup
			for _, c := range cases {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cl := call(c.exten)
					out, err := b.Originate(context.Background(), cl)
					want := c.want
					if !withAMI && want != dialer.Answered {
						want = dialer.Failed // Expired alone says only "not answered"
					}
					if err != nil || out.Disposition != want || out.Reason[:len(c.status)] != c.status {
						t.Errorf("%s: %+v, %v; want %s (%s)", c.exten, out, err, want, c.status)
					}
					if got, _ := sp.Wait(cl.AttemptID+".call", 5*time.Second); got != c.status {
						t.Errorf("%s: the fake archived %q, want %q", c.exten, got, c.status)
					}
				}()
			}
			wg.Wait()
		})
	}
}

// The archived file is the captured one, line for line (modulo pids and
// times): what we wrote, pbx_spool's StartRetry, then Status.
func TestArchivedLikeCapture(t *testing.T) {
	b, _, _ := start(t, callfile.Config{}, false)
	cl := call("100")
	cl.Vars = nil
	if out, err := b.Originate(context.Background(), cl); err != nil || out.Disposition != dialer.Answered {
		t.Fatalf("%+v %v", out, err)
	}
	got, err := os.ReadFile(b.Spool().Done(cl.AttemptID + ".call"))
	if err != nil {
		t.Fatal(err)
	}
	capt, err := os.ReadFile("testdata/callfiles/A_answer.call.outgoing_done")
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	lines := func(b []byte) []string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			k, _, _ := strings.Cut(l, ":")
			out = append(out, k)
		}
		return out
	}
	// Ours carries FSIVR_CAMPAIGN/FSIVR_CONTACT as two more Set lines and a
	// 1 s WaitTime with no RetryTime (Asterisk's default, unused at MaxRetries 0).
	want := lines(capt)
	want = append(want[:3], want[4:]...) // no RetryTime
	want = append(want[:8], append([]string{"Set", "Set"}, want[8:]...)...)
	if g := lines(got); strings.Join(g, ",") != strings.Join(want, ",") {
		t.Errorf("archived directives %v\nwant (capture) %v\n%s", g, want, got)
	}
}

// A file with a future mtime is called at that time, not before.
func TestFutureMtime(t *testing.T) {
	b, srv, _ := start(t, callfile.Config{}, false)
	at := time.Now().Add(1200 * time.Millisecond)
	cl := call("100")
	done := make(chan dialer.Outcome, 1)
	go func() {
		out, _ := b.OriginateAt(context.Background(), cl, at)
		done <- out
	}()
	time.Sleep(200 * time.Millisecond)
	fi, err := os.Stat(b.Spool().Outgoing(cl.AttemptID + ".call"))
	if err != nil {
		t.Fatalf("the scheduled file is not waiting in outgoing/: %v", err)
	}
	if !fi.ModTime().Equal(at.Truncate(time.Microsecond)) && fi.ModTime().Sub(at).Abs() > time.Millisecond {
		t.Errorf("mtime %v, want %v", fi.ModTime(), at)
	}
	if n := srv.Channels(); n != 0 {
		t.Errorf("%d channels before the mtime", n)
	}
	out := <-done
	if out.Disposition != dialer.Answered {
		t.Fatalf("%+v", out)
	}
	if out.Answered.Before(at) {
		t.Errorf("answered at %v, before the scheduled %v", out.Answered, at)
	}
}

// A watcher polling outgoing/ as fast as it can never sees a partial file:
// every file it manages to read is complete.
func TestNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	sp, err := callfile.OpenSpool(dir, "", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("v", 250)
	var want []byte
	{
		f := callfile.File{Channel: "Local/100@test", Context: "test", Extension: "400", Archive: true}
		for i := range 60 {
			f.Set = append(f.Set, [2]string{fmt.Sprintf("V%02d", i), big})
		}
		want, err = f.Encode()
		if err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var reads, partial atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(dir, "outgoing")
			for !stop.Load() {
				ents, _ := os.ReadDir(out)
				for _, e := range ents {
					b, err := os.ReadFile(filepath.Join(out, e.Name()))
					if err != nil {
						continue // removed meanwhile
					}
					reads.Add(1)
					if !bytes.Equal(b, want) {
						partial.Add(1)
					}
					_ = os.Remove(filepath.Join(out, e.Name())) // "picked up"
				}
			}
		}()
	}
	for i := range 100 {
		if err := sp.Submit(fmt.Sprintf("f%03d.call", i), want, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if reads.Load() < 30 {
		t.Fatalf("the watcher read only %d files: the test proves nothing", reads.Load())
	}
	if partial.Load() != 0 {
		t.Errorf("%d of %d reads saw a partial file", partial.Load(), reads.Load())
	}
	tmps, _ := os.ReadDir(sp.Temp)
	if len(tmps) != 0 {
		t.Errorf("%d temporary files left", len(tmps))
	}
}

// A temporary directory on another filesystem is refused at start.
func TestTempDirOtherFilesystem(t *testing.T) {
	spoolDir := t.TempDir()
	other, err := os.MkdirTemp("/dev/shm", "callfile-test-")
	if err != nil {
		t.Fatalf("need /dev/shm (a tmpfs) for a second filesystem: %v", err)
	}
	defer os.RemoveAll(other)
	var a, b syscall.Stat_t
	if err := syscall.Stat(spoolDir, &a); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(other, &b); err != nil {
		t.Fatal(err)
	}
	if a.Dev == b.Dev {
		t.Fatalf("%s and %s are on the same device (%d): this machine has no second filesystem for the test", spoolDir, other, a.Dev)
	}
	_, err = callfile.New(callfile.Config{SpoolDir: spoolDir, TempDir: other})
	if !errors.Is(err, callfile.ErrCrossDevice) {
		t.Errorf("New with temp dir on another device: %v, want ErrCrossDevice", err)
	}
	if _, err := callfile.New(callfile.Config{SpoolDir: spoolDir, TempDir: filepath.Join(spoolDir, "t2")}); err != nil {
		t.Errorf("same filesystem refused: %v", err)
	}
}

// A value with a newline never reaches the spool: Failed "invalid value"
// and no file anywhere.
func TestNewlineRefused(t *testing.T) {
	b, srv, _ := start(t, callfile.Config{}, false)
	cl := call("100")
	cl.Vars = map[string]string{"name": "Ann\nApplication: System"}
	out, err := b.Originate(context.Background(), cl)
	if err != nil || out.Disposition != dialer.Failed || out.Reason != "invalid value" {
		t.Errorf("%+v %v", out, err)
	}
	for _, p := range []string{b.Spool().Outgoing(cl.AttemptID + ".call"), b.Spool().Done(cl.AttemptID + ".call")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}
	if n := srv.Channels(); n != 0 {
		t.Errorf("%d channels", n)
	}
}

// Files are moved in paced and never above MaxSpool in outgoing/.
func TestPacedAndCapped(t *testing.T) {
	b, srv, _ := start(t, callfile.Config{MaxSpool: 2, MoveInterval: 30 * time.Millisecond}, false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var peak int
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n, err := b.Spool().Pending(); err == nil {
				mu.Lock()
				peak = max(peak, n)
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	t0 := time.Now()
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := b.Originate(context.Background(), call("100")); err != nil || out.Disposition != dialer.Answered {
				t.Errorf("%+v %v", out, err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	if peak > 2 {
		t.Errorf("%d files in outgoing/ at once, MaxSpool 2", peak)
	}
	if p := srv.PeakInFlightOriginates(); p > 2 {
		t.Errorf("%d calls at once at the fake, MaxSpool 2", p)
	}
	if el := time.Since(t0); el < 5*30*time.Millisecond {
		t.Errorf("6 files moved in %v: not paced at 30 ms", el)
	}
}

// Reconcile reads the spool: archived = ended with its Status, in
// outgoing/ = live, nowhere = never started (and a stale temp is removed).
func TestReconcile(t *testing.T) {
	dir := t.TempDir()
	b, err := callfile.New(callfile.Config{SpoolDir: dir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	live, ended, never := call("100"), call("200"), call("300")
	content, err := b.Build(live)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Spool().Submit(live.AttemptID+".call", content, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.Spool().Done(ended.AttemptID+".call"), []byte("Channel: Local/200@test\nStatus: Expired\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(b.Spool().Temp, "."+never.AttemptID+".call.123.tmp")
	if err := os.WriteFile(stale, []byte("Chan"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _, err := b.Reconcile(ctx, live); st != dialer.StateLive || err != nil {
		t.Errorf("live: %v %v", st, err)
	}
	if st, out, err := b.Reconcile(ctx, ended); st != dialer.StateEnded || out.Disposition != dialer.Failed || out.Reason != "Expired" || err != nil {
		t.Errorf("ended: %v %+v %v", st, out, err)
	}
	if st, _, err := b.Reconcile(ctx, never); st != dialer.StateNeverStarted || err != nil {
		t.Errorf("never: %v %v", st, err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale temp file kept")
	}
	// A name is used once.
	if err := b.Spool().Submit(live.AttemptID+".call", content, time.Time{}); !errors.Is(err, callfile.ErrExists) {
		t.Errorf("second submit of a name: %v", err)
	}
}

// Owner and mode are applied before the rename (Asterisk, running as
// another user, must be able to read and utime the file); the mtime is the
// scheduled time.
func TestOwnerModeMtime(t *testing.T) {
	dir := t.TempDir()
	owner := &callfile.Owner{UID: os.Getuid(), GID: os.Getgid()}
	if os.Getuid() == 0 {
		owner = &callfile.Owner{UID: 12345, GID: 12346} // as root: really another user
	}
	sp, err := callfile.OpenSpool(dir, "", owner, 0o604)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := sp.Submit("x.call", []byte("Channel: Local/1@t\nApplication: Wait\n"), at); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sp.Outgoing("x.call"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o604 || int(st.Uid) != owner.UID || int(st.Gid) != owner.GID || !fi.ModTime().Equal(at) {
		t.Errorf("mode %v uid %d gid %d mtime %v; want 0604 %d %d %v", fi.Mode().Perm(), st.Uid, st.Gid, fi.ModTime(), owner.UID, owner.GID, at)
	}
	if os.Getuid() != 0 {
		// Another owner needs privileges: the error says so and nothing
		// reaches outgoing/.
		sp2, err := callfile.OpenSpool(dir, "", &callfile.Owner{UID: 0, GID: 0}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := sp2.Submit("y.call", []byte("Channel: Local/1@t\nApplication: Wait\n"), time.Time{}); err == nil || !strings.Contains(err.Error(), "chown") {
			t.Errorf("chown to root as uid %d: %v", os.Getuid(), err)
		}
		if _, err := os.Stat(sp2.Outgoing("y.call")); err == nil {
			t.Error("a file whose chown failed reached outgoing/")
		}
	}
}

// A campaign that opts into Asterisk's retries: MaxRetries 1 RetryTime 1s
// on a busy line is two calls 1 s apart in one file, one dialer attempt,
// Expired refined to busy.
func TestAsteriskRetriesOptIn(t *testing.T) {
	b, _, _ := start(t, callfile.Config{MaxRetries: 1, RetryTime: time.Second}, true)
	cl := call("200")
	t0 := time.Now()
	out, err := b.Originate(context.Background(), cl)
	if err != nil || out.Disposition != dialer.Busy {
		t.Fatalf("%+v %v", out, err)
	}
	if el := time.Since(t0); el < time.Second {
		t.Errorf("two attempts in %v, RetryTime 1s", el)
	}
	data, err := os.ReadFile(b.Spool().Done(cl.AttemptID + ".call"))
	if err != nil {
		t.Fatal(err)
	}
	if st, n, err := callfile.ReadStatus(data); st != callfile.Expired || n != 2 || err != nil {
		t.Errorf("archived %s after %d attempts (%v)\n%s", st, n, err, data)
	}
	if !strings.Contains(string(data), "MaxRetries: 1\nRetryTime: 1\n") {
		t.Errorf("file:\n%s", data)
	}
}
