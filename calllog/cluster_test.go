package calllog_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/logbuf"
	"github.com/fsivr/fsivr/internal/redistest"
)

// These tests run on a real 3-master Redis Cluster on loopback
// (redistest.NewCluster: redis-server --cluster-enabled yes x3 +
// redis-cli --cluster create).

const clusterShards = 6

// appendCalls appends the values [from, to) for each of calls calls
// ("call-<i>").
func appendCalls(w *calllog.Writer, calls, from, to int) {
	for v := from; v < to; v++ {
		for c := range calls {
			w.Append(calllog.Entry{Call: "call-" + strconv.Itoa(c), Flow: "f", Kind: calllog.KindNode, Node: "n", Value: strconv.Itoa(v)})
		}
	}
}

// readShards reads every shard's stream.
func readShards(t *testing.T, client redis.UniversalClient, keys calllog.Keys) []redis.XMessage {
	t.Helper()
	var all []redis.XMessage
	for _, k := range keys.StreamKeys() {
		all = append(all, readStream(t, client, k)...)
	}
	return all
}

// Issue 16, cluster: one seed address is enough — NewRedisClient detects the
// cluster and every shard is written; a plain client on a cluster node is
// named in an error log (MOVED) and its entries wait in the spool.
func TestClusterSingleSeedAddress(t *testing.T) {
	cl := redistest.NewCluster(t, redistest.ClusterOptions{Masters: 3})
	ctx := context.Background()
	client, err := calllog.NewRedisClient(ctx, &redis.UniversalOptions{Addrs: []string{cl.Addrs[0]}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if _, ok := client.(*redis.ClusterClient); !ok {
		t.Fatalf("one seed of a cluster gave a %T, want *redis.ClusterClient", client)
	}
	if _, err := calllog.NewRedisClient(ctx, &redis.UniversalOptions{Addrs: []string{cl.Addrs[0]}, DB: 2}); err == nil {
		t.Fatal("db 2 on a cluster accepted")
	}
	w := newWriter(t, calllog.Config{Shards: clusterShards}, client)
	const calls, perCall = 60, 10
	appendCalls(w, calls, 0, perCall)
	closeWriter(t, w)
	if st := w.Stats(); st.Written != calls*perCall || st.Spooled != 0 || st.RedisErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	checkExactlyOnceInOrder(t, readShards(t, cl.Client(t), w.Keys()), calls, perCall)

	// A plain client on the same seed: MOVED, said once, nothing lost.
	plain := redis.NewClient(&redis.Options{Addr: cl.Addrs[0]})
	t.Cleanup(func() { _ = plain.Close() })
	var logs logbuf.Buffer
	w2, err := calllog.NewWriter(calllog.Config{SpoolDir: t.TempDir(), Shards: clusterShards, Stream: "plain", RetryInterval: 10 * time.Millisecond},
		plain, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	appendCalls(w2, calls, 0, 2)
	waitFor(t, "MOVED noticed", func() bool { return strings.Contains(logs.String(), "MOVED") })
	if err := closeWithin(t, w2, time.Second); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := w2.Stats()
	if st.Lost != 0 || st.Written+st.Spooled < calls*2 || st.Spooled == 0 {
		t.Fatalf("plain client stats %+v: entries must wait in the spool, not vanish", st)
	}
	if n := strings.Count(logs.String(), "answered MOVED"); n != 1 {
		t.Fatalf("%d MOVED error lines, want 1:\n%s", n, logs.String())
	}
}

// Issue 16, cluster: with one master SIGKILLed, only the shards it serves
// spool; the other shards keep writing to their masters. After the master
// returns everything is there exactly once.
func TestClusterDeadMasterSpoolsOnlyItsShards(t *testing.T) {
	cl := redistest.NewCluster(t, redistest.ClusterOptions{Masters: 3, AppendOnly: true})
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, DialTimeout: 200 * time.Millisecond,
		MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	cfg := calllog.Config{Shards: clusterShards, RetryInterval: 20 * time.Millisecond, WriteTimeout: time.Second}
	keys, err := cfg.Keys()
	if err != nil {
		t.Fatal(err)
	}
	victim := cl.MasterOf(keys.StreamKey(0))
	onVictim := map[int]bool{}
	for k := range clusterShards {
		onVictim[k] = cl.MasterOf(keys.StreamKey(k)) == victim
	}
	const calls, perCall = 60, 10
	want := 0
	for c := range calls {
		if onVictim[keys.Shard("call-"+strconv.Itoa(c))] {
			want += perCall
		}
	}
	if want == 0 || want == calls*perCall {
		t.Fatalf("shards on the victim: %v — the test needs some on it and some elsewhere", onVictim)
	}

	w := newWriter(t, cfg, client)
	appendCalls(w, calls, 0, 1) // every shard writing before the kill
	waitFor(t, "first entries written", func() bool { return w.Stats().Written == calls })
	cl.Node(victim).Kill()
	appendCalls(w, calls, 1, perCall)
	live := uint64(calls + (calls*perCall - want) - (calls - want/perCall))
	spooled := uint64(want - want/perCall)
	waitFor(t, "live shards written, dead shards spooled", func() bool {
		st := w.Stats()
		return st.Written >= live && st.Spooled >= spooled
	})
	st := w.Stats()
	t.Logf("master %d dead: %+v", victim, st)
	if st.Written != live {
		t.Fatalf("written %d while the master was dead, want %d (the live shards' entries)", st.Written, live)
	}
	if st.Spooled != spooled {
		t.Fatalf("spooled %d, want %d: only the dead master's shards may spool", st.Spooled, spooled)
	}

	cl.Node(victim).Restart()
	cl.WaitOK()
	waitFor(t, "dead shards replayed", func() bool { return w.Stats().Written == calls*perCall })
	closeWriter(t, w)
	if st := w.Stats(); st.Lost != 0 || st.Duplicates != 0 || st.Segments != 0 {
		t.Fatalf("stats after recovery: %+v", st)
	}
	msgs := readShards(t, cl.Client(t), keys)
	logFigures(t, "cluster master SIGKILL", calls*perCall, w.Stats(), msgs)
	checkExactlyOnceInOrder(t, msgs, calls, perCall)
}

// Issue 16, cluster: after a node's script cache is flushed (a failover to a
// replica, a restart, SCRIPT FLUSH) the writer reloads the script with EVAL, and its
// counters stay exact: no resent batch counted as duplicates.
func TestClusterNoScriptKeepsCountersExact(t *testing.T) {
	cl := redistest.NewCluster(t, redistest.ClusterOptions{Masters: 3})
	client := cl.Client(t)
	ctx := context.Background()
	w := newWriter(t, calllog.Config{Shards: clusterShards}, client)
	const calls, rounds = 30, 5
	for r := range rounds {
		appendCalls(w, calls, r, r+1)
		waitFor(t, "round written", func() bool { return w.Stats().Written == uint64(calls*(r+1)) })
		// One node's cache only: the other shards' script calls of the
		// same pipeline succeed, and must not be resent or counted twice.
		node := redis.NewClient(&redis.Options{Addr: cl.Addrs[r%len(cl.Addrs)]})
		err := node.ScriptFlush(ctx).Err()
		_ = node.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	closeWriter(t, w)
	if st := w.Stats(); st.Written != calls*rounds || st.Duplicates != 0 || st.Spooled != 0 {
		t.Fatalf("stats %+v, want Written %d, Duplicates 0, Spooled 0", st, calls*rounds)
	}
	if n := len(readShards(t, client, w.Keys())); n != calls*rounds {
		t.Fatalf("%d entries in the streams, want %d", n, calls*rounds)
	}
}
