package calllog_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/redistest"
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

func newWriter(t testing.TB, cfg calllog.Config, client redis.UniversalClient) *calllog.Writer {
	t.Helper()
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = t.TempDir()
	}
	w, err := calllog.NewWriter(cfg, client, testLogger(t))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	return w
}

func closeWriter(t testing.TB, w *calllog.Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// spoolOnly writes n node entries of call (values 0 to n-1) with no Redis,
// so they stay in dir's spool for the next writer to replay.
func spoolOnly(t testing.TB, dir, call string, n int) {
	t.Helper()
	w := newWriter(t, calllog.Config{SpoolDir: dir}, nil)
	for i := range n {
		w.Append(calllog.Entry{Call: call, Kind: calllog.KindNode, Value: strconv.Itoa(i)})
	}
	closeWriter(t, w)
}

func readStream(t testing.TB, client redis.UniversalClient, key string) []redis.XMessage {
	t.Helper()
	var all []redis.XMessage
	start := "-"
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		msgs, err := client.XRangeN(ctx, key, start, "+", 1000).Result()
		cancel()
		if err != nil {
			t.Fatalf("XRANGE %s: %v", key, err)
		}
		all = append(all, msgs...)
		if len(msgs) < 1000 {
			return all
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func str(v any) string { return fmt.Sprint(v) }

func TestSchemaInRedis(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w := newWriter(t, calllog.Config{SummaryTTL: time.Hour}, client)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	call := "6f1c2a52-0000-4000-8000-000000000001"
	base := calllog.Entry{Call: call, Flow: "sales", FlowVersion: "3"}
	entries := []calllog.Entry{
		{Kind: calllog.KindCallStart, Fields: map[string]string{"caller": "+15551230000", "called": "8000"}},
		{Kind: calllog.KindAnswer},
		{Kind: calllog.KindNode, Node: "welcome", Value: "play"},
		{Kind: calllog.KindCRM, Node: "welcome", Value: "found", Fields: map[string]string{"agent": "601"}},
		{Kind: calllog.KindNode, Node: "menu", Value: "menu"},
		{Kind: calllog.KindDTMF, Node: "menu", Value: "1"},
		{Kind: calllog.KindError, Node: "menu", Value: "prompt missing"},
		{Kind: calllog.KindNode, Node: "agent", Value: "bridge"},
		{Kind: calllog.KindBridge, Node: "agent", Value: "user/601", Fields: map[string]string{"disposition": "SUCCESS"}},
		{Kind: calllog.KindHangup, Node: "agent", Fields: map[string]string{"cause": "NORMAL_CLEARING"}},
	}
	for i, e := range entries {
		e.Call, e.Flow, e.FlowVersion = base.Call, base.Flow, base.FlowVersion
		e.Time = t0.Add(time.Duration(i) * time.Second)
		w.Append(e)
	}
	closeWriter(t, w)

	keys := w.Keys()
	msgs := readStream(t, client, keys.StreamKey(0))
	if len(msgs) != len(entries) {
		t.Fatalf("stream has %d entries, want %d", len(msgs), len(entries))
	}
	core := []string{"v", "id", "call", "flow", "flow_version", "node", "kind", "value", "ts"}
	ids := map[string]bool{}
	for i, m := range msgs {
		for _, f := range core {
			if _, ok := m.Values[f]; !ok {
				t.Errorf("entry %d lacks field %q: %v", i, f, m.Values)
			}
		}
		if str(m.Values["v"]) != calllog.SchemaVersion || str(m.Values["call"]) != call ||
			str(m.Values["flow"]) != "sales" || str(m.Values["flow_version"]) != "3" ||
			str(m.Values["kind"]) != string(entries[i].Kind) || str(m.Values["node"]) != entries[i].Node ||
			str(m.Values["value"]) != entries[i].Value {
			t.Errorf("entry %d = %v, want %+v", i, m.Values, entries[i])
		}
		if ts, err := time.Parse(time.RFC3339Nano, str(m.Values["ts"])); err != nil || !ts.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Errorf("entry %d ts %v (%v)", i, m.Values["ts"], err)
		}
		if ids[str(m.Values["id"])] {
			t.Errorf("duplicate id %v", m.Values["id"])
		}
		ids[str(m.Values["id"])] = true
	}
	if str(msgs[0].Values["caller"]) != "+15551230000" || str(msgs[3].Values["agent"]) != "601" {
		t.Errorf("extra fields missing: %v / %v", msgs[0].Values, msgs[3].Values)
	}

	sum, err := client.HGetAll(context.Background(), keys.SummaryKey(call)).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"v": "1", "call": call, "flow": "sales", "flow_version": "3",
		"caller": "+15551230000", "called": "8000",
		"start": "2026-11-23T10:00:00Z", "answer": "2026-11-23T10:00:01Z", "end": "2026-11-23T10:00:09Z",
		"path": "welcome>menu>agent", "outcome": "completed", "hangup_cause": "NORMAL_CLEARING",
		"crm_outcome": "found", "bridge": "SUCCESS", "errors": "1", "last_error": "prompt missing",
		"events": "10", "last_kind": "hangup", "last_node": "agent", "updated": "2026-11-23T10:00:09Z",
	}
	for k, v := range want {
		if sum[k] != v {
			t.Errorf("summary %q = %q, want %q", k, sum[k], v)
		}
	}
	ttl, err := client.TTL(context.Background(), keys.SummaryKey(call)).Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("summary TTL = %v (%v), want (0, 1h]", ttl, err)
	}
	st := w.Stats()
	if st.Written != uint64(len(entries)) || st.Lost != 0 || st.Spooled != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestTeeAndNoRedisThenReplayByNextWriter(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var teed []calllog.Entry
	w := newWriter(t, calllog.Config{SpoolDir: dir, Tee: func(e calllog.Entry) {
		mu.Lock()
		teed = append(teed, e)
		mu.Unlock()
	}}, nil)
	for i := range 50 {
		w.Append(calllog.Entry{Call: "c" + strconv.Itoa(i%5), Kind: calllog.KindNode, Value: strconv.Itoa(i)})
	}
	closeWriter(t, w)
	if len(teed) != 50 || teed[7].Value != "7" {
		t.Fatalf("tee got %d entries", len(teed))
	}
	if st := w.Stats(); st.Spooled != 50 || st.Segments == 0 || st.Written != 0 {
		t.Fatalf("stats without Redis: %+v", st)
	}

	// The next process (a new writer on the same spool dir) replays them.
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w2 := newWriter(t, calllog.Config{SpoolDir: dir, RetryInterval: 10 * time.Millisecond}, client)
	w2.Append(calllog.Entry{Call: "c0", Kind: calllog.KindHangup, Value: "last"})
	closeWriter(t, w2)
	msgs := readStream(t, client, w2.Keys().StreamKey(0))
	if len(msgs) != 51 {
		t.Fatalf("stream has %d entries, want 51", len(msgs))
	}
	for i := range 50 {
		if str(msgs[i].Values["value"]) != strconv.Itoa(i) {
			t.Fatalf("entry %d value %v: replay out of order", i, msgs[i].Values["value"])
		}
	}
	if str(msgs[50].Values["value"]) != "last" {
		t.Fatalf("new entry not after the replayed ones: %v", msgs[50].Values)
	}
	if st := w2.Stats(); st.Replayed != 51 && st.Replayed != 50 || st.Segments != 0 {
		t.Fatalf("stats after replay: %+v", st)
	}
}

func TestRedisAbsentFromStart(t *testing.T) {
	port := redistest.FreePort(t)
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	w := newWriter(t, calllog.Config{RetryInterval: 20 * time.Millisecond, WriteTimeout: 500 * time.Millisecond}, client)
	const n = 500
	for i := range n {
		w.Append(calllog.Entry{Call: "call-" + strconv.Itoa(i%10), Kind: calllog.KindNode, Value: strconv.Itoa(i / 10)})
	}
	waitFor(t, "entries spooled", func() bool { return w.Stats().Spooled == n })
	if st := w.Stats(); st.Written != 0 || st.RedisErrors == 0 {
		t.Fatalf("stats before Redis: %+v", st)
	}

	srv := redistest.NewUnstartedServer(t, redistest.Options{Port: port})
	srv.Start()
	waitFor(t, "entries replayed", func() bool { return w.Stats().Written == n })
	closeWriter(t, w)
	checkExactlyOnceInOrder(t, readStream(t, client, w.Keys().StreamKey(0)), 10, n/10)
}

// checkExactlyOnceInOrder checks that calls "call-0".."call-<calls-1>" each
// have values 0..perCall-1 exactly once, in order.
func checkExactlyOnceInOrder(t *testing.T, msgs []redis.XMessage, calls, perCall int) {
	t.Helper()
	next := map[string]int{}
	ids := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		id := str(m.Values["id"])
		if ids[id] {
			t.Fatalf("entry id %s written twice", id)
		}
		ids[id] = true
		call := str(m.Values["call"])
		v, err := strconv.Atoi(str(m.Values["value"]))
		if err != nil {
			t.Fatalf("bad value in %v", m.Values)
		}
		if v != next[call] {
			t.Fatalf("call %s: got value %d, want %d (lost, duplicated or reordered)", call, v, next[call])
		}
		next[call]++
	}
	if len(next) != calls {
		t.Fatalf("%d calls in the stream, want %d", len(next), calls)
	}
	for c, n := range next {
		if n != perCall {
			t.Fatalf("call %s has %d entries, want %d", c, n, perCall)
		}
	}
	if len(msgs) != calls*perCall {
		t.Fatalf("stream has %d entries, want %d", len(msgs), calls*perCall)
	}
}

