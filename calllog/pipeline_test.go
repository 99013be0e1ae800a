package calllog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/redistest"
)

// firstScriptHold holds the writer's first single script call until the
// test has queued a backlog behind it (backlog closes release), so that
// the next round trip is a pipeline of several batches. The hooks below
// embed it.
type firstScriptHold struct {
	entered chan struct{} // closed when the first script call is held
	release chan struct{} // closed by the test to let it go
	once    sync.Once
}

func newFirstScriptHold() firstScriptHold {
	return firstScriptHold{entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *firstScriptHold) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *firstScriptHold) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" {
			h.once.Do(func() {
				close(h.entered)
				<-h.release
			})
		}
		return next(ctx, cmd)
	}
}

// pipelineHook holds the first script call (firstScriptHold), then lets
// tamper change the first pipeline of three or more script calls.
type pipelineHook struct {
	firstScriptHold
	tamper func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error

	mu    sync.Mutex
	fired bool
	after []error // errors of the tampered pipeline's commands, as the writer saw them
}

func newPipelineHook() *pipelineHook {
	return &pipelineHook{firstScriptHold: newFirstScriptHold()}
}

func (h *pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		fire := !h.fired && len(cmds) >= 3
		h.fired = h.fired || fire
		h.mu.Unlock()
		if !fire {
			return next(ctx, cmds)
		}
		err := h.tamper(ctx, cmds, next)
		h.mu.Lock()
		for _, c := range cmds {
			h.after = append(h.after, c.Err())
		}
		h.mu.Unlock()
		return err
	}
}

// backlog appends n node entries of one call (values 1..n) such that all but
// the first wait behind the held first script call.
func backlog(t *testing.T, w *calllog.Writer, h *firstScriptHold, n int) {
	t.Helper()
	w.Append(calllog.Entry{Call: "c1", Kind: calllog.KindNode, Node: "n", Value: "1"})
	select {
	case <-h.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the writer never sent its first batch")
	}
	for i := 2; i <= n; i++ {
		w.Append(calllog.Entry{Call: "c1", Kind: calllog.KindNode, Node: "n", Value: strconv.Itoa(i)})
	}
	close(h.release)
}

// streamValues is the "value" field of every entry of the stream, in stream
// order.
func streamValues(t *testing.T, client redis.UniversalClient, key string) []string {
	t.Helper()
	var out []string
	for _, m := range readStream(t, client, key) {
		out = append(out, str(m.Values["value"]))
	}
	return out
}

func wantValues(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("stream has %d entries, want %d: %v", len(got), n, got)
	}
	for i, v := range got {
		if v != strconv.Itoa(i+1) {
			t.Fatalf("stream out of order or duplicated at %d: %v", i, got)
		}
	}
}

// Issue 14: several batches go in one round trip. When Redis refuses one of
// them before writing (here: a payload it cannot decode, as for OOM or a
// script error), the script refuses every later batch of the pipeline
// (OUTOFORDER) instead of writing it ahead of the refused one, and the
// writer spools all of them, in order, and replays them: the stream ends up
// in order, every entry once, and the counters are exact.
func TestPipelinedBatchRefusedKeepsOrder(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	h := newPipelineHook()
	h.tamper = func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
		args := cmds[1].Args()
		args[len(args)-1] = "\xc1" // never valid MessagePack: cmsgpack fails before any write
		return next(ctx, cmds)
	}
	client.AddHook(h)
	const n = 40
	w := newWriter(t, calllog.Config{BatchSize: 4, FlushDelay: -1, RetryInterval: 20 * time.Millisecond}, client)
	backlog(t, w, &h.firstScriptHold, n)
	waitFor(t, "the spool replayed", func() bool {
		st := w.Stats()
		return st.Written+st.Duplicates == n && st.Segments == 0
	})
	closeWriter(t, w)

	h.mu.Lock()
	after := h.after
	h.mu.Unlock()
	if len(after) < 3 || after[0] != nil || after[1] == nil {
		t.Fatalf("tampered pipeline: %v, want the first batch written and the second refused", after)
	}
	for i, err := range after[2:] {
		if err == nil || !strings.Contains(err.Error(), "OUTOFORDER") {
			t.Fatalf("batch %d behind the refused one answered %v, want OUTOFORDER", i+2, err)
		}
	}
	wantValues(t, streamValues(t, client, w.Keys().StreamKey(0)), n)
	if st := w.Stats(); st.Written != n || st.Duplicates != 0 || st.Lost != 0 || st.Spooled == 0 {
		t.Errorf("stats %+v: want %d written once, some spooled, none lost", st, n)
	}
}

