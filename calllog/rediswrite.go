package calllog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxInFlight bounds the batches sent in one pipelined round trip (with
// the defaults the whole queue, 8 × 1,024 entries, on one WriteTimeout).
// The encoders of two rounds are kept (see writeChunks).
const maxInFlight = 8

// encoders is a shard goroutine's set of batch encoders, one per batch of a
// round trip (each payload must stay intact until its pipeline returns).
type encoders []*batchEncoder

func (es *encoders) get(i int) *batchEncoder {
	for len(*es) <= i {
		*es = append(*es, &batchEncoder{})
	}
	return (*es)[i]
}

// group is one script call: records of one shard and one writer.
type group struct {
	shard int
	recs  []record
}

// write sends recs (a replayed segment: possibly several shards, several
// writers), one script call per shard and writer (pipelined when there are
// several), and returns how many entries were new and how many Redis already
// had. The counts cover every call that succeeded, also when another failed,
// so counters stay exact: a call whose node lost its script cache
// (NOSCRIPT) is sent again with EVAL alone, not the whole batch.
func (w *Writer) write(ctx context.Context, encs *encoders, recs []record) (written, dup int, err error) {
	if w.client == nil {
		return 0, 0, errors.New("calllog: no Redis client")
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
	defer cancel()
	groups := w.groups(recs)
	for i := range groups {
		encs.get(i).replay = true
	}
	if len(groups) == 1 {
		written, dup, err = w.evalGroup(ctx, encs.get(0), groups[0].shard, groups[0].recs, "")
		if err != nil {
			return written, dup, fmt.Errorf("calllog: write batch: %w", err)
		}
		return written, dup, nil
	}
	pipe := w.client.Pipeline()
	cmds := make([]*redis.Cmd, len(groups))
	for i, g := range groups {
		keys, args := w.scriptArgs(encs.get(i), g.shard, g.recs, "")
		cmds[i] = pipe.EvalSha(ctx, w.sha, keys, args...)
	}
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	var errs []error
	for i, c := range cmds {
		wr, dp, cerr := w.scriptResult(c)
		if redis.HasErrorPrefix(cerr, "NOSCRIPT") || redis.HasErrorPrefix(cerr, "PARTIAL") {
			// Nothing of it was written: send it again alone (EVAL, or
			// split).
			wr, dp, cerr = w.evalGroup(ctx, encs.get(i), groups[i].shard, groups[i].recs, "")
		}
		written += wr
		dup += dp
		if cerr != nil {
			errs = append(errs, cerr)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return written, dup, fmt.Errorf("calllog: write batch: %w", err)
	}
	return written, dup, nil
}

// groups splits recs into script calls by shard and writer, keeping the
// order of each shard's records. A segment normally holds one writer's
// records of one shard: one group, no map.
func (w *Writer) groups(recs []record) []group {
	first, writer := w.keys.Shard(recs[0].Call), recs[0].Writer
	single := true
	for i := range recs {
		if recs[i].Writer != writer || w.keys.Shard(recs[i].Call) != first {
			single = false
			break
		}
	}
	if single {
		return []group{{first, recs}}
	}
	type gk struct {
		shard  int
		writer string
	}
	index := map[gk]int{}
	var out []group
	for i := range recs {
		k := gk{w.keys.Shard(recs[i].Call), recs[i].Writer}
		j, ok := index[k]
		if !ok {
			j = len(out)
			index[k] = j
			out = append(out, group{shard: k.shard})
		}
		out[j].recs = append(out[j].recs, recs[i])
	}
	return out
}

// writeChunks sends recs (live: this shard's own records, in sequence order)
// as chunks of batchSize, in pipelined rounds of up to maxInFlight of them,
// each chunk after the first of a round refused by the script unless the one
// before it was applied. It returns how many leading records Redis
// acknowledged (the rest, from the first chunk not acknowledged on, is for
// the caller to spool) and the counts of every chunk that succeeded.
//
// While a round is in flight the next one is encoded (a goroutine waits for
// the round's answers): encoding took the client about as long as the
// script took Redis, and done one after the other the two never overlapped,
// so a burst went at 1/(client + Redis) µs per entry instead of
// 1/max(client, Redis). A round is sent only once the one before it is
// acknowledged, so the order and prefix guarantees stay those of one round.
// The first round is one chunk and each next one twice as many (up to
// maxInFlight): Redis starts on the first chunk while the client encodes
// the second round, and each round is encoded in less time than Redis takes
// for the one before it.
func (w *Writer) writeChunks(ctx context.Context, encs *encoders, shard int, recs []record, batchSize int) (acked, written, dup int, err error) {
	if w.client == nil {
		return 0, 0, 0, errors.New("calllog: no Redis client")
	}
	if chunkLen(recs, batchSize) == len(recs) {
		ctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
		defer cancel()
		enc := encs.get(0)
		enc.replay = false
		written, dup, err = w.evalGroup(ctx, enc, shard, recs, "")
		if err != nil {
			return 0, written, dup, fmt.Errorf("calllog: write batch: %w", err)
		}
		return len(recs), written, dup, nil
	}
	useEval := false // after a NOSCRIPT, the first chunk goes as EVAL
	var cur, next *round
	for n := 0; acked < len(recs); n++ {
		cur, next = next, nil
		if cur == nil || cur.start != acked || cur.useEval != useEval {
			cur = w.prepareRound(encs, n%2, shard, recs, acked, batchSize, roundChunks(n), useEval)
		}
		var encoded chan *round
		if cur.end < len(recs) {
			// The next round is encoded on a goroutine of its own while
			// this one's round trip runs here: with one P (GOMAXPROCS=1)
			// the encoder runs as soon as Exec waits for the answers. (The
			// other way round, Exec on a new goroutine, the round was sent
			// only once the encoding that kept the P was done.)
			encoded = make(chan *round, 1)
			go func(start, m int) {
				encoded <- w.prepareRound(encs, m%2, shard, recs, start, batchSize, roundChunks(m), false)
			}(cur.end, n+1)
		}
		res := w.execRound(ctx, cur)
		if encoded != nil {
			next = <-encoded
		}
		written += res.written
		dup += res.dup
		acked = res.acked
		if res.err == nil {
			useEval = false
			continue
		}
		if redis.HasErrorPrefix(res.err, "NOSCRIPT") && !useEval {
			useEval = true // load the script with the first unacknowledged chunk
			continue
		}
		return acked, written, dup, fmt.Errorf("calllog: write batch: %w", res.err)
	}
	return acked, written, dup, nil
}

// roundChunks is how many chunks round n (0-based) of writeChunks holds.
func roundChunks(n int) int { return 1 << min(n, 3) } // 1, 2, 4, 8, 8, ...

// round is one pipelined round trip of writeChunks, encoded: the chunks of
// recs[start:end], each with its end.
type round struct {
	start, end int
	useEval    bool
	pipe       redis.Pipeliner
	cmds       [maxInFlight]*redis.Cmd
	ends       [maxInFlight]int
	nc         int
}

type roundResult struct {
	acked, written, dup int // acked: records acknowledged from the start of recs
	err                 error
}

// prepareRound encodes up to chunks chunks of recs from start on into the
// encoders of set (0 or 1: a round is encoded while the one before it,
// with the other set, is in flight).
func (w *Writer) prepareRound(encs *encoders, set, shard int, recs []record, start, batchSize, chunks int, useEval bool) *round {
	r := &round{start: start, useEval: useEval, pipe: w.client.Pipeline()}
	prev := ""
	for pos := start; pos < len(recs) && r.nc < min(chunks, maxInFlight); pos = r.ends[r.nc-1] {
		chunk := recs[pos : pos+chunkLen(recs[pos:], batchSize)]
		enc := encs.get(set*maxInFlight + r.nc)
		enc.replay = false
		keys, args := w.scriptArgs(enc, shard, chunk, prev)
		if r.nc == 0 && useEval {
			r.cmds[r.nc] = r.pipe.Eval(context.Background(), writeScript, keys, args...)
		} else {
			r.cmds[r.nc] = r.pipe.EvalSha(context.Background(), w.sha, keys, args...)
		}
		r.ends[r.nc] = pos + len(chunk)
		prev = strconv.FormatUint(chunk[len(chunk)-1].Seq, 10)
		r.nc++
	}
	r.end = r.ends[r.nc-1]
	return r
}

// execRound sends r in one round trip, bounded by WriteTimeout, and returns
// how many records of recs are acknowledged after it, the counts of the
// chunks that succeeded, and the error of the first chunk that did not.
func (w *Writer) execRound(ctx context.Context, r *round) (res roundResult) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
	defer cancel()
	_, _ = r.pipe.Exec(ctx) // per-command errors are read below
	res.acked = r.start
	for i := range r.nc {
		wr, dp, cerr := w.scriptResult(r.cmds[i])
		res.written += wr
		res.dup += dp
		if cerr != nil && res.err == nil {
			res.err = cerr
		}
		if res.err == nil {
			res.acked = r.ends[i]
		}
	}
	return res
}

// maxPayloadBytes bounds a batch's payload. It goes to Redis as one bulk
// string, and Redis refuses one longer than proto-max-bulk-len (512 MiB by
// default, 1 MiB at the least) with a protocol error; a batch over it failed
// on every replay and held its shard in the spool for good. (With one
// argument per field, the previous release had no such limit per batch.)
const maxPayloadBytes = 1 << 20

// chunkLen is how many leading records of recs make the next batch: at most
// batchSize, and only as many as fit maxPayloadBytes by payloadBound (at
// least one). Live writes and replay cut batches alike, so a replayed
// segment meets Redis in the batches it was sent in.
func chunkLen(recs []record, batchSize int) int {
	n := min(len(recs), batchSize)
	size := 0
	for i := range n {
		size += payloadBound(&recs[i])
		if size > maxPayloadBytes && i > 0 {
			return i
		}
	}
	return n
}

// payloadBound is an upper bound of what r adds to a payload: its stream
// strings, each with a MessagePack header of at most 5 bytes, and at most as
// much again for its summary update.
func payloadBound(r *record) int {
	n := 256 + len(r.Writer) + len(r.Call) + len(r.Flow) + len(r.FlowV) + len(r.Node) + len(r.Kind) + len(r.Value) +
		12*len(r.Fields)
	if r.fieldBytes > 0 {
		n += r.fieldBytes - 1
	} else {
		for k, v := range r.Fields {
			n += len(k) + len(v)
		}
	}
	return 2 * n
}

// evalGroup runs the write script for recs of one shard and one writer:
// EVALSHA first; on NOSCRIPT (a restarted or flushed node) EVAL, which also
// caches the script on that node only — SCRIPT LOAD on a cluster client would
// go to every master and block on a dead one. On PARTIAL (a call's dedupe
// mark inside the batch, see writeScript; nothing was written) each half
// goes in its own script call.
func (w *Writer) evalGroup(ctx context.Context, enc *batchEncoder, shard int, recs []record, prev string) (written, dup int, err error) {
	keys, args := w.scriptArgs(enc, shard, recs, prev)
	written, dup, err = w.scriptResult(w.client.EvalSha(ctx, w.sha, keys, args...))
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		written, dup, err = w.scriptResult(w.client.Eval(ctx, writeScript, keys, args...))
	}
	if !redis.HasErrorPrefix(err, "PARTIAL") || len(recs) == 1 {
		return written, dup, err
	}
	// Halves, not one entry per call: what Redis has of a writer is a prefix
	// of its sequence, so only the half holding the prefix's end can be
	// PARTIAL again (about 2·log2(n) script calls). One call per entry needed
	// BatchSize round trips within one WriteTimeout; a few ms of round trip
	// never fit, and each replay attempt started the batch over, so the
	// shard spooled forever.
	mid := len(recs) / 2
	written, dup, err = w.evalGroup(ctx, enc, shard, recs[:mid], "")
	if err != nil {
		return written, dup, err
	}
	wr, dp, err := w.evalGroup(ctx, enc, shard, recs[mid:], "")
	return written + wr, dup + dp, err
}

// eval runs the write script with no entries: a probe that only checks the
// shard's node and loads the script there.
func (w *Writer) eval(ctx context.Context, shard int) error {
	if w.client == nil {
		return errors.New("calllog: no Redis client")
	}
	keys := []string{w.keys.StreamKey(shard)}
	_, _, err := w.scriptResult(w.client.EvalSha(ctx, w.sha, keys))
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		_, _, err = w.scriptResult(w.client.Eval(ctx, writeScript, keys))
	}
	if err != nil {
		return fmt.Errorf("calllog: probe: %w", err)
	}
	return nil
}

