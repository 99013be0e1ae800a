package calllog_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/backoff"
	"github.com/fsivr/fsivr/internal/logbuf"
	"github.com/fsivr/fsivr/internal/redistest"
)

// Issue 16, cluster: ivrctl tail prints every shard's entries, one
// XREADGROUP per stream (one read across shards would be CROSSSLOT).
func TestTailEveryShardOnCluster(t *testing.T) {
	cl := redistest.NewCluster(t, redistest.ClusterOptions{Masters: 3})
	client := cl.Client(t)
	w := newWriter(t, calllog.Config{Shards: clusterShards}, client)
	const calls = 60
	appendCalls(w, calls, 0, 2)
	closeWriter(t, w)
	var out logbuf.Buffer
	n, err := calllog.Tail(context.Background(), client, calllog.TailOptions{
		Streams: w.Keys().StreamKeys(), Group: "g", Consumer: "c", Start: "0", Once: true,
	}, &out)
	if err != nil || n != calls*2 {
		t.Fatalf("Tail = %d, %v; want %d", n, err, calls*2)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		for _, f := range strings.Fields(line) {
			if c, ok := strings.CutPrefix(f, "call="); ok {
				seen[c]++
			}
		}
	}
	if len(seen) != calls {
		t.Fatalf("%d calls printed, want %d", len(seen), calls)
	}
	// With Count, a run stops at Count across shards; the next run prints the
	// rest (nothing read but unprinted is acknowledged).
	w2 := newWriter(t, calllog.Config{Shards: clusterShards, Stream: "more"}, client)
	appendCalls(w2, calls, 0, 1)
	closeWriter(t, w2)
	opts := calllog.TailOptions{Streams: w2.Keys().StreamKeys(), Group: "g", Consumer: "c", Start: "0", Once: true, Count: 25}
	first, err := calllog.Tail(context.Background(), client, opts, &out)
	if err != nil || first != 25 {
		t.Fatalf("first run %d, %v", first, err)
	}
	opts.Count = 0
	rest, err := calllog.Tail(context.Background(), client, opts, &out)
	if err != nil || first+rest != calls {
		t.Fatalf("runs printed %d + %d (%v), want %d in all", first, rest, err, calls)
	}
}

// Issue 16, cluster: tail survives its Redis dying under it (connection
// refused while down, then a restarted server) and resumes from its consumer
// group without losing or repeating an entry.
func TestTailRetriesThroughRedisRestart(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{AppendOnly: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	const stream = "{fsivr}:calls"
	add := func(from, to int) {
		for i := from; i < to; i++ {
			if err := client.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []any{"call", "c", "value", strconv.Itoa(i)}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(0, 5)
	var out logbuf.Buffer
	logs := &logbuf.Buffer{}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := calllog.Tail(context.Background(), client, calllog.TailOptions{
			Stream: stream, Group: "g", Consumer: "c", Start: "0", Count: 10, Block: 100 * time.Millisecond,
			Retry: backoff.Policy{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}, Logger: slogTo(logs),
		}, &out)
		done <- result{n, err}
	}()
	waitFor(t, "first entries printed", func() bool { return strings.Count(out.String(), "\n") == 5 })
	srv.Kill()
	waitFor(t, "a retry logged", func() bool { return strings.Contains(logs.String(), "retrying") })
	srv.Start()
	add(5, 10)
	r := <-done
	if r.err != nil || r.n != 10 {
		t.Fatalf("Tail = %d, %v; output:\n%s", r.n, r.err, out.String())
	}
	for i := range 10 {
		if c := strings.Count(out.String(), "value="+strconv.Itoa(i)+"\n"); c != 1 {
			t.Fatalf("value %d printed %d times:\n%s", i, c, out.String())
		}
	}
}

// Issue 16, cluster: CLUSTERDOWN (a cluster that requires full coverage, with
// a master dead) is retried too, and tail resumes once the cluster is ok.
func TestTailRetriesThroughClusterDown(t *testing.T) {
	cl := redistest.NewCluster(t, redistest.ClusterOptions{Masters: 3, FullCoverage: true, AppendOnly: true})
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	const stream = "{fsivr}:calls"
	victim := (cl.MasterOf(stream) + 1) % 3 // another master: the stream's own node stays up
	logs := &logbuf.Buffer{}
	var out logbuf.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := calllog.Tail(context.Background(), client, calllog.TailOptions{
			Stream: stream, Group: "g", Consumer: "c", Start: "0", Count: 2, Block: 100 * time.Millisecond,
			Retry: backoff.Policy{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond}, Logger: slogTo(logs),
		}, &out)
		done <- err
	}()
	ctx := context.Background()
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"value", "before"}}).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first entry printed", func() bool { return strings.Contains(out.String(), "value=before") })
	cl.Node(victim).Kill()
	waitFor(t, "CLUSTERDOWN retried", func() bool { return strings.Contains(logs.String(), "CLUSTERDOWN") })
	cl.Node(victim).Restart()
	cl.WaitOK()
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"value", "after"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || !strings.Contains(out.String(), "value=after") {
		t.Fatalf("Tail: %v; output:\n%s", err, out.String())
	}
}

// Tailing the unsharded key of a sharded writer is refused with a clear
// error instead of printing nothing and creating an empty stream.
func TestTailRefusesUnshardedKeyOfShardedStreams(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w := newWriter(t, calllog.Config{Shards: 3}, client)
	appendCalls(w, 10, 0, 1)
	closeWriter(t, w)
	var out logbuf.Buffer
	_, err := calllog.Tail(context.Background(), client, calllog.TailOptions{Stream: "{fsivr}:calls", Once: true}, &out)
	if !errors.Is(err, calllog.ErrShardedStream) || !strings.Contains(err.Error(), "--shards") {
		t.Fatalf("Tail = %v, want ErrShardedStream naming --shards", err)
	}
	if n, err := client.Exists(context.Background(), "{fsivr}:calls").Result(); err != nil || n != 0 {
		t.Fatalf("the unsharded stream was created: %d, %v", n, err)
	}
}