// Issue 14: when the answers of a pipeline are lost after Redis applied every
// batch (a connection cut while reading), the batches not acknowledged are
// spooled in order and their replay is all duplicates: nothing twice in the
// stream, nothing lost.
func TestPipelineAnswersLostSpoolsUnacknowledged(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	h := newPipelineHook()
	injected := errors.New("injected: connection lost while reading the answers")
	h.tamper = func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
		err := next(ctx, cmds)
		for _, c := range cmds[1:] {
			c.SetErr(injected)
		}
		return errors.Join(err, injected)
	}
	client.AddHook(h)
	// The backlog (7 batches of 4) goes in rounds of 1, 2 and 4 batches: the
	// tampered pipeline (the first of 3 or more) is the last.
	const n = 1 + 7*4
	w := newWriter(t, calllog.Config{BatchSize: 4, FlushDelay: -1, RetryInterval: 20 * time.Millisecond}, client)
	backlog(t, w, &h.firstScriptHold, n)
	waitFor(t, "the spool replayed", func() bool {
		st := w.Stats()
		return st.Written+st.Duplicates == n && st.Segments == 0
	})
	closeWriter(t, w)
	wantValues(t, streamValues(t, client, w.Keys().StreamKey(0)), n)
	st := w.Stats()
	if st.Duplicates == 0 || st.Written+st.Duplicates != n || st.Lost != 0 || st.Spooled != st.Duplicates {
		t.Errorf("stats %+v: want the unacknowledged batches spooled and replayed as duplicates", st)
	}
}

// evalshaCalls is Redis's count of EVALSHA calls so far.
func evalshaCalls(t *testing.T, client redis.UniversalClient) int {
	t.Helper()
	info, err := client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:calls="); ok {
			n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return 0
}

// Issue 14: at a moderate rate (entries arriving one at a time) the writer
// waits up to FlushDelay before sending less than a batch, so a few entries
// share a round trip instead of each being its own; without the wait the
// same entries cost about one script call each.
func TestFlushDelayCoalescesSmallBatches(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	const n = 60
	run := func(delay time.Duration) int {
		before := evalshaCalls(t, client)
		w := newWriter(t, calllog.Config{FlushDelay: delay, Stream: "d" + strconv.Itoa(int(delay))}, client)
		for i := range n {
			w.Append(calllog.Entry{Call: "c" + strconv.Itoa(i%7), Kind: calllog.KindDTMF, Value: strconv.Itoa(i)})
			time.Sleep(500 * time.Microsecond)
		}
		closeWriter(t, w)
		if st := w.Stats(); st.Written != n {
			t.Fatalf("written %d of %d", st.Written, n)
		}
		return evalshaCalls(t, client) - before
	}
	without, with := run(-1), run(20*time.Millisecond)
	t.Logf("%d entries, one every 0.5 ms: %d script calls without the wait, %d with 20 ms", n, without, with)
	// Relative, so that a loaded machine (longer sleeps, a slower writer)
	// moves both figures without failing the test.
	if with*3 > without {
		t.Errorf("%d script calls for %d entries with FlushDelay 20ms against %d without: want at most a third", with, n, without)
	}
	if without < n/3 {
		t.Errorf("%d script calls without the wait: the test no longer tells the two apart", without)
	}
}

// Issue 14: the coalescing wait never delays Close (nor Append): with the
// longest FlushDelay, an entry appended just before Close is written and
// Close returns at once.
func TestFlushDelayDoesNotDelayClose(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w := newWriter(t, calllog.Config{FlushDelay: time.Second}, client)
	start := time.Now()
	w.Append(calllog.Entry{Call: "c1", Kind: calllog.KindCallStart})
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Append took %v", d)
	}
	time.Sleep(20 * time.Millisecond) // the writer is in its wait now
	start = time.Now()
	closeWriter(t, w)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Close took %v with FlushDelay 1s: it waited for the delay", d)
	}
	if n := len(readStream(t, client, w.Keys().StreamKey(0))); n != 1 {
		t.Errorf("%d entries in the stream, want 1", n)
	}
	if _, err := calllog.NewWriter(calllog.Config{SpoolDir: t.TempDir(), FlushDelay: 2 * time.Second}, nil, nil); !errors.Is(err, calllog.ErrConfig) {
		t.Errorf("FlushDelay 2s: %v, want ErrConfig", err)
	}
}

