package calllog

import (
	"strconv"
	"testing"
	"time"
)

// Issue 14: building a batch's script arguments costs no allocation per entry
// beyond the summary's timestamp (it was some forty: a []string of fields, a
// summary slice, a map and closures, and an interface value per argument).
func TestEncodeAllocationsPerEntry(t *testing.T) {
	k := Keys{Namespace: "fsivr", Stream: "calls", Summary: "call", Shards: 1}
	recs := make([]record, 256)
	for i := range recs {
		recs[i] = newRecord("w1", uint64(i+1), Entry{Call: "call-" + strconv.Itoa(i%50), Flow: "sales", FlowVersion: "3",
			Node: "menu", Kind: KindDTMF, Value: strconv.Itoa(i % 10), Time: time.Now(),
			Fields: map[string]string{"caller": "+15551230000", "kind": "reserved name"}})
	}
	var enc batchEncoder
	enc.encode(k, 0, recs) // warm-up: the encoder's buffers grow once
	allocs := testing.AllocsPerRun(20, func() { enc.encode(k, 0, recs) })
	// Per batch: a key string pair per call (50 calls); per entry: the
	// summary's formatted time.
	if perEntry := allocs / float64(len(recs)); perEntry > 2 {
		t.Errorf("%.1f allocations per batch of %d = %.2f per entry, want at most 2", allocs, len(recs), perEntry)
	}
}

// decodedBatch is a payload read back the way writeScript reads it.
type decodedBatch struct {
	first, last string
	entries     []decodedEntry
	calls       []decodedCall
}

type decodedEntry struct {
	call   int      // 1-based
	fields []string // the XADD field/value list
}

type decodedCall struct {
	uuid, first, last string
	nodes             string   // nodes to append to the stored path
	set               []string // summary field/value pairs
	events, errors    uint64
}

// decodeBatch reads a payload as writeScript does: the header, then each
// record as the number of values the record before it announced.
func decodeBatch(t *testing.T, payload []byte, summaries bool) decodedBatch {
	t.Helper()
	d := mpDecoder{b: payload}
	take := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = d.value()
		}
		if d.err != "" {
			t.Fatalf("payload: %s", d.err)
		}
		return out
	}
	h := take(7)
	var out decodedBatch
	out.first, out.last = h[0].(string), h[1].(string)
	nents, ncalls, next := int(h[2].(uint64)), int(h[3].(uint64)), int(h[4].(uint64))
	strs := h[5].([]any)
	str := func(i any) string { return strs[i.(uint64)-1].(string) }
	c := h[6].([]any)
	if len(c) != 3*ncalls {
		t.Fatalf("calls array of %d values for %d calls", len(c), ncalls)
	}
	for i := range ncalls {
		out.calls = append(out.calls, decodedCall{first: c[3*i].(string), last: c[3*i+1].(string), uuid: str(c[3*i+2])})
	}
	for range nents {
		r := take(next)
		next = int(r[0].(uint64))
		ci := int(r[1].(uint64))
		f := []string{FieldVersion, SchemaVersion, FieldID, r[2].(string), FieldCall, out.calls[ci-1].uuid,
			FieldFlow, str(r[4]), FieldFlowVersion, str(r[5]), FieldNode, str(r[6]), FieldKind, str(r[7]),
			FieldValue, str(r[8]), FieldTime, r[3].(string)}
		for _, v := range r[9:] {
			f = append(f, v.(string))
		}
		out.entries = append(out.entries, decodedEntry{call: ci, fields: f})
	}
	if summaries {
		for i := range ncalls {
			r := take(next)
			next = int(r[0].(uint64))
			dc := &out.calls[i]
			dc.nodes, dc.events, dc.errors = r[1].(string), r[2].(uint64), r[3].(uint64)
			for _, v := range r[4:] {
				dc.set = append(dc.set, v.(string))
			}
		}
	}
	if len(d.b) != 0 {
		t.Fatalf("%d bytes left after the last record", len(d.b))
	}
	return out
}

// The payload's stream fields, with the names the script adds, are exactly
// streamFields (the schema's list and order).
func TestEncodeStreamFieldsMatchSchema(t *testing.T) {
	k := Keys{Namespace: "fsivr", Stream: "calls", Shards: 1}
	r := newRecord("w1", 17, Entry{Call: "u1", Flow: "sales", Node: "menu", Kind: KindDTMF, Value: "5",
		Time:   time.Date(2026, 11, 23, 13, 47, 45, 123000000, time.UTC),
		Fields: map[string]string{"caller": "+1555", "id": "spoof", "z" + string(make([]byte, 40)): "long name"}})
	r2 := newRecord("w1", 18, Entry{Call: "u2", Flow: "sales", Kind: KindHangup, Time: time.Date(2026, 11, 23, 13, 47, 46, 0, time.UTC)})
	var enc batchEncoder
	payload, keys := enc.encode(k, 0, []record{r, r2})
	if want := []string{"{fsivr}:calls", "{fsivr}:calls:seq:w1", "{fsivr}:calls:seen:u1", "{fsivr}:calls:seen:u1",
		"{fsivr}:calls:seen:u2", "{fsivr}:calls:seen:u2"}; !equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	b := decodeBatch(t, payload, false)
	if b.first != "17" || b.last != "18" || len(b.entries) != 2 || len(b.calls) != 2 {
		t.Fatalf("payload %+v", b)
	}
	for i, rec := range []record{r, r2} {
		if got, want := b.entries[i].fields, rec.streamFields(); !equal(got, want) {
			t.Errorf("entry %d stream fields\n%q\nwant\n%q", i, got, want)
		}
		if b.entries[i].call != i+1 {
			t.Errorf("entry %d of call %d", i, b.entries[i].call)
		}
	}
	if c := b.calls[0]; c.uuid != "u1" || c.first != "17" || c.last != "17" {
		t.Errorf("call %+v", c)
	}
}

