package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/redistest"
)

// Issue 16 item 5: a summary a crashed ivrd left in_progress is closed as
// lost, with its last node, once nothing was written for the bound; a call
// still going on is left alone.
func TestJanitorClosesLostCalls(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	ctx := context.Background()
	w, err := calllog.NewWriter(calllog.Config{SpoolDir: t.TempDir()}, client, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old, recent := now.Add(-7*time.Hour), now.Add(-time.Minute)
	for _, e := range []calllog.Entry{
		{Call: "crashed", Flow: "sales", FlowVersion: "v1", Node: "welcome", Kind: calllog.KindCallStart, Time: old},
		{Call: "crashed", Flow: "sales", FlowVersion: "v1", Node: "main_menu", Kind: calllog.KindNode, Time: old},
		{Call: "running", Flow: "sales", FlowVersion: "v1", Node: "welcome", Kind: calllog.KindCallStart, Time: recent},
	} {
		w.Append(e)
	}
	summary := func(call string) map[string]string {
		m, err := client.HGetAll(ctx, w.Keys().SummaryKey(call)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	waitFor(t, func() bool {
		return summary("crashed")["last_node"] == "main_menu" && summary("running")["outcome"] != ""
	})

	n, err := closeLostCalls(ctx, client, w, now, lostAfter)
	if err != nil || n != 1 {
		t.Fatalf("closed %d, %v; want 1", n, err)
	}
	waitFor(t, func() bool { return summary("crashed")["outcome"] == "lost" })
	if s := summary("crashed"); s["path"] != "main_menu" || s["last_node"] != "main_menu" || s["end"] == "" {
		t.Errorf("lost summary %v", s)
	}
	if s := summary("running"); s["outcome"] != "in_progress" {
		t.Errorf("a running call was closed: %v", s)
	}
	if n, err := closeLostCalls(ctx, client, w, now, lostAfter); err != nil || n != 0 {
		t.Errorf("second pass closed %d, %v", n, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.Close(cctx); err != nil {
		t.Fatal(err)
	}
}
