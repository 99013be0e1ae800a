package calllog_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/cputime"
	"github.com/fsivr/fsivr/internal/redistest"
)

// BenchmarkWrite compares, against one redis-server, the batched writer
// (EVALSHA per batch: XADD + dedupe mark + summary hash per entry) with the
// naive approach of one synchronous XADD per entry (stream only, no summary,
// no dedupe). Both report entries/s; the batched figure includes the final
// flush in Close. "spooled" must be 0 (the burst fits the queue).
// batched-no-summary is the same writer with NoSummary (stream + dedupe only),
// the like-for-like comparison with the naive XADD. client-µs/entry and
// redis-µs/entry split the CPU between this process and the server.
//
// CALLLOG_BENCH_REDIS=host:port[,host:port...] points it at a given Redis or
// Redis Cluster (one seed is enough) instead of a redistest server,
// CALLLOG_BENCH_SHARDS=N writes N shards (spread over a cluster's masters),
// and CALLLOG_BENCH_BATCH=N sets BatchSize.
func BenchmarkWrite(b *testing.B) {
	client := benchClient(b)
	shards, _ := strconv.Atoi(os.Getenv("CALLLOG_BENCH_SHARDS"))
	batch, _ := strconv.Atoi(os.Getenv("CALLLOG_BENCH_BATCH"))
	entry := func(i int) calllog.Entry {
		return calllog.Entry{Call: "call-" + strconv.Itoa(i%200), Flow: "sales", FlowVersion: "3",
			Node: "menu", Kind: calllog.KindDTMF, Value: strconv.Itoa(i % 10),
			Fields: map[string]string{"caller": "+15551230000"}}
	}

	batched := func(noSummary bool) func(b *testing.B) {
		return func(b *testing.B) {
			w, err := calllog.NewWriter(calllog.Config{SpoolDir: b.TempDir(), Stream: "bench-batched", NoSummary: noSummary, Shards: shards,
				BatchSize: batch,
				// Room for the whole burst: this measures the Redis path, not the
				// spool (a tight loop outruns any writer and would spill).
				QueueSize: b.N + 1}, client, nil)
			if err != nil {
				b.Fatal(err)
			}
			cpu := startCPU(b, client)
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
			cpu.report(b, b.N)
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
		cpu := startCPU(b, client)
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
		b.StopTimer()
		cpu.report(b, b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// BenchmarkWriteModerate measures the writer's CPU per entry at a moderate
// offered rate: entries arrive one or two at a time with a 0.5 ms pause
// (about 2,000–3,000 entries/s, the order of ivrd at 150–300 calls/s), where
// round trips, not Redis's script, are the cost. client-µs/entry is this
// process's CPU (Append, the writer goroutine, go-redis), redis-µs/entry the
// server's, calls/entry the script calls (EVALSHA) per entry. default is
// the Config default (FlushDelay 5ms); no-delay sends whatever is queued at
// once (FlushDelay < 0, the behaviour before it existed).
func BenchmarkWriteModerate(b *testing.B) {
	client := benchClient(b)
	b.Run("default", benchModerate(client, 0, false))
	b.Run("no-delay", benchModerate(client, -1, false))
	b.Run("harness", benchModerate(client, 0, true))
}

// benchModerate is one sub-benchmark of BenchmarkWriteModerate; harness runs
// the same loop with entries built and dropped (no writer): the CPU of the
// loop itself and of an idle Redis, to subtract from the others.
func benchModerate(client redis.UniversalClient, delay time.Duration, harness bool) func(b *testing.B) {
	return func(b *testing.B) {
		w, err := calllog.NewWriter(calllog.Config{SpoolDir: b.TempDir(), Stream: "bench-moderate", FlushDelay: delay}, client, nil)
		if err != nil {
			b.Fatal(err)
		}
		appendEntry := w.Append
		var dropped int
		if harness {
			appendEntry = func(e calllog.Entry) { dropped += len(e.Call) }
		}
		fields := map[string]string{"caller": "+15551230000"}
		calls := evalshaTotal(b, client)
		cpu := startCPU(b, client)
		b.ResetTimer()
		for i := 0; i < b.N; {
			for k := 0; k < 1+i%2 && i < b.N; k++ {
				appendEntry(calllog.Entry{Call: "call-" + strconv.Itoa(i%200), Flow: "sales", FlowVersion: "3",
					Node: "menu", Kind: calllog.KindDTMF, Value: "1", Fields: fields})
				i++
			}
			time.Sleep(500 * time.Microsecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu.report(b, b.N)
		b.ReportMetric(float64(evalshaTotal(b, client)-calls)/float64(b.N), "calls/entry")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		if st := w.Stats(); !harness && (st.Written != uint64(b.N) || st.Spooled != 0) {
			b.Fatalf("written %d of %d (%+v)", st.Written, b.N, st)
		}
	}
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
	client := srv.Client(b)
	return client
}

// cpuMeter measures the CPU time of this process (the client side: Append,
// the writer goroutines, go-redis) and of the Redis server (INFO cpu; all of
// a cluster's masters) over a run.
type cpuMeter struct {
	client      redis.UniversalClient
	proc, redis time.Duration
}

func startCPU(b *testing.B, client redis.UniversalClient) *cpuMeter {
	return &cpuMeter{client: client, proc: cputime.Process(b), redis: redisCPU(b, client)}
}

// report adds client-µs/entry and redis-µs/entry for n entries.
func (m *cpuMeter) report(b *testing.B, n int) {
	proc, rcpu := cputime.Process(b)-m.proc, redisCPU(b, m.client)-m.redis
	b.ReportMetric(float64(proc.Microseconds())/float64(n), "client-µs/entry")
	b.ReportMetric(float64(rcpu.Microseconds())/float64(n), "redis-µs/entry")
}

// redisCPU is the server's used_cpu_sys + used_cpu_user (summed over the
// masters of a cluster).
func redisCPU(b *testing.B, client redis.UniversalClient) time.Duration {
	var total time.Duration
	err := forEachServer(client, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(info, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return err
				}
				total += time.Duration(f * float64(time.Second))
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}

// evalshaTotal is the EVALSHA calls Redis (every master of a cluster) has
// counted so far.
func evalshaTotal(b *testing.B, client redis.UniversalClient) int {
	total := 0
	err := forEachServer(client, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(info, "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:calls="); ok {
				n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				if err != nil {
					return err
				}
				total += n
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}

// forEachServer runs f on the server of a plain client or, one at a time, on
// every master of a cluster client.
func forEachServer(client redis.UniversalClient, f func(context.Context, *redis.Client) error) error {
	ctx := context.Background()
	switch c := client.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		return c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return f(ctx, m)
		})
	case *redis.Client:
		return f(ctx, c)
	}
	return fmt.Errorf("unknown client type %T", client)
}
