package calllog_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

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

func TestSpoolFailureIsLoud(t *testing.T) {
	dir := t.TempDir() + "/spool"
	var logs bytes.Buffer
	w, err := calllog.NewWriter(calllog.Config{SpoolDir: dir}, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// The spool directory turns into a file: every segment create fails.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a dir"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.Append(calllog.Entry{Call: "c", Kind: calllog.KindNode})
	err = w.Close(context.Background())
	st := w.Stats()
	if !errors.Is(err, calllog.ErrLost) || st.Lost != 1 || st.SpoolErrors == 0 {
		t.Fatalf("Close = %v, stats %+v: a spool failure must be reported", err, st)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "LOST") {
		t.Fatalf("no error log:\n%s", logs.String())
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := newWriter(t, calllog.Config{Registerer: reg}, nil)
	w.Append(calllog.Entry{Call: "c", Kind: calllog.KindNode})
	closeWriter(t, w)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for _, name := range []string{"fsivr_calllog_entries_appended_total", "fsivr_calllog_entries_spooled_total",
		"fsivr_calllog_entries_lost_total", "fsivr_calllog_spool_errors_total", "fsivr_calllog_queue_length"} {
		if _, ok := got[name]; !ok {
			t.Errorf("metric %s not registered (have %v)", name, got)
		}
	}
	if got["fsivr_calllog_entries_appended_total"] != 1 || got["fsivr_calllog_entries_spooled_total"] != 1 {
		t.Errorf("metric values %v", got)
	}
	// A second writer for another stream registers beside it (label "stream").
	w2 := newWriter(t, calllog.Config{Registerer: reg, Stream: "attempts", NoSummary: true}, nil)
	closeWriter(t, w2)
}

func TestRedisServerKeepsAcknowledgedDataAcrossKill(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{AppendOnly: true})
	client := srv.Client(t)
	ctx := context.Background()
	if err := client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	srv.Start()
	waitFor(t, "key after restart", func() bool {
		v, err := client.Get(ctx, "k").Result()
		return err == nil && v == "v"
	})
}
