package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/redistest"
)

func TestTailCommandPrintsAndExitsAtCount(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	w, err := calllog.NewWriter(calllog.Config{SpoolDir: t.TempDir()}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(calllog.Entry{Call: "c1", Flow: "sales", Kind: calllog.KindCallStart})
	w.Append(calllog.Entry{Call: "c2", Flow: "other", Kind: calllog.KindCallStart})
	w.Append(calllog.Entry{Call: "c1", Flow: "sales", Node: "menu", Kind: calllog.KindDTMF, Value: "2"})
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	cmd := newTailCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--redis", srv.Addr, "--from-start", "--flow", "sales", "--count", "2", "--group", "t", "--consumer", "c"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("tail: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "call=c1 sales call_start") || !strings.Contains(lines[1], "dtmf node=menu value=2") {
		t.Fatalf("output:\n%s", out.String())
	}

	cmd = newTailCmd()
	cmd.SetArgs([]string{"--redis", srv.Addr, "--count", "-1"})
	cmd.SetOut(&out)
	if err := cmd.ExecuteContext(context.Background()); err == nil {
		t.Fatal("--count -1 accepted")
	}
}

// --shards N reads every shard's stream of a sharded writer, here through a
// single seed address of a real Redis Cluster.
func TestTailCommandReadsEveryShard(t *testing.T) {
	cl := redistest.NewCluster(t, redistest.ClusterOptions{Masters: 3})
	client := cl.Client(t)
	w, err := calllog.NewWriter(calllog.Config{SpoolDir: t.TempDir(), Shards: 3}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		w.Append(calllog.Entry{Call: "c" + strconv.Itoa(i), Flow: "sales", Kind: calllog.KindCallStart})
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	cmd := newTailCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--redis", cl.Addrs[1], "--shards", "3", "--from-start", "--once", "--group", "t", "--consumer", "c"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("tail: %v", err)
	}
	if n := strings.Count(out.String(), " call_start"); n != 30 {
		t.Fatalf("%d entries printed, want 30:\n%s", n, out.String())
	}
	cmd = newTailCmd()
	cmd.SetArgs([]string{"--redis", cl.Addrs[0], "--shards", "3", "--stream", "x"})
	if err := cmd.ExecuteContext(context.Background()); err == nil {
		t.Fatal("--shards with --stream accepted")
	}
}