// TestRedisKilledUnderLoad: 200 calls x 100 entries; Redis (AOF, appendfsync
// always, so everything it acknowledged survives) is SIGKILLed while entries
// are in flight and restarted on the same port. Every entry must be there
// exactly once, per call in order, and no Append may take longer than
// calllog.AppendBound.
func TestRedisKilledUnderLoad(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{AppendOnly: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	w := newWriter(t, calllog.Config{
		QueueSize: 1024, RetryInterval: 20 * time.Millisecond,
		WriteTimeout: 2 * time.Second, SegmentBytes: 256 << 10,
	}, client)

	const calls, perCall = 200, 100
	phaseEnds := []int{30, 70, perCall} // entries per call before kill, before restart, in total
	gates := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var maxAppend atomic.Int64
	var phase [3]sync.WaitGroup
	for i := range phase {
		phase[i].Add(calls)
	}
	for c := range calls {
		go func() {
			call := "call-" + strconv.Itoa(c)
			v := 0
			for p, end := range phaseEnds {
				if p > 0 {
					<-gates[p-1]
				}
				for ; v < end; v++ {
					start := time.Now()
					w.Append(calllog.Entry{Call: call, Flow: "load", Kind: calllog.KindNode, Node: "n", Value: strconv.Itoa(v)})
					d := int64(time.Since(start))
					for {
						cur := maxAppend.Load()
						if d <= cur || maxAppend.CompareAndSwap(cur, d) {
							break
						}
					}
				}
				phase[p].Done()
			}
		}()
	}
	phase[0].Wait()
	// Kill while phase 0 is half written: some entries are in Redis, some in
	// flight, some queued.
	waitFor(t, "half of phase 0 written", func() bool { return w.Stats().Written >= uint64(calls*phaseEnds[0]/2) })
	srv.Kill()
	close(gates[0])
	phase[1].Wait()
	waitFor(t, "writer to notice Redis is down", func() bool { return w.Stats().RedisErrors > 0 })
	srv.Start()
	close(gates[1])
	phase[2].Wait()
	closeWriter(t, w)

	st := w.Stats()
	t.Logf("stats: %+v, max Append %v", st, time.Duration(maxAppend.Load()))
	if st.Lost != 0 || st.SpoolErrors != 0 || st.Segments != 0 {
		t.Fatalf("writer lost entries or left spool behind: %+v", st)
	}
	if st.RedisErrors == 0 || st.Spooled == 0 {
		t.Fatalf("the outage was not observed: %+v", st)
	}
	msgs := readStream(t, client, w.Keys().StreamKey(0))
	logFigures(t, "Redis SIGKILL under load", calls*perCall, st, msgs)
	checkExactlyOnceInOrder(t, msgs, calls, perCall)
	// The summaries count each entry exactly once too (dedupe covers them).
	for _, c := range []int{0, 99, 199} {
		ev, err := client.HGet(context.Background(), w.Keys().SummaryKey("call-"+strconv.Itoa(c)), "events").Result()
		if err != nil || ev != strconv.Itoa(perCall) {
			t.Fatalf("summary of call-%d has events=%q (%v), want %d", c, ev, err, perCall)
		}
	}
	if got := time.Duration(maxAppend.Load()); got >= calllog.AppendBound {
		t.Fatalf("an Append took %v, documented bound is %v", got, calllog.AppendBound)
	}
}

func TestAppendAfterCloseIsCountedLost(t *testing.T) {
	w := newWriter(t, calllog.Config{}, nil)
	closeWriter(t, w)
	w.Append(calllog.Entry{Call: "c", Kind: calllog.KindNode})
	if st := w.Stats(); st.Lost != 1 {
		t.Fatalf("stats %+v, want Lost=1", st)
	}
	if err := w.Close(context.Background()); err == nil {
		t.Fatal("second Close returned nil")
	}
}

// TestOverflowKeepsOrder drives the queue-full paths (hand-off to the spiller
// and, with a tiny queue, the caller writing the spool itself) and checks that
// the replay is still exactly once and in order per call.
func TestOverflowKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, calllog.Config{SpoolDir: dir, QueueSize: 2, SegmentBytes: 4 << 10}, nil)
	const calls, perCall = 20, 50
	var wg sync.WaitGroup
	for c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range perCall {
				w.Append(calllog.Entry{Call: "call-" + strconv.Itoa(c), Kind: calllog.KindNode, Value: strconv.Itoa(v)})
			}
		}()
	}
	wg.Wait()
	closeWriter(t, w)
	if st := w.Stats(); st.Spooled != calls*perCall || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w2 := newWriter(t, calllog.Config{SpoolDir: dir, RetryInterval: 10 * time.Millisecond}, client)
	waitFor(t, "replay", func() bool { return w2.Stats().Written == calls*perCall })
	closeWriter(t, w2)
	checkExactlyOnceInOrder(t, readStream(t, client, w2.Keys().StreamKey(0)), calls, perCall)
}

// TestReplayIsIdempotent replays a spool whose entries Redis already has (as
// after a crash between the write and the segment removal): nothing is
// written twice.
func TestReplayIsIdempotent(t *testing.T) {
	dir, copyDir := t.TempDir(), t.TempDir()
	spoolOnly(t, dir, "call-0", 30)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("spool dir: %v %v", ents, err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copyDir+"/"+e.Name(), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	for i, d := range []string{dir, copyDir} {
		w := newWriter(t, calllog.Config{SpoolDir: d, RetryInterval: 10 * time.Millisecond}, client)
		closeWriter(t, w)
		st := w.Stats()
		if i == 0 && (st.Written != 30 || st.Duplicates != 0) || i == 1 && (st.Written != 0 || st.Duplicates != 30) {
			t.Fatalf("replay %d stats %+v", i, st)
		}
	}
	checkExactlyOnceInOrder(t, readStream(t, client, "{fsivr}:calls"), 1, 30)
}