// markFile is the content of the writer's mark file ("" if there is none).
func markFile(t *testing.T, dir, id string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, id+".mark"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Issue 14: the mark file (the last sequence in Redis, read only to count a
// dead writer's gaps against its segments) is not rewritten per batch while
// nothing is spooled, but it holds the last acknowledged sequence before the
// first own record reaches the spool, so a restart counts no false gap.
func TestMarkWrittenOnlyBeforeSpooling(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	dir := t.TempDir()
	w := newWriter(t, calllog.Config{SpoolDir: dir, FlushDelay: -1, WriteTimeout: time.Second, RetryInterval: time.Hour}, client)
	for i := range 10 {
		w.Append(calllog.Entry{Call: "c1", Kind: calllog.KindDTMF, Value: strconv.Itoa(i)})
		waitFor(t, "entry written", func() bool { return w.Stats().Written == uint64(i+1) })
	}
	if m := markFile(t, dir, w.ID()); m != "" {
		t.Errorf("mark file %q after 10 live batches and nothing spooled: want none written", m)
	}
	srv.Kill()
	w.Append(calllog.Entry{Call: "c1", Kind: calllog.KindDTMF, Value: "spooled"})
	waitFor(t, "entry spooled", func() bool { return w.Stats().Spooled == 1 })
	if m := markFile(t, dir, w.ID()); m != "00000000000000000010" {
		t.Errorf("mark file %q once an entry is spooled, want sequence 10 (the last in Redis)", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = w.Close(ctx) // Redis is down: the entry stays spooled
}

// roundsHook records the size of every pipeline of script calls the writer
// sends, holds the first single script call (firstScriptHold), and lets lose change the answers of the
// pipeline with the given number (0-based) after Redis applied it.
type roundsHook struct {
	firstScriptHold
	loseAt int // -1: none
	lose   func(cmds []redis.Cmder) error

	mu    sync.Mutex
	sizes []int
}

func (h *roundsHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if n := cmds[0].Name(); n != "evalsha" && n != "eval" {
			return next(ctx, cmds) // the client's own (connection setup)
		}
		h.mu.Lock()
		i := len(h.sizes)
		h.sizes = append(h.sizes, len(cmds))
		h.mu.Unlock()
		err := next(ctx, cmds)
		if i == h.loseAt {
			return errors.Join(err, h.lose(cmds))
		}
		return err
	}
}

func (h *roundsHook) pipelines() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.sizes...)
}

// Issue 14: a backlog goes in rounds of 1, 2, 4, then 8 batches (each
// encoded while the one before it is in flight, sent once that one is
// acknowledged), and reaches the stream in order, every entry once.
func TestRoundsGrowAndKeepOrder(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	h := &roundsHook{firstScriptHold: newFirstScriptHold(), loseAt: -1}
	client.AddHook(h)
	const n = 1 + 17*4 // the held first entry, then 17 batches of 4
	w := newWriter(t, calllog.Config{BatchSize: 4, FlushDelay: -1}, client)
	backlog(t, w, &h.firstScriptHold, n)
	waitFor(t, "the backlog written", func() bool { return w.Stats().Written == n })
	closeWriter(t, w)
	if got, want := h.pipelines(), []int{1, 2, 4, 8, 2}; !slices.Equal(got, want) {
		t.Errorf("pipelines of %v script calls, want %v", got, want)
	}
	wantValues(t, streamValues(t, client, w.Keys().StreamKey(0)), n)
	if st := w.Stats(); st.Spooled != 0 || st.Duplicates != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Issue 14: when a round is not acknowledged in full (here its answers are
// lost after Redis applied it), the round already encoded behind it is never
// sent: everything from the first unacknowledged batch on is spooled and
// replayed in order, the applied batch as duplicates.
func TestRoundNotAcknowledgedStopsTheNext(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	injected := errors.New("injected: connection lost while reading the answers")
	h := &roundsHook{firstScriptHold: newFirstScriptHold(), loseAt: 1,
		lose: func(cmds []redis.Cmder) error {
			cmds[1].SetErr(injected)
			return injected
		}}
	client.AddHook(h)
	const n = 1 + 15*4
	w := newWriter(t, calllog.Config{BatchSize: 4, FlushDelay: -1, RetryInterval: 20 * time.Millisecond}, client)
	backlog(t, w, &h.firstScriptHold, n)
	waitFor(t, "the spool replayed", func() bool {
		st := w.Stats()
		return st.Written+st.Duplicates == n && st.Segments == 0
	})
	closeWriter(t, w)
	// Replay sends one script call per segment chunk, never a pipeline: the
	// rounds of 4 and 8 batches prepared behind the lost one never went.
	if got, want := h.pipelines(), []int{1, 2}; !slices.Equal(got, want) {
		t.Errorf("pipelines of %v script calls, want %v", got, want)
	}
	wantValues(t, streamValues(t, client, w.Keys().StreamKey(0)), n)
	if st := w.Stats(); st.Duplicates != 4 || st.Written != n-4 || st.Spooled != n-1-8 || st.Lost != 0 {
		t.Errorf("stats %+v: want the batch with lost answers replayed as 4 duplicates, the %d entries behind the acknowledged ones spooled", st, n-1-8)
	}
}