// The per-call keys the encoder builds from its shard's prefixes are
// DedupeKey and SummaryKey, with one shard and with several.
func TestEncodeKeysPerCall(t *testing.T) {
	for _, k := range []Keys{
		{Namespace: "fsivr", Stream: "calls", Summary: "call", Shards: 1},
		{Namespace: "fsivr", Stream: "calls", Summary: "call", Shards: 3},
		{Namespace: "ns", Stream: "attempts", Shards: 3},
	} {
		for shard := range k.Shards {
			var recs []record
			for i := range 40 {
				if call := "call-" + strconv.Itoa(i); k.Shard(call) == shard {
					recs = append(recs, newRecord("w", uint64(len(recs)+1), Entry{Call: call, Kind: KindDTMF}))
				}
			}
			var enc batchEncoder
			_, keys := enc.encode(k, shard, recs)
			want := []string{k.StreamKey(shard), k.orderKey(shard, "w")}
			for _, r := range recs {
				skey := k.SummaryKey(r.Call)
				if skey == "" {
					skey = k.DedupeKey(r.Call)
				}
				want = append(want, k.DedupeKey(r.Call), skey)
			}
			if !equal(keys, want) {
				t.Errorf("%+v shard %d: keys\n%q\nwant\n%q", k, shard, keys, want)
			}
		}
	}
}

// The merged summary of a call's entries in one batch is what one HSET per
// entry, in order, leaves: later values win, nodes join the path, an
// explicit path (hangup) replaces what came before and later nodes follow it.
func TestEncodeMergesSummaries(t *testing.T) {
	k := Keys{Namespace: "fsivr", Stream: "calls", Summary: "call", Shards: 1}
	at := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	recs := []record{
		newRecord("w", 1, Entry{Call: "a", Kind: KindCallStart, Flow: "f", Time: at, Fields: map[string]string{"caller": "1"}}),
		newRecord("w", 2, Entry{Call: "a", Kind: KindNode, Node: "n1", Time: at}),
		newRecord("w", 3, Entry{Call: "b", Kind: KindNode, Node: "m1", Time: at}),
		newRecord("w", 4, Entry{Call: "a", Kind: KindError, Value: "boom", Node: "n2", Time: at}),
		newRecord("w", 5, Entry{Call: "b", Kind: KindHangup, Time: at.Add(time.Second), Fields: map[string]string{"path": "x>y"}}),
		newRecord("w", 6, Entry{Call: "b", Kind: KindNode, Node: "m2", Time: at}),
	}
	var enc batchEncoder
	payload, keys := enc.encode(k, 0, recs)
	if len(keys) != 6 {
		t.Fatalf("keys %q", keys)
	}
	calls := decodeBatch(t, payload, true).calls
	sum := func(i int) (map[string]string, decodedCall) {
		c := calls[i]
		m := map[string]string{}
		for j := 0; j < len(c.set); j += 2 {
			if _, dup := m[c.set[j]]; dup {
				t.Errorf("call %d sets %v twice", i, c.set[j])
			}
			m[c.set[j]] = c.set[j+1]
		}
		return m, c
	}
	a, ca := sum(0)
	if ca.last != "4" || ca.first != "1" || ca.nodes != "n1" || ca.events != 3 || ca.errors != 1 ||
		a["caller"] != "1" || a["last_kind"] != "error" || a["last_error"] != "boom" || a["last_node"] != "n2" ||
		a["outcome"] != "in_progress" || a["path"] != "" {
		t.Errorf("call a: %v %+v", a, ca)
	}
	b, cb := sum(1)
	if cb.last != "6" || cb.first != "3" || cb.nodes != "" || cb.events != 3 ||
		b["path"] != "x>y>m2" || b["outcome"] != "completed" || b["last_kind"] != "node" {
		t.Errorf("call b: %v %+v", b, cb)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// mpDecoder decodes the MessagePack subset batchEncoder writes.
type mpDecoder struct {
	b   []byte
	err string
}

func (d *mpDecoder) n(size int) uint64 {
	if len(d.b) < size {
		d.err = "short"
		return 0
	}
	var v uint64
	for _, c := range d.b[:size] {
		v = v<<8 | uint64(c)
	}
	d.b = d.b[size:]
	return v
}

func (d *mpDecoder) value() any {
	if d.err != "" || len(d.b) == 0 {
		d.err = "short"
		return nil
	}
	c := d.b[0]
	d.b = d.b[1:]
	switch {
	case c < 0x80:
		return uint64(c)
	case c&0xf0 == 0x90:
		return d.array(int(c & 0x0f))
	case c == 0xdc:
		return d.array(int(d.n(2)))
	case c == 0xdd:
		return d.array(int(d.n(4)))
	case c&0xe0 == 0xa0:
		return d.str(int(c & 0x1f))
	case c == 0xda:
		return d.str(int(d.n(2)))
	case c == 0xdb:
		return d.str(int(d.n(4)))
	case c == 0xcd:
		return d.n(2)
	case c == 0xce:
		return d.n(4)
	case c == 0xcf:
		return d.n(8)
	}
	d.err = "unexpected byte " + strconv.Itoa(int(c))
	return nil
}

func (d *mpDecoder) array(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = d.value()
	}
	return out
}

func (d *mpDecoder) str(n int) string {
	if len(d.b) < n {
		d.err = "short"
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