// scriptResult reads the write script's answer: {written, duplicates} for
// a probe, and a third value, 0 when the stream's trim was refused.
func (w *Writer) scriptResult(c *redis.Cmd) (written, dup int, err error) {
	res, err := c.Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(res) != 2 && len(res) != 3 {
		return 0, 0, fmt.Errorf("calllog: write script answered %v", res)
	}
	if len(res) == 3 && res[2] == 0 {
		w.trimRefused()
	}
	return int(res[0]), int(res[1]), nil
}

// trimRefused counts a batch whose XTRIM Redis refused and says so once:
// the entries are written, but the stream is not kept to MaxLen.
func (w *Writer) trimRefused() {
	if w.stats.trimRefused.Add(1) == 1 {
		w.logger.Warn("calllog: Redis refused XTRIM (the user's ACL lacks it?): entries are written but the stream is not trimmed to max_len", "max_len", w.cfg.MaxLen)
	}
}

// scriptArgs returns the KEYS and ARGV of one script call for recs (one
// shard, one writer); prev is the last sequence of the batch sent just before
// it on the same connection, "" for none.
func (w *Writer) scriptArgs(enc *batchEncoder, shard int, recs []record, prev string) ([]string, []any) {
	payload, keys := enc.encode(w.keys, shard, recs)
	hasSummary := "0"
	if w.keys.Summary != "" {
		hasSummary = "1"
	}
	replay := "0"
	if enc.replay {
		replay = "1"
	}
	return keys, []any{w.cfg.MaxLen, int64(w.cfg.DedupeTTL / time.Second), int64(w.cfg.SummaryTTL / time.Second),
		recs[0].Writer, prev, hasSummary, replay, payload}
}
