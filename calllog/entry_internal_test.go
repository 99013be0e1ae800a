package calllog

import (
	"slices"
	"testing"
	"time"
)

func TestStreamFieldsCarryEveryCoreField(t *testing.T) {
	ts := time.Date(2026, 11, 23, 13, 47, 45, 123000000, time.UTC)
	r := newRecord("w1", 7, Entry{Call: "c1", Flow: "sales", FlowVersion: "3", Node: "menu",
		Kind: KindDTMF, Value: "1", Fields: map[string]string{"caller": "100", "kind": "spoofed"}, Time: ts})
	f := r.streamFields()
	got := map[string]string{}
	for i := 0; i < len(f); i += 2 {
		got[f[i]] = f[i+1]
	}
	want := map[string]string{
		"v": SchemaVersion, "id": "w1-7", "call": "c1", "flow": "sales", "flow_version": "3",
		"node": "menu", "kind": "dtmf", "value": "1", "ts": "2026-11-23T13:47:45.123Z",
		"caller": "100", "x_kind": "spoofed",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %q = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want exactly %v", got, want)
	}
}

func TestRecordCopiesFields(t *testing.T) {
	m := map[string]string{"a": "1"}
	r := newRecord("w", 1, Entry{Call: "c", Kind: KindNode, Fields: m})
	m["a"] = "changed"
	if r.Fields["a"] != "1" {
		t.Fatalf("record shares the caller's map: %v", r.Fields)
	}
}

func pairs(set []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(set); i += 2 {
		out[set[i]] = set[i+1]
	}
	return out
}

func TestSummaryByKind(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		e    Entry
		want map[string]string
		path string
		err  bool
	}{
		{e: Entry{Kind: KindCallStart, Flow: "sales", FlowVersion: "2", Fields: map[string]string{"caller": "100", "called": "200", "ani": "x"}},
			want: map[string]string{"start": "2026-01-02T03:04:05Z", "caller": "100", "called": "200", "outcome": "in_progress", "flow": "sales", "flow_version": "2", "ani": "x"}},
		{e: Entry{Kind: KindAnswer}, want: map[string]string{"answer": "2026-01-02T03:04:05Z"}},
		{e: Entry{Kind: KindNode, Node: "welcome"}, want: map[string]string{"last_node": "welcome"}, path: "welcome"},
		{e: Entry{Kind: KindCRM, Value: "found"}, want: map[string]string{"crm_outcome": "found"}},
		{e: Entry{Kind: KindCRM, Value: "x", Fields: map[string]string{"outcome": "timeout"}}, want: map[string]string{"crm_outcome": "timeout"}},
		{e: Entry{Kind: KindBridge, Value: "user/601", Fields: map[string]string{"disposition": "NO_ANSWER"}}, want: map[string]string{"bridge": "NO_ANSWER"}},
		{e: Entry{Kind: KindTransfer, Value: "queue"}, want: map[string]string{"transfer": "queue"}},
		{e: Entry{Kind: KindError, Value: "boom"}, want: map[string]string{"last_error": "boom"}, err: true},
		{e: Entry{Kind: KindHangup, Fields: map[string]string{"cause": "NORMAL_CLEARING", "path": "a>b"}},
			want: map[string]string{"end": "2026-01-02T03:04:05Z", "hangup_cause": "NORMAL_CLEARING", "outcome": "completed", "path": "a>b"}},
		{e: Entry{Kind: KindHangup, Value: "USER_BUSY", Fields: map[string]string{"outcome": "abandoned"}},
			want: map[string]string{"hangup_cause": "USER_BUSY", "outcome": "abandoned"}},
	}
	for _, tc := range tests {
		tc.e.Call, tc.e.Time = "c1", ts
		r := newRecord("w", 1, tc.e)
		u := r.summary()
		got := pairs(u.set)
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: summary %q = %q, want %q (all: %v)", tc.e.Kind, k, got[k], v, got)
			}
		}
		for _, k := range []string{"v", "call", "last_kind", "updated"} {
			if got[k] == "" {
				t.Errorf("%s: summary lacks %q", tc.e.Kind, k)
			}
		}
		if u.pathAppend != tc.path || u.isError != tc.err {
			t.Errorf("%s: path %q err %v, want %q %v", tc.e.Kind, u.pathAppend, u.isError, tc.path, tc.err)
		}
	}
}

func TestKeysShardAndHashTags(t *testing.T) {
	one := Keys{Namespace: "fsivr", Stream: "calls", Summary: "call", Shards: 1}
	if got := one.StreamKey(0); got != "{fsivr}:calls" {
		t.Errorf("StreamKey = %q", got)
	}
	if got := one.SummaryKey("u1"); got != "{fsivr}:call:u1" {
		t.Errorf("SummaryKey = %q", got)
	}
	if got := one.DedupeKey("u1"); got != "{fsivr}:calls:seen:u1" {
		t.Errorf("DedupeKey = %q", got)
	}
	four := Keys{Namespace: "fsivr", Stream: "calls", Summary: "call", Shards: 4}
	seen := map[int]bool{}
	for i := range 200 {
		call := "call-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		s := four.Shard(call)
		seen[s] = true
		tag := "{fsivr:" + string(rune('0'+s)) + "}"
		for _, k := range []string{four.StreamKey(s), four.SummaryKey(call), four.DedupeKey(call)} {
			if len(k) < len(tag) || k[:len(tag)] != tag {
				t.Fatalf("key %q of call %q is not in shard tag %s", k, call, tag)
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("200 calls used shards %v, want all 4", seen)
	}
	if got := four.StreamKeys(); !slices.Equal(got, []string{"{fsivr:0}:calls", "{fsivr:1}:calls", "{fsivr:2}:calls", "{fsivr:3}:calls"}) {
		t.Errorf("StreamKeys = %v", got)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for _, c := range []Config{{Shards: -1}, {MaxLen: -5}, {Namespace: "a{b"}, {QueueSize: -1}, {SummaryTTL: time.Millisecond}} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}
