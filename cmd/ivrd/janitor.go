package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
)

// lostAfter is how long a summary may stay "in_progress" without any entry
// before it is taken for a call whose ivrd died (a crash writes no hangup
// entry): far longer than any call, bridged conversations included.
const lostAfter = 6 * time.Hour

// closeLostCalls finds summaries left "in_progress" whose last entry is
// older than bound and closes each with a hangup entry of outcome "lost"
// (written through the call log, so the stream says it too and the summary
// keeps its path and last node). It returns how many it closed. Every
// master of a Cluster is scanned.
func closeLostCalls(ctx context.Context, rdb redis.UniversalClient, log *calllog.Writer, now time.Time, bound time.Duration) (int, error) {
	keys := log.Keys()
	if keys.Summary == "" {
		return 0, nil
	}
	// "{fsivr}:call:<uuid>" or, sharded, "{fsivr:3}:call:<uuid>".
	pattern := "{" + keys.Namespace + "*}:" + keys.Summary + ":*"
	closed := 0
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			n, err := closeIfLost(ctx, c, log, iter.Val(), now, bound)
			if err != nil {
				return err
			}
			closed += n
		}
		return iter.Err()
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) })
	} else {
		err = scan(ctx, rdb)
	}
	if err != nil {
		return closed, fmt.Errorf("ivrd: close lost calls: %w", err)
	}
	return closed, nil
}

func closeIfLost(ctx context.Context, c redis.Cmdable, log *calllog.Writer, key string, now time.Time, bound time.Duration) (int, error) {
	h, err := c.HMGet(ctx, key, calllog.SumOutcome, calllog.SumUpdated, calllog.SumCall,
		calllog.SumFlow, calllog.SumFlowVersion, calllog.SumLastNode).Result()
	if err != nil {
		return 0, err
	}
	str := func(i int) string { s, _ := h[i].(string); return s }
	if str(0) != "in_progress" {
		return 0, nil
	}
	updated, err := time.Parse(time.RFC3339Nano, str(1))
	if err != nil || now.Sub(updated) < bound {
		return 0, nil
	}
	call := str(2)
	if call == "" {
		call = key[strings.LastIndexByte(key, ':')+1:]
	}
	log.Append(calllog.Entry{
		Call: call, Flow: str(3), FlowVersion: str(4), Node: str(5), Kind: calllog.KindHangup,
		Fields: map[string]string{"outcome": "lost", "reason": "no entry for " + bound.String() + " (ivrd gone)"},
		Time:   now,
	})
	return 1, nil
}

// janitor closes lost calls at start and then every hour, until ctx ends.
func janitor(ctx context.Context, rdb redis.UniversalClient, log *calllog.Writer, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := closeLostCalls(ctx, rdb, log, time.Now(), lostAfter)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("lost-call janitor", "err", err)
		case n > 0:
			logger.Warn("calls left in progress by a gone ivrd closed as lost", "calls", n, "after", lostAfter.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
