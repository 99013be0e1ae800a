package calllog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// write sends recs, one script call per shard (pipelined when a replayed
// segment spans several shards), and returns how many entries were new and
// how many Redis already had. The counts cover every shard call that
// succeeded, also when another failed, so counters stay exact: a shard call
// whose node lost its script cache (NOSCRIPT) is sent again with EVAL alone,
// not the whole batch.
func (w *Writer) write(ctx context.Context, recs []record) (written, dup int, err error) {
	if w.client == nil {
		return 0, 0, errors.New("calllog: no Redis client")
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
	defer cancel()
	first := w.keys.Shard(recs[0].Call)
	single := true
	for i := range recs {
		if w.keys.Shard(recs[i].Call) != first {
			single = false
			break
		}
	}
	if single {
		return w.eval(ctx, first, recs)
	}
	groups := make(map[int][]record)
	var order []int
	for i := range recs {
		s := w.keys.Shard(recs[i].Call)
		if _, ok := groups[s]; !ok {
			order = append(order, s)
		}
		groups[s] = append(groups[s], recs[i])
	}
	pipe := w.client.Pipeline()
	cmds := make([]*redis.Cmd, len(order))
	for i, s := range order {
		keys, args := w.scriptArgs(s, groups[s])
		cmds[i] = pipe.EvalSha(ctx, w.sha, keys, args...)
	}
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	var errs []error
	for i, c := range cmds {
		wr, dp, cerr := scriptResult(c)
		if redis.HasErrorPrefix(cerr, "NOSCRIPT") {
			wr, dp, cerr = w.evalFull(ctx, order[i], groups[order[i]])
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

// eval runs the write script for recs of one shard (none: a probe that only
// checks the shard's node and loads the script there). EVALSHA first; on
// NOSCRIPT (a restarted or flushed node) EVAL, which also caches the script on
// that node only — SCRIPT LOAD on a cluster client would go to every master
// and block on a dead one.
func (w *Writer) eval(ctx context.Context, shard int, recs []record) (written, dup int, err error) {
	if w.client == nil {
		return 0, 0, errors.New("calllog: no Redis client")
	}
	keys, args := w.scriptArgs(shard, recs)
	written, dup, err = scriptResult(w.client.EvalSha(ctx, w.sha, keys, args...))
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		written, dup, err = scriptResult(w.client.Eval(ctx, writeScript, keys, args...))
	}
	if err != nil {
		return written, dup, fmt.Errorf("calllog: write batch: %w", err)
	}
	return written, dup, nil
}

func (w *Writer) evalFull(ctx context.Context, shard int, recs []record) (written, dup int, err error) {
	keys, args := w.scriptArgs(shard, recs)
	return scriptResult(w.client.Eval(ctx, writeScript, keys, args...))
}

func scriptResult(c *redis.Cmd) (written, dup int, err error) {
	res, err := c.Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("calllog: write script answered %v", res)
	}
	return int(res[0]), int(res[1]), nil
}

func (w *Writer) scriptArgs(shard int, recs []record) ([]string, []any) {
	keys := make([]string, 0, 1+2*len(recs))
	keys = append(keys, w.keys.StreamKey(shard))
	args := make([]any, 0, 3+len(recs)*32)
	args = append(args, w.cfg.MaxLen, int64(w.cfg.DedupeTTL/time.Second), int64(w.cfg.SummaryTTL/time.Second))
	for i := range recs {
		r := &recs[i]
		dkey := w.keys.DedupeKey(r.Call)
		skey := w.keys.SummaryKey(r.Call)
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
