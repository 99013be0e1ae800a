package calllog

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/internal/redistest"
)

const oldWriteScript = `
local stream = KEYS[1]
local maxlen = ARGV[1]
local dttl = tonumber(ARGV[2])
local sttl = tonumber(ARGV[3])
local a = 4
local k = 2
local written = 0
local dup = 0
-- Per batch, not per entry: each dedupe mark is read once, written and
-- expired once at the end; each summary gets one HINCRBY and one EXPIRE.
local marks = {}
local markOrder = {}
local events = {}
local sumOrder = {}
while a <= #ARGV do
  local dkey = KEYS[k]
  local skey = KEYS[k + 1]
  k = k + 2
  local writer = ARGV[a]
  local seqs = ARGV[a + 1]
  local seq = tonumber(seqs)
  local nf = tonumber(ARGV[a + 2])
  local fstart = a + 3
  a = fstart + nf
  local ns = tonumber(ARGV[a])
  local sstart = a + 1
  a = sstart + ns
  local node = ARGV[a]
  local iserr = ARGV[a + 1]
  local hassum = ARGV[a + 2]
  a = a + 3
  local mk = dkey .. '\n' .. writer
  local m = marks[mk]
  if m == nil then
    local last = redis.call('HGET', dkey, writer)
    m = {key = dkey, writer = writer, seq = tonumber(last or '-1'), seqs = nil}
    marks[mk] = m
    markOrder[#markOrder + 1] = mk
  end
  if m.seq >= seq then
    dup = dup + 1
  else
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', unpack(ARGV, fstart, fstart + nf - 1))
    m.seq = seq
    m.seqs = seqs
    if hassum == '1' then
      if ns > 0 then redis.call('HSET', skey, unpack(ARGV, sstart, sstart + ns - 1)) end
      if events[skey] == nil then
        events[skey] = 0
        sumOrder[#sumOrder + 1] = skey
      end
      events[skey] = events[skey] + 1
      if node ~= '' then
        local p = redis.call('HGET', skey, 'path')
        if p and p ~= '' then p = p .. '>' .. node else p = node end
        redis.call('HSET', skey, 'path', p)
      end
      if iserr == '1' then redis.call('HINCRBY', skey, 'errors', 1) end
    end
    written = written + 1
  end
end
for _, mk in ipairs(markOrder) do
  local m = marks[mk]
  if m.seqs ~= nil then
    redis.call('HSET', m.key, m.writer, m.seqs)
    redis.call('EXPIRE', m.key, dttl)
  end
end
for _, skey in ipairs(sumOrder) do
  redis.call('HINCRBY', skey, 'events', events[skey])
  redis.call('EXPIRE', skey, sttl)
end
return {written, dup}
`

// oldScriptArgs is scriptArgs of the release before the MessagePack payload
// (21df3f2): some thirty arguments per entry, one HSET per entry.
func oldScriptArgs(k Keys, cfg Config, shard int, recs []record) ([]string, []any) {
	keys := []string{k.StreamKey(shard)}
	args := []any{cfg.MaxLen, int64(cfg.DedupeTTL / time.Second), int64(cfg.SummaryTTL / time.Second)}
	for i := range recs {
		r := &recs[i]
		dkey := k.DedupeKey(r.Call)
		skey := k.SummaryKey(r.Call)
		hasSummary := "1"
		if skey == "" {
			skey, hasSummary = dkey, "0"
		}
		keys = append(keys, dkey, skey)
		fields := r.streamFields()
		args = append(args, r.Writer, strconv.FormatUint(r.Seq, 10), len(fields))
		for _, f := range fields {
			args = append(args, f)
		}
		var sum summaryUpdate
		if hasSummary == "1" {
			sum = r.summary()
		}
		args = append(args, len(sum.set))
		for _, f := range sum.set {
			args = append(args, f)
		}
		isErr := "0"
		if sum.isError {
			isErr = "1"
		}
		args = append(args, sum.pathAppend, isErr, hasSummary)
	}
	return keys, args
}

func randomRecords(rng *rand.Rand, writer string, n int) []record {
	kinds := Kinds()
	names := []string{"caller", "called", "path", "outcome", "cause", "disposition", "events", "errors",
		"id", "kind", "updated", "last_kind", "v", "x_id", "start", "flow", "node", "z"}
	vals := []string{"", "a", "b>c", "\xff\xfe", "ü", string(make([]byte, 40)), "123"}
	out := make([]record, n)
	at := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	for i := range out {
		var f map[string]string
		if rng.Intn(2) == 0 {
			f = map[string]string{}
			for range rng.Intn(5) {
				f[names[rng.Intn(len(names))]] = vals[rng.Intn(len(vals))]
			}
		}
		out[i] = newRecord(writer, uint64(i+1), Entry{
			Call: "c" + strconv.Itoa(rng.Intn(4)), Flow: vals[rng.Intn(len(vals))], FlowVersion: vals[rng.Intn(3)],
			Node: []string{"", "n1", "n2", "n3"}[rng.Intn(4)], Kind: kinds[rng.Intn(len(kinds))],
			Value: vals[rng.Intn(len(vals))], Fields: f, Time: at.Add(time.Duration(i) * time.Millisecond),
		})
	}
	return out
}

