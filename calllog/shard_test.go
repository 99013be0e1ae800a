package calllog_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/redistest"
)

func TestShardedStreamsKeepCallsTogether(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w := newWriter(t, calllog.Config{Shards: 4}, client)
	for i := range 40 {
		call := "call-" + strconv.Itoa(i%8)
		w.Append(calllog.Entry{Call: call, Flow: "f", Kind: calllog.KindNode, Node: "n" + strconv.Itoa(i/8), Value: strconv.Itoa(i / 8)})
	}
	closeWriter(t, w)
	keys := w.Keys()
	total := 0
	for shard, key := range keys.StreamKeys() {
		for _, m := range readStream(t, client, key) {
			total++
			if got := keys.Shard(str(m.Values["call"])); got != shard {
				t.Fatalf("call %v in shard %d stream, belongs to %d", m.Values["call"], shard, got)
			}
		}
	}
	if total != 40 {
		t.Fatalf("%d entries over all shards, want 40", total)
	}
	path, err := client.HGet(context.Background(), keys.SummaryKey("call-3"), "path").Result()
	if err != nil || path != "n0>n1>n2>n3>n4" {
		t.Fatalf("sharded summary path = %q, %v", path, err)
	}
}
