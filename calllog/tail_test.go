package calllog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/redistest"
)

// tailFixture starts a Redis and writes the five entries the tail tests
// read into its stream (shard 0), as ivrd would.
func tailFixture(t *testing.T) (srv *redistest.Server, client *redis.Client, stream string) {
	t.Helper()
	srv = redistest.NewServer(t, redistest.Options{})
	client = srv.Client(t)
	w := newWriter(t, calllog.Config{}, client)
	for i, e := range []calllog.Entry{
		{Call: "call-a", Flow: "sales", FlowVersion: "3", Kind: calllog.KindCallStart, Fields: map[string]string{"caller": "100"}},
		{Call: "call-b", Flow: "support", FlowVersion: "1", Kind: calllog.KindCallStart},
		{Call: "call-a", Flow: "sales", FlowVersion: "3", Node: "menu", Kind: calllog.KindDTMF, Value: "1"},
		{Call: "call-b", Flow: "support", FlowVersion: "1", Node: "x", Kind: calllog.KindError, Value: "bad\x1b[31m input"},
		{Call: "call-c", Flow: "sales", FlowVersion: "3", Kind: calllog.KindHangup, Value: "NORMAL_CLEARING"},
	} {
		e.Time = time.Date(2026, 11, 23, 12, 0, i, 0, time.UTC)
		w.Append(e)
	}
	closeWriter(t, w)
	return srv, client, w.Keys().StreamKey(0)
}

func pending(t *testing.T, srv *redistest.Server, stream, group string) int64 {
	t.Helper()
	client := srv.Client(t)
	p, err := client.XPending(context.Background(), stream, group).Result()
	if err != nil {
		t.Fatalf("XPENDING: %v", err)
	}
	return p.Count
}

func TestTailFiltersPrintsAndAcks(t *testing.T) {
	srv, client, stream := tailFixture(t)

	var out bytes.Buffer
	n, err := calllog.Tail(context.Background(), client, calllog.TailOptions{
		Stream: stream, Group: "g1", Consumer: "c1", Start: "0", Flow: "sales", Once: true,
	}, &out)
	if err != nil || n != 3 {
		t.Fatalf("Tail = %d, %v; output:\n%s", n, err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got:\n%s", out.String())
	}
	if !strings.HasPrefix(lines[0], "2026-11-23T12:00:00Z ") || !strings.Contains(lines[0], " call=call-a sales@3 call_start") ||
		!strings.Contains(lines[0], " caller=100") {
		t.Errorf("line 0 = %q", lines[0])
	}
	if !strings.Contains(lines[1], "dtmf node=menu value=1") || !strings.Contains(lines[2], "call=call-c") {
		t.Errorf("lines = %q", lines)
	}
	if p := pending(t, srv, stream, "g1"); p != 0 {
		t.Errorf("%d entries left pending; Tail must ack everything it read", p)
	}

	// A second group sees everything again; filter by call, JSON output, and
	// control characters from caller data stay escaped.
	out.Reset()
	n, err = calllog.Tail(context.Background(), client, calllog.TailOptions{
		Stream: stream, Group: "g2", Consumer: "c1", Start: "0", Call: "call-b", JSON: true, Once: true,
	}, &out)
	if err != nil || n != 2 {
		t.Fatalf("Tail json = %d, %v", n, err)
	}
	var recs []calllog.TailRecord
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r calllog.TailRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if recs[0].Stream != stream || recs[0].StreamID == "" || recs[1].Fields["kind"] != "error" ||
		recs[1].Fields["value"] != "bad\x1b[31m input" || recs[1].Fields["v"] != calllog.SchemaVersion {
		t.Errorf("records = %+v", recs)
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Errorf("raw escape character in JSON output")
	}
	if line := calllog.FormatEntry("1-0", recs[1].Fields); strings.Contains(line, "\x1b") || !strings.Contains(line, `value="bad\x1b[31m input"`) {
		t.Errorf("readable line not escaped: %q", line)
	}
}

func TestTailCountLeavesTheRestForLater(t *testing.T) {
	srv, client, stream := tailFixture(t)
	opts := calllog.TailOptions{Stream: stream, Group: "g", Consumer: "c", Start: "0", Count: 2}
	var out bytes.Buffer
	n, err := calllog.Tail(context.Background(), client, opts, &out)
	if err != nil || n != 2 || strings.Count(out.String(), "\n") != 2 {
		t.Fatalf("Tail count=2: %d, %v\n%s", n, err, out.String())
	}
	if p := pending(t, srv, stream, "g"); p != 0 {
		t.Errorf("%d pending after Count stop", p)
	}
	out.Reset()
	opts.Count, opts.Once = 0, true
	n, err = calllog.Tail(context.Background(), client, opts, &out)
	if err != nil || n != 3 || !strings.Contains(out.String(), "call-c") {
		t.Fatalf("second Tail: %d, %v\n%s", n, err, out.String())
	}
}

func TestTailStopsOnCancelAndClaimsIdle(t *testing.T) {
	srv, client, stream := tailFixture(t)
	ctx := context.Background()
	// A consumer that died after reading without acking.
	if err := client.XGroupCreateMkStream(ctx, stream, "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "dead", Streams: []string{stream, ">"}, Count: 2}).Result(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dead consumer's entries to be idle", func() bool {
		p, err := client.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: "g", Start: "-", End: "+", Count: 10}).Result()
		return err == nil && len(p) == 2 && p[0].Idle > 2*time.Millisecond && p[1].Idle > 2*time.Millisecond
	})
	cctx, cancel := context.WithCancel(ctx)
	var out bytes.Buffer
	done := make(chan struct{})
	var n int
	var err error
	go func() {
		defer close(done)
		n, err = calllog.Tail(cctx, client, calllog.TailOptions{Stream: stream, Group: "g", Consumer: "live",
			ClaimIdle: time.Millisecond, Block: 50 * time.Millisecond, Count: 100}, &out)
	}()
	waitFor(t, "all entries tailed", func() bool { return pending(t, srv, stream, "g") == 0 && xlenRead(t, srv, stream, "g") })
	cancel()
	<-done
	if err != nil || n != 5 {
		t.Fatalf("Tail after cancel = %d, %v\n%s", n, err, out.String())
	}
}

// xlenRead reports whether the group has delivered every entry.
func xlenRead(t *testing.T, srv *redistest.Server, stream, group string) bool {
	groups, err := srv.Client(t).XInfoGroups(context.Background(), stream).Result()
	if err != nil {
		t.Fatalf("XINFO GROUPS: %v", err)
	}
	for _, g := range groups {
		if g.Name == group {
			return g.EntriesRead >= 5
		}
	}
	return false
}

func TestTailRejectsMissingClient(t *testing.T) {
	if _, err := calllog.Tail(context.Background(), nil, calllog.TailOptions{}, &bytes.Buffer{}); err == nil {
		t.Fatal("Tail with nil client returned nil error")
	}
}
