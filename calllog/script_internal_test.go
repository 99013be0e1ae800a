package calllog

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/internal/redistest"
)

func scriptFixture(t *testing.T) (*Writer, func(n int) []record) {
	t.Helper()
	srv := redistest.NewServer(t, redistest.Options{})
	w, err := NewWriter(Config{SpoolDir: t.TempDir()}, srv.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	recs := func(n int) []record {
		out := make([]record, n)
		for i := range out {
			out[i] = newRecord("earlier", uint64(i+1), Entry{Call: "c", Kind: KindNode, Node: "n" + strconv.Itoa(i+1), Time: time.Now()})
		}
		return out
	}
	return w, recs
}

// Issue 14: the script refuses a batch sent behind another (prev) unless
// that one is in, before writing anything, and takes it once it is.
func TestScriptRefusesBatchOutOfOrder(t *testing.T) {
	w, mk := scriptFixture(t)
	recs := mk(9)
	ctx := context.Background()
	var enc batchEncoder
	if wr, _, err := w.evalGroup(ctx, &enc, 0, recs[:3], ""); err != nil || wr != 3 {
		t.Fatalf("first batch: %d written, %v", wr, err)
	}
	_, _, err := w.evalGroup(ctx, &enc, 0, recs[6:], "6")
	if err == nil || !strings.Contains(err.Error(), "OUTOFORDER") {
		t.Fatalf("batch 7-9 behind 4-6, which Redis does not have: %v, want OUTOFORDER", err)
	}
	if n := w.client.XLen(ctx, w.keys.StreamKey(0)).Val(); n != 3 {
		t.Fatalf("stream has %d entries after the refused batch, want 3", n)
	}
	if wr, _, err := w.evalGroup(ctx, &enc, 0, recs[3:6], "3"); err != nil || wr != 3 {
		t.Fatalf("batch 4-6: %d written, %v", wr, err)
	}
	if wr, _, err := w.evalGroup(ctx, &enc, 0, recs[6:], "6"); err != nil || wr != 3 {
		t.Fatalf("batch 7-9 once 4-6 is in: %d written, %v", wr, err)
	}
	if p := w.client.HGet(ctx, w.keys.SummaryKey("c"), SumPath).Val(); p != "n1>n2>n3>n4>n5>n6>n7>n8>n9" {
		t.Errorf("path %q", p)
	}
}

// A replayed batch in which a call's dedupe mark falls inside its entries
// (a segment replayed with another BatchSize than it was written with) is
// written entry by entry: the new entries once, the old ones skipped.
func TestScriptPartlyWrittenBatch(t *testing.T) {
	w, mk := scriptFixture(t)
	recs := mk(6)
	ctx := context.Background()
	var encs encoders
	if wr, dp, err := w.write(ctx, &encs, recs[:4]); err != nil || wr != 4 || dp != 0 {
		t.Fatalf("first 4: %d written, %d dup, %v", wr, dp, err)
	}
	wr, dp, err := w.write(ctx, &encs, recs[2:])
	if err != nil || wr != 2 || dp != 2 {
		t.Fatalf("entries 3-6 with 3-4 in Redis: %d written, %d dup, %v; want 2 and 2", wr, dp, err)
	}
	if n := w.client.XLen(ctx, w.keys.StreamKey(0)).Val(); n != 6 {
		t.Errorf("stream has %d entries, want 6", n)
	}
	sum := w.client.HGetAll(ctx, w.keys.SummaryKey("c")).Val()
	if sum[SumEvents] != "6" || sum[SumPath] != "n1>n2>n3>n4>n5>n6" {
		t.Errorf("summary %v", sum)
	}
}

// commandCalls is Redis's count of calls per command since the last
// CONFIG RESETSTAT (commands inside scripts included).
func commandCalls(t *testing.T, w *Writer) map[string]int {
	t.Helper()
	info, err := w.client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// Issue 14: what a live batch costs Redis: one XADD per entry (no MAXLEN:
// one XTRIM per batch), and per call one HSET of its dedupe mark and one HSET, HINCRBY and EXPIRE of its
// summary; no per-call lookup (the batch is above the writer's highest
// sequence) and no second EXPIRE of a dedupe hash that has its TTL.
func TestScriptCommandsPerLiveBatch(t *testing.T) {
	w, _ := scriptFixture(t)
	ctx := context.Background()
	batch := func(from uint64) []record {
		out := make([]record, 10)
		for i := range out {
			out[i] = newRecord("live", from+uint64(i), Entry{Call: "c" + strconv.Itoa(i%2), Flow: "f", Kind: KindDTMF, Value: strconv.Itoa(i), Time: time.Now()})
		}
		return out
	}
	var enc batchEncoder
	if wr, _, err := w.evalGroup(ctx, &enc, 0, batch(1), ""); err != nil || wr != 10 {
		t.Fatalf("first batch: %d written, %v", wr, err)
	}
	if err := w.client.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if wr, _, err := w.evalGroup(ctx, &enc, 0, batch(11), "10"); err != nil || wr != 10 {
		t.Fatalf("second batch: %d written, %v", wr, err)
	}
	got := commandCalls(t, w)
	want := map[string]int{"xadd": 10, "xtrim": 1, "hset": 4, "hincrby": 2, "expire": 2, "hget": 0, "get": 1, "set": 1}
	for cmd, n := range want {
		if got[cmd] != n {
			t.Errorf("%s: %d calls for a live batch of 10 entries of 2 calls, want %d (all: %v)", cmd, got[cmd], n, got)
		}
	}
	sum := w.client.HGetAll(ctx, w.keys.SummaryKey("c1")).Val()
	if sum[SumEvents] != "10" || sum[SumLastKind] != "dtmf" || sum[SumFlow] != "f" {
		t.Errorf("summary %v", sum)
	}
}
