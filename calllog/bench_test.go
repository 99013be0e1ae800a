package calllog_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/redistest"
)

// BenchmarkWrite compares, against one redis-server, the batched writer
// (EVALSHA per batch: XADD + dedupe mark + summary hash per entry) with the
// naive approach of one synchronous XADD per entry (stream only, no summary,
// no dedupe). Both report entries/s; the batched figure includes the final
// flush in Close. "spooled" must be 0 (the burst fits the queue).
// batched-no-summary is the same writer with NoSummary (stream + dedupe only),
// the like-for-like comparison with the naive XADD.
//
// CALLLOG_BENCH_REDIS=host:port[,host:port...] points it at a given Redis or
// Redis Cluster (one seed is enough) instead of a redistest server, and
// CALLLOG_BENCH_SHARDS=N writes N shards (spread over a cluster's masters).
func BenchmarkWrite(b *testing.B) {
	client := benchClient(b)
	shards, _ := strconv.Atoi(os.Getenv("CALLLOG_BENCH_SHARDS"))
	entry := func(i int) calllog.Entry {
		return calllog.Entry{Call: "call-" + strconv.Itoa(i%200), Flow: "sales", FlowVersion: "3",
			Node: "menu", Kind: calllog.KindDTMF, Value: strconv.Itoa(i % 10),
			Fields: map[string]string{"caller": "+15551230000"}}
	}

	batched := func(noSummary bool) func(b *testing.B) {
		return func(b *testing.B) {
			w, err := calllog.NewWriter(calllog.Config{SpoolDir: b.TempDir(), Stream: "bench-batched", NoSummary: noSummary, Shards: shards,
				// Room for the whole burst: this measures the Redis path, not the
				// spool (a tight loop outruns any writer and would spill).
				QueueSize: b.N + 1}, client, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.Append(entry(i))
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := w.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := w.Stats()
			if st.Written != uint64(b.N) {
				b.Fatalf("written %d of %d (%+v)", st.Written, b.N, st)
			}
			b.ReportMetric(float64(st.Spooled), "spooled")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		}
	}
	b.Run("batched", batched(false))
	b.Run("batched-no-summary", batched(true))

	b.Run("xadd-per-entry", func(b *testing.B) {
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			e := entry(i)
			err := client.XAdd(ctx, &redis.XAddArgs{
				Stream: "{fsivr}:bench-naive", MaxLen: calllog.DefaultMaxLen, Approx: true,
				Values: []any{"v", "1", "id", strconv.Itoa(i), "call", e.Call, "flow", e.Flow,
					"flow_version", e.FlowVersion, "node", e.Node, "kind", string(e.Kind), "value", e.Value,
					"ts", calllog.FormatTime(time.Now()), "caller", e.Fields["caller"]},
			}).Err()
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// benchClient is the Redis the benchmark writes to: CALLLOG_BENCH_REDIS if
// set, else a fresh redistest server.
func benchClient(b *testing.B) redis.UniversalClient {
	if addrs := os.Getenv("CALLLOG_BENCH_REDIS"); addrs != "" {
		client, err := calllog.NewRedisClient(context.Background(), &redis.UniversalOptions{Addrs: strings.Split(addrs, ",")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = client.Close() })
		return client
	}
	srv := redistest.NewServer(b, redistest.Options{})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { _ = client.Close() })
	return client
}
