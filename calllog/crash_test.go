package calllog_test

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
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
	select {} // wait for SIGKILL
}

// runCrashChild starts the child, waits until it appended everything, and
// SIGKILLs it.
func runCrashChild(t *testing.T, dir, addr, mode string) {
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
	if err != nil || strings.TrimSpace(line) != crashReadyMsg {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the exit status is an error by definition
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
	t.Logf("after restart: %+v", st)
	if st.Written != crashEntries || st.Missing != 0 || st.Corrupt != 0 {
		t.Fatalf("stats %+v, want Written %d, Missing 0, Corrupt 0", st, crashEntries)
	}
	checkExactlyOnceInOrder(t, readStream(t, client, "{fsivr}:calls"), 1, crashEntries)
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
	t.Logf("after restart: %+v", st)
	if st.Missing == 0 || st.Missing > 101 || st.Written+st.Missing != crashEntries {
		t.Fatalf("stats %+v: want Missing in [1, 101] (the in-flight batch and queue) and Written+Missing = %d", st, crashEntries)
	}
}
