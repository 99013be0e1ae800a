package calllog_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/redistest"
)

// The crash tests run a writer in a child process (this test binary again,
// TestCrashChild) and SIGKILL it: nothing the child held only in memory
// survives, exactly as for ivrd.
const (
	crashEnvDir   = "CALLLOG_CRASH_DIR"
	crashEnvAddr  = "CALLLOG_CRASH_REDIS"
	crashEnvMode  = "CALLLOG_CRASH_MODE"
	crashEntries  = 1000
	crashReadyMsg = "appended"
)

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		return
	}
	client := redis.NewClient(&redis.Options{Addr: os.Getenv(crashEnvAddr), MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true})
	cfg := calllog.Config{SpoolDir: dir, RetryInterval: time.Hour}
	switch os.Getenv(crashEnvMode) {
	case "second":
		// Another instance holds dir: this one must fail at once.
		_, err := calllog.NewWriter(cfg, client, nil)
		os.Stdout.WriteString(fmt.Sprintf("%s locked=%v err=%v\n", crashReadyMsg, errors.Is(err, calllog.ErrSpoolLocked), err))
		waitForKill()
	case "diskfull":
		// The spool's file system is full: every write past 16 KiB fails
		// (RLIMIT_FSIZE gives EFBIG, the same failed write(2) as ENOSPC).
		signal.Ignore(syscall.SIGXFSZ)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 16 << 10, Max: 16 << 10}); err != nil {
			t.Fatal(err)
		}
		cfg.WriteTimeout, cfg.SegmentBytes = time.Second, 1<<30
		w, err := calllog.NewWriter(cfg, client, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range crashEntries {
			w.Append(calllog.Entry{Call: "call-0", Kind: calllog.KindNode, Value: strconv.Itoa(i)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		cerr := w.Close(ctx)
		cancel()
		b, _ := json.Marshal(w.Stats())
		os.Stdout.WriteString(fmt.Sprintf("%s lost=%v %s\n", crashReadyMsg, errors.Is(cerr, calllog.ErrLost), b))
		waitForKill()
	case "down":
		cfg.WriteTimeout = time.Second
	case "hang":
		cfg.WriteTimeout, cfg.QueueSize, cfg.BatchSize = time.Hour, 100, 100
	}
	w, err := calllog.NewWriter(cfg, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(calllog.Entry{Call: "call-0", Kind: calllog.KindNode, Value: "0"})
	if os.Getenv(crashEnvMode) == "down" {
		// The writer notices that Redis is down first.
		waitFor(t, "Redis error noticed", func() bool { return w.Stats().RedisErrors > 0 })
	} else {
		// The first entry is in flight to a Redis that never answers.
		waitFor(t, "first batch taken", func() bool { return w.Stats().Queued == 0 })
	}
	for i := 1; i < crashEntries; i++ {
		w.Append(calllog.Entry{Call: "call-0", Kind: calllog.KindNode, Value: strconv.Itoa(i)})
	}
	os.Stdout.WriteString(crashReadyMsg + "\n")
	waitForKill()
}

// runCrashChild starts the child, waits until it appended everything, and
// SIGKILLs it. It returns the rest of the child's ready line.
func runCrashChild(t *testing.T, dir, addr, mode string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvAddr+"="+addr, crashEnvMode+"="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, crashReadyMsg) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the exit status is an error by definition
	return strings.TrimSpace(strings.TrimPrefix(line, crashReadyMsg))
}

// Item 17: a writer SIGKILLed while Redis is down loses nothing: while a
// shard spools, Append writes the entry to the spool before it returns. The
// next writer replays every entry exactly once and finds no gap.
func TestWriterKilledWhileRedisDownLosesNothing(t *testing.T) {
	dir := t.TempDir()
	port := redistest.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	runCrashChild(t, dir, addr, "down")

	srv := redistest.NewUnstartedServer(t, redistest.Options{Port: port})
	srv.Start()
	client := srv.Client(t)
	w := newWriter(t, calllog.Config{SpoolDir: dir, RetryInterval: 10 * time.Millisecond}, client)
	waitFor(t, "replay", func() bool { return w.Stats().Segments == 0 && w.Stats().Written > 0 })
	closeWriter(t, w)
	st := w.Stats()
	msgs := readStream(t, client, "{fsivr}:calls")
	logFigures(t, "writer SIGKILL with Redis down", crashEntries, st, msgs)
	if st.Written != crashEntries || st.Missing != 0 || st.Corrupt != 0 {
		t.Fatalf("stats %+v, want Written %d, Missing 0, Corrupt 0", st, crashEntries)
	}
	checkExactlyOnceInOrder(t, msgs, 1, crashEntries)
}

// Item 17: the remaining window — entries in a batch in flight to a Redis
// that hangs (not yet known to be down) are only in memory; a SIGKILL then
// loses them, and the next writer counts them as a sequence gap (Missing)
// instead of losing them silently.
func TestWriterKilledWithBatchInFlightCountsTheGap(t *testing.T) {
	dir := t.TempDir()
	runCrashChild(t, dir, blackhole(t), "hang")

	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w := newWriter(t, calllog.Config{SpoolDir: dir, RetryInterval: 10 * time.Millisecond}, client)
	waitFor(t, "replay", func() bool { return w.Stats().Segments == 0 && w.Stats().Written > 0 })
	closeWriter(t, w)
	st := w.Stats()
	logFigures(t, "writer SIGKILL with a batch in flight", crashEntries, st, readStream(t, client, "{fsivr}:calls"))
	if st.Missing == 0 || st.Missing > 101 || st.Written+st.Missing != crashEntries {
		t.Fatalf("stats %+v: want Missing in [1, 101] (the in-flight batch and queue) and Written+Missing = %d", st, crashEntries)
	}
}

// Issue 16 item 15, across processes: a second instance on the same spool
// directory fails at once with ErrSpoolLocked while the first runs.
func TestSecondInstanceProcessFailsFast(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, calllog.Config{SpoolDir: dir}, nil)
	got := runCrashChild(t, dir, "127.0.0.1:1", "second")
	if !strings.HasPrefix(got, "locked=true ") || !strings.Contains(got, dir) {
		t.Fatalf("second instance: %s", got)
	}
	for i := range crashEntries {
		w.Append(calllog.Entry{Call: "call-0", Kind: calllog.KindNode, Value: strconv.Itoa(i)})
	}
	closeWriter(t, w)
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w2 := newWriter(t, calllog.Config{SpoolDir: dir, RetryInterval: 10 * time.Millisecond}, client)
	closeWriter(t, w2)
	msgs := readStream(t, client, "{fsivr}:calls")
	logFigures(t, "second instance on the spool dir", crashEntries, w2.Stats(), msgs)
	checkExactlyOnceInOrder(t, msgs, 1, crashEntries)
}

// Spool disk full while Redis is down: every entry the spool could not take
// is counted lost (and Close reports ErrLost); what it took is replayed
// exactly once by the next writer.
func TestSpoolDiskFullCountsEveryLoss(t *testing.T) {
	dir := t.TempDir()
	got := runCrashChild(t, dir, "127.0.0.1:1", "diskfull")
	rest, ok := strings.CutPrefix(got, "lost=true ")
	if !ok {
		t.Fatalf("child: %s", got)
	}
	var child calllog.Stats
	if err := json.Unmarshal([]byte(rest), &child); err != nil {
		t.Fatal(err)
	}
	// What fitted is spooled (a batch that hit the limit is retried record by
	// record), the rest is counted lost.
	if child.Lost == 0 || child.Spooled == 0 || child.Lost+child.Spooled != crashEntries {
		t.Fatalf("child stats %+v: want Lost + Spooled = %d, both > 0", child, crashEntries)
	}
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w := newWriter(t, calllog.Config{SpoolDir: dir, RetryInterval: 10 * time.Millisecond}, client)
	closeWriter(t, w)
	st := w.Stats()
	msgs := readStream(t, client, "{fsivr}:calls")
	st.Lost += child.Lost
	logFigures(t, "spool disk full", crashEntries, st, msgs)
	if st.Written != child.Spooled || uint64(len(msgs)) != child.Spooled {
		t.Fatalf("replayed %d (stream %d), want the %d spooled", st.Written, len(msgs), child.Spooled)
	}
}

// logFigures prints the fault-test figures the README's RELIABILITY section
// quotes: entries appended, in the stream, lost (counted), duplicated in the
// stream (same id twice), quarantined segments, corrupt records, gaps.
func logFigures(t *testing.T, fault string, appended int, st calllog.Stats, msgs []redis.XMessage) {
	t.Helper()
	ids := map[string]bool{}
	dup := 0
	for _, m := range msgs {
		id := str(m.Values["id"])
		if ids[id] {
			dup++
		}
		ids[id] = true
	}
	t.Logf("fault figures: %s: appended=%d in_stream=%d lost_counted=%d duplicated_in_stream=%d dedupe_skipped=%d quarantined=%d corrupt=%d missing=%d",
		fault, appended, len(msgs), st.Lost, dup, st.Duplicates, st.Quarantined, st.Corrupt, st.Missing)
}

// waitForKill parks the child until the parent's SIGKILL; a child whose
// parent died exits on its own after a bound instead of lingering.
func waitForKill() {
	time.Sleep(2 * time.Minute)
	os.Exit(3)
}
