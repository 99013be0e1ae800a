package calllog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/logbuf"
	"github.com/fsivr/fsivr/internal/redistest"
)

// spoolFiles lists the segment files in dir (not quarantine/).
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.spool"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// deadRedis is a client for a port nothing listens on: every command fails
// at once with "connection refused", as when Redis is down.
func deadRedis(t *testing.T) (*redis.Client, int) {
	port := redistest.FreePort(t)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c, port
}

// closeWithin runs Close and fails the test if it does not return within a
// generous guard (Close must be bounded; this is not a timing assertion).
func closeWithin(t *testing.T, w *calllog.Writer, ctxTimeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ctxTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Close(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(ctxTimeout + 30*time.Second):
		t.Fatal("Close did not return: it must be bounded by its ctx")
		return nil
	}
}

// Item 14: spool files removed behind the writer's back (an operator, a
// second instance) must not make it spin or block Close; it goes back to
// direct writes and counts what it lost.
func TestRemovedSpoolFilesDoNotStallTheWriter(t *testing.T) {
	dir := t.TempDir()
	client, port := deadRedis(t)
	w := newWriter(t, calllog.Config{SpoolDir: dir, RetryInterval: 20 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond, SegmentBytes: 2 << 10}, client)
	const before = 200
	for i := range before {
		w.Append(calllog.Entry{Call: "c" + strconv.Itoa(i%4), Kind: calllog.KindNode, Value: strconv.Itoa(i)})
	}
	waitFor(t, "entries spooled", func() bool { return w.Stats().Spooled == before })
	if len(spoolFiles(t, dir)) == 0 {
		t.Fatal("nothing spooled on disk")
	}
	for _, f := range spoolFiles(t, dir) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	srv := redistest.NewUnstartedServer(t, redistest.Options{Port: port})
	srv.Start()
	// Back to direct writes: new entries reach Redis without Close.
	w.Append(calllog.Entry{Call: "after", Kind: calllog.KindNode, Value: "x"})
	// The entry may go through the spool first (the shard was spooling):
	// its segment is removed just after the replay counts it written.
	waitFor(t, "entry after the removal written, no segment left", func() bool {
		st := w.Stats()
		return st.Written == 1 && st.Segments == 0
	})
	if st := w.Stats(); st.Segments != 0 || st.Lost != before {
		t.Fatalf("stats after removal: %+v (want Segments 0, Lost %d)", st, before)
	}
	err := closeWithin(t, w, 5*time.Second)
	if !errors.Is(err, calllog.ErrLost) {
		t.Fatalf("Close = %v, want ErrLost for the removed entries", err)
	}
	msgs := readStream(t, client, "{fsivr}:calls")
	logFigures(t, "spool files removed under the writer", before+1, w.Stats(), msgs)
	if len(msgs) != 1 {
		t.Fatalf("stream has %d entries, want 1", len(msgs))
	}
}

// Item 14: Close is bounded (by its ctx plus at most one WriteTimeout) while
// the replay has a spool to work through and Redis stops answering (a
// listener that accepts and never replies).
func TestCloseIsBoundedWhenRedisHangs(t *testing.T) {
	dir := t.TempDir()
	spoolOnly(t, dir, "c", 100)
	addr := blackhole(t)
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	w2 := newWriter(t, calllog.Config{SpoolDir: dir, WriteTimeout: time.Second, RetryInterval: 10 * time.Millisecond}, client)
	if err := closeWithin(t, w2, 300*time.Millisecond); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := len(spoolFiles(t, dir)); got == 0 {
		t.Fatal("spool emptied although Redis never answered")
	}
}

// A live write of less than a batch (one script call, no pipeline) to a
// Redis that never answers gives up after WriteTimeout and spools: nothing
// else bounds it here (the client's ReadTimeout is an hour).
func TestLiveWriteToHangingRedisTimesOut(t *testing.T) {
	addr := blackhole(t)
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true,
		ReadTimeout: time.Hour, WriteTimeout: time.Hour})
	t.Cleanup(func() { _ = client.Close() })
	w := newWriter(t, calllog.Config{FlushDelay: -1, WriteTimeout: 100 * time.Millisecond, RetryInterval: time.Hour}, client)
	w.Append(calllog.Entry{Call: "c", Kind: calllog.KindCallStart})
	waitFor(t, "the entry spooled after WriteTimeout", func() bool { return w.Stats().Spooled == 1 })
	if err := closeWithin(t, w, 300*time.Millisecond); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// blackhole accepts TCP connections and never answers.
func blackhole(t *testing.T) string {
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []interface{ Close() error }
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return l.Addr().String()
}

// Item 15: a second writer on the same spool dir fails fast with a sentinel.
func TestSecondWriterOnSpoolDirFailsFast(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, calllog.Config{SpoolDir: dir}, nil)
	_, err := calllog.NewWriter(calllog.Config{SpoolDir: dir}, nil, nil)
	if !errors.Is(err, calllog.ErrSpoolLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second writer: %v, want ErrSpoolLocked naming %s", err, dir)
	}
	closeWriter(t, w)
	w2, err := calllog.NewWriter(calllog.Config{SpoolDir: dir}, nil, nil)
	if err != nil {
		t.Fatalf("after Close the dir is free again: %v", err)
	}
	closeWriter(t, w2)
}