// Review: the merged per-call summary and the MessagePack stream entries
// leave Redis exactly as the previous release's per-entry script did, for
// random batches (every kind, empty values, non-UTF-8 bytes, reserved and
// counter field names, explicit paths).
func TestReviewSameResultAsPreviousScript(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w, err := NewWriter(Config{SpoolDir: t.TempDir(), Namespace: "new"}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	oldKeys := Keys{Namespace: "old", Stream: w.keys.Stream, Summary: w.keys.Summary, Shards: 1}
	ctx := context.Background()
	for round := range 30 {
		rng := rand.New(rand.NewSource(int64(round)))
		writer := fmt.Sprintf("w%d", round)
		recs := randomRecords(rng, writer, 40)
		var enc batchEncoder
		for start := 0; start < len(recs); {
			end := min(len(recs), start+1+rng.Intn(12))
			chunk := recs[start:end]
			keys, args := oldScriptArgs(oldKeys, w.cfg, 0, chunk)
			if err := client.Eval(ctx, oldWriteScript, keys, args...).Err(); err != nil {
				t.Fatalf("old script: %v", err)
			}
			if _, _, err := w.evalGroup(ctx, &enc, 0, chunk, ""); err != nil {
				t.Fatalf("new script: %v", err)
			}
			start = end
		}
		for c := range 4 {
			call := "c" + strconv.Itoa(c)
			o := client.HGetAll(ctx, oldKeys.SummaryKey(call)).Val()
			n := client.HGetAll(ctx, w.keys.SummaryKey(call)).Val()
			if fmt.Sprint(o) != fmt.Sprint(n) {
				t.Fatalf("round %d call %s summary\nold %q\nnew %q", round, call, o, n)
			}
		}
		o := client.XRange(ctx, oldKeys.StreamKey(0), "-", "+").Val()
		n := client.XRange(ctx, w.keys.StreamKey(0), "-", "+").Val()
		if len(o) != len(n) {
			t.Fatalf("stream lengths %d %d", len(o), len(n))
		}
		for i := range o {
			if fmt.Sprint(o[i].Values) != fmt.Sprint(n[i].Values) {
				t.Fatalf("entry %d\nold %q\nnew %q", i, o[i].Values, n[i].Values)
			}
		}
		for c := range 4 {
			call := "c" + strconv.Itoa(c)
			o := client.HGet(ctx, oldKeys.DedupeKey(call), writer).Val()
			n := client.HGet(ctx, w.keys.DedupeKey(call), writer).Val()
			if o != n {
				t.Fatalf("round %d call %s mark old %q new %q", round, call, o, n)
			}
		}
	}
}

// slowScripts delays every script call by d: a Redis a few milliseconds of
// round trip away (another zone, a loaded node).
type slowScripts struct {
	d     time.Duration
	calls atomic.Int64
}

func (h *slowScripts) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *slowScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n == "evalsha" || n == "eval" {
			h.calls.Add(1)
			time.Sleep(h.d)
		}
		return next(ctx, cmd)
	}
}

func (h *slowScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.calls.Add(int64(len(cmds)))
		time.Sleep(h.d)
		return next(ctx, cmds)
	}
}

