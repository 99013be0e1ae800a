package calllog_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/logbuf"
	"github.com/fsivr/fsivr/internal/redistest"
)

// Item 9 of issue 16: one peer flooding DTMF with huge values must not flood
// the call log: entries per call and value sizes are capped, call_start and
// hangup always pass, the overflow is counted and logged once per call, and
// other calls are untouched.
func TestFloodingCallIsCapped(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	var logs logbuf.Buffer
	w, err := calllog.NewWriter(calllog.Config{SpoolDir: t.TempDir(), MaxEntriesPerCall: 50, MaxValueBytes: 100, MaxFields: 4},
		client, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("1", 1<<20)
	w.Append(calllog.Entry{Call: "flood", Kind: calllog.KindCallStart, Fields: map[string]string{"caller": "+1555", "a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}})
	w.Append(calllog.Entry{Call: "calm", Kind: calllog.KindCallStart})
	for i := range 10_000 {
		w.Append(calllog.Entry{Call: "flood", Kind: calllog.KindDTMF, Value: huge})
		if i%1000 == 0 {
			w.Append(calllog.Entry{Call: "calm", Kind: calllog.KindDTMF, Value: strconv.Itoa(i / 1000)})
		}
	}
	w.Append(calllog.Entry{Call: "flood", Kind: calllog.KindHangup, Value: "NORMAL_CLEARING"})
	w.Append(calllog.Entry{Call: "calm", Kind: calllog.KindHangup, Value: "NORMAL_CLEARING"})
	closeWriter(t, w)

	byCall := map[string]int{}
	for _, m := range readStream(t, client, "{fsivr}:calls") {
		byCall[str(m.Values["call"])]++
		if v := str(m.Values["value"]); len(v) > 100 {
			t.Fatalf("value of %d bytes stored", len(v))
		}
		if str(m.Values["call"]) == "flood" && str(m.Values["kind"]) == "call_start" {
			if _, ok := m.Values["e"]; ok || str(m.Values["caller"]) != "+1555" {
				t.Fatalf("fields not capped to 4 in name order: %v", m.Values)
			}
		}
	}
	// call_start + 49 DTMF reach the cap of 50; hangup passes anyway.
	if byCall["flood"] != 51 || byCall["calm"] != 12 {
		t.Fatalf("entries per call %v, want flood 51, calm 12", byCall)
	}
	sum, err := client.HGetAll(context.Background(), "{fsivr}:call:flood").Result()
	if err != nil || sum["outcome"] != "completed" || sum["hangup_cause"] != "NORMAL_CLEARING" {
		t.Fatalf("flooding call's summary lost its hangup: %v, %v", sum, err)
	}
	st := w.Stats()
	if st.Capped != 10_000-49 || st.Truncated < 49 {
		t.Fatalf("stats %+v, want Capped %d and Truncated >= 49", st, 10_000-49)
	}
	if n := strings.Count(logs.String(), "over the entry limits"); n != 1 {
		t.Fatalf("%d limit log lines, want 1 per call:\n%s", n, logs.String())
	}
}

func TestLimitsAreValidated(t *testing.T) {
	for _, cfg := range []calllog.Config{{MaxValueBytes: 1 << 20}, {MaxValueBytes: 3}, {MaxFields: 1000}, {MaxFields: -1}} {
		if _, err := calllog.NewWriter(cfg, nil, nil); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}