// Item 16: a segment with a line over the limit is quarantined (moved aside,
// counted, logged); the rest replays and writing continues.
func TestUnreadableSegmentIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	spoolOnly(t, dir, "call-0", 10)
	good := spoolFiles(t, dir)
	if len(good) != 1 {
		t.Fatalf("segments %v", good)
	}
	// A segment of an earlier writer whose line is over the limit.
	bad := filepath.Join(dir, "0000000000000001deadbeef-00000000000000000001.spool")
	if err := os.WriteFile(bad, append(bytes.Repeat([]byte("x"), 2<<20), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs logbuf.Buffer
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w2, err := calllog.NewWriter(calllog.Config{SpoolDir: dir, RetryInterval: 10 * time.Millisecond}, client,
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replay of the readable segment", func() bool { return w2.Stats().Written == 10 })
	w2.Append(calllog.Entry{Call: "call-0", Kind: calllog.KindNode, Value: "10"})
	waitFor(t, "a new entry written", func() bool { return w2.Stats().Written == 11 })
	closeWriter(t, w2)
	if st := w2.Stats(); st.Quarantined != 1 || st.Segments != 0 {
		t.Fatalf("stats %+v, want Quarantined 1, Segments 0", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "quarantine", filepath.Base(bad))); err != nil {
		t.Fatalf("bad segment not in quarantine/: %v", err)
	}
	if !strings.Contains(logs.String(), "quarantined") {
		t.Fatalf("no log line:\n%s", logs.String())
	}
	msgs := readStream(t, client, "{fsivr}:calls")
	logFigures(t, "unreadable segment", 11, w2.Stats(), msgs)
	checkExactlyOnceInOrder(t, msgs, 1, 11)
}

// Item 18: a bit flipped in a spooled record (here in its sequence number,
// which would make it look like an entry Redis already has) is caught by the
// checksum: skipped and counted as corrupt, never counted as a duplicate.
func TestBitFlippedRecordIsSkippedNotDuplicate(t *testing.T) {
	dir := t.TempDir()
	spoolOnly(t, dir, "call-0", 20)
	files := spoolFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("segments %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"s":12,`))
	if i < 0 {
		t.Fatalf("record 12 not found in\n%s", b)
	}
	b[i+4] ^= 0x01 // '1' -> '0': seq 12 becomes 02
	if err := os.WriteFile(files[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w2 := newWriter(t, calllog.Config{SpoolDir: dir, RetryInterval: 10 * time.Millisecond}, client)
	closeWriter(t, w2)
	st := w2.Stats()
	if st.Corrupt != 1 || st.Duplicates != 0 || st.Written != 19 {
		t.Fatalf("stats %+v, want Corrupt 1, Duplicates 0, Written 19", st)
	}
	msgs := readStream(t, client, "{fsivr}:calls")
	logFigures(t, "bit-flipped spool record", 20, st, msgs)
	if len(msgs) != 19 {
		t.Fatalf("stream has %d entries, want 19", len(msgs))
	}
}

func TestSpoolFailureIsLoud(t *testing.T) {
	dir := t.TempDir() + "/spool"
	var logs bytes.Buffer
	w, err := calllog.NewWriter(calllog.Config{SpoolDir: dir}, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// The spool directory turns into a file: every segment create fails.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a dir"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.Append(calllog.Entry{Call: "c", Kind: calllog.KindNode})
	err = w.Close(context.Background())
	st := w.Stats()
	if !errors.Is(err, calllog.ErrLost) || st.Lost != 1 || st.SpoolErrors == 0 {
		t.Fatalf("Close = %v, stats %+v: a spool failure must be reported", err, st)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "LOST") {
		t.Fatalf("no error log:\n%s", logs.String())
	}
}

// Segments written before records had a checksum (plain JSON lines) still
// replay after an upgrade, and their writer's earlier live writes (it kept
// no mark file) are not reported as missing.
func TestLegacySpoolSegmentReplays(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for seq := 5001; seq <= 5010; seq++ {
		fmt.Fprintf(&b, `{"w":"0000000000000001cafebabe","s":%d,"c":"call-0","k":"node","v":"%d","t":1764583200000000000}`+"\n", seq, seq-5001)
	}
	if err := os.WriteFile(filepath.Join(dir, "0000000000000001cafebabe-00000000000000005001.spool"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w := newWriter(t, calllog.Config{SpoolDir: dir, RetryInterval: 10 * time.Millisecond}, client)
	closeWriter(t, w)
	if st := w.Stats(); st.Written != 10 || st.Missing != 0 || st.Corrupt != 0 {
		t.Fatalf("stats %+v, want Written 10, Missing 0", st)
	}
	checkExactlyOnceInOrder(t, readStream(t, client, "{fsivr}:calls"), 1, 10)
}