// Review: a replayed batch whose written prefix ends inside a call's entries
// (PARTIAL: a segment written with another BatchSize, e.g. the previous
// release's 256, or a replay cut short) must still go in a bounded number of
// round trips. Sending it one entry per script call needs BatchSize round
// trips within one WriteTimeout; with a few milliseconds of round trip that
// never fits, and since every attempt starts the batch over (the entries
// already written cost their round trip again) the replay never gets further:
// the shard spools forever.
func TestReviewPartlyWrittenBatchReplaysInFewRoundTrips(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	hook := &slowScripts{d: 2 * time.Millisecond}
	client.AddHook(hook)
	w, err := NewWriter(Config{SpoolDir: t.TempDir(), WriteTimeout: 300 * time.Millisecond}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	recs := make([]record, 1024)
	for i := range recs {
		recs[i] = newRecord("earlier", uint64(i+1), Entry{Call: "c" + strconv.Itoa(i%8), Kind: KindNode,
			Node: "n" + strconv.Itoa(i+1), Time: time.Now()})
	}
	ctx := context.Background()
	var encs encoders
	// The previous release replayed the segment's first 256 entries (one
	// batch of its BatchSize) before it stopped.
	if wr, _, err := w.write(ctx, &encs, recs[:256]); err != nil || wr != 256 {
		t.Fatalf("first 256: %d written, %v", wr, err)
	}
	hook.calls.Store(0)
	var werr error
	written, dup := 0, 0
	for range 5 { // what replay does: start the segment's batch over
		wr, dp, err := w.write(ctx, &encs, recs)
		written += wr
		dup += dp
		if werr = err; err == nil {
			break
		}
	}
	if werr != nil {
		t.Fatalf("the batch never went in (5 attempts, %d script calls, %d written): %v", hook.calls.Load(), written, werr)
	}
	if n := client.XLen(ctx, w.keys.StreamKey(0)).Val(); n != 1024 {
		t.Errorf("stream has %d entries, want 1024", n)
	}
	if written != 768 || dup != 256 {
		t.Errorf("%d written, %d duplicates; want 768 and 256", written, dup)
	}
	if n := hook.calls.Load(); n > 64 {
		t.Errorf("%d script calls for one partly written batch, want a few dozen at most", n)
	}
	if p := client.HGet(ctx, w.keys.SummaryKey("c3"), SumPath).Val(); !strings.HasPrefix(p, "n4>n12>n20>") || strings.Count(p, ">") != 127 {
		t.Errorf("path of c3 %q", p)
	}
}

// Review: after an upgrade, the previous release's entries are not covered
// by the order key (its script never set one), so a replay must not take the
// order key's absence of newer entries for granted. Here the previous
// release replayed segment S2 (entries 6-10) and died before removing it
// (shard.go: "will be replayed again, dedupe skips it"), while S1 (1-5) was
// in quarantine; the operator moves S1 back. The new writer replays S1 (its
// order key for that writer is now 5), then S2: S2 is above the order key, so
// without the per-call lookups all of it would be written a second time.
func TestReviewReplayAfterUpgradeLooksUpPreviousReleaseMarks(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w, err := NewWriter(Config{SpoolDir: t.TempDir()}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	ctx := context.Background()
	recs := make([]record, 10)
	for i := range recs {
		call := "a"
		if i >= 5 {
			call = "b"
		}
		recs[i] = newRecord("prev-release", uint64(i+1), Entry{Call: call, Kind: KindDTMF, Value: strconv.Itoa(i + 1), Time: time.Now()})
	}
	keys, args := oldScriptArgs(w.keys, w.cfg, 0, recs[5:])
	if err := client.Eval(ctx, oldWriteScript, keys, args...).Err(); err != nil {
		t.Fatalf("previous release's script: %v", err)
	}
	var encs encoders
	if wr, dp, err := w.write(ctx, &encs, recs[:5]); err != nil || wr != 5 || dp != 0 {
		t.Fatalf("S1: %d written, %d duplicates, %v; want 5 written", wr, dp, err)
	}
	wr, dp, err := w.write(ctx, &encs, recs[5:])
	if err != nil || wr != 0 || dp != 5 {
		t.Errorf("S2 again: %d written, %d duplicates, %v; want 0 written, 5 duplicates", wr, dp, err)
	}
	if n := client.XLen(ctx, w.keys.StreamKey(0)).Val(); n != 10 {
		t.Errorf("stream has %d entries, want 10", n)
	}
	if ev := client.HGet(ctx, w.keys.SummaryKey("b"), SumEvents).Val(); ev != "5" {
		t.Errorf("summary of b counts %s events, want 5", ev)
	}
}

// Review: a batch's payload is one bulk string, and Redis refuses one over
// proto-max-bulk-len ("invalid bulk length", 512 MiB by default, 1 MiB at
// the least). Entries within the limits (MaxValueBytes, MaxFields) must not
// add up to a batch over it: that batch failed on every replay, and its
// shard stayed in the spool for good. The previous release sent each field
// as its own argument and wrote these entries.
func TestReviewLargeEntriesFitProtoMaxBulkLen(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	ctx := context.Background()
	if err := client.ConfigSet(ctx, "proto-max-bulk-len", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(Config{SpoolDir: t.TempDir(), MaxValueBytes: 16384, RetryInterval: 20 * time.Millisecond}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	big := strings.Repeat("x", 16000)
	const n = 40 // 40 entries of 48 KB: about 2 MB in one batch
	for i := range n {
		w.Append(Entry{Call: "c" + strconv.Itoa(i%3), Kind: KindDTMF, Value: big, Fields: map[string]string{"a": big, "b": big}})
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := w.Stats(); st.Written != n || st.Segments != 0; st = w.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: the entries never reached Redis", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	recs := make([]record, n)
	for i := range recs {
		recs[i] = newRecord("replayed", uint64(i+1), Entry{Call: "r", Kind: KindDTMF, Value: big, Time: time.Now(),
			Fields: map[string]string{"a": big, "b": big}})
	}
	var encs encoders
	for start, k := 0, 0; start < len(recs); start += k {
		k = chunkLen(recs[start:], w.cfg.BatchSize)
		if _, _, err := w.write(ctx, &encs, recs[start:start+k]); err != nil {
			t.Fatalf("replayed batch at %d: %v", start, err)
		}
	}
	if got := client.XLen(ctx, w.keys.StreamKey(0)).Val(); got != 2*n {
		t.Errorf("stream has %d entries, want %d", got, 2*n)
	}
}
