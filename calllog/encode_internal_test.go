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

// The payload's stream fields are exactly streamFields (the schema's list and
// order), read back with a minimal MessagePack decoder.
func TestEncodeStreamFieldsMatchSchema(t *testing.T) {
	k := Keys{Namespace: "fsivr", Stream: "calls", Shards: 1}
	r := newRecord("w1", 17, Entry{Call: "u1", Flow: "sales", Node: "menu", Kind: KindDTMF, Value: "5",
		Time:   time.Date(2026, 11, 23, 13, 47, 45, 123000000, time.UTC),
		Fields: map[string]string{"caller": "+1555", "id": "spoof", "z" + string(make([]byte, 40)): "long name"}})
	var enc batchEncoder
	payload, keys := enc.encode(k, 0, []record{r})
	if want := []string{"{fsivr}:calls", "{fsivr}:calls:seq:w1", "{fsivr}:calls:seen:u1", "{fsivr}:calls:seen:u1"}; !equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	d := mpDecoder{b: payload}
	v := d.value()
	batch, ok := v.([]any)
	if !ok || len(batch) != 4 || d.err != "" {
		t.Fatalf("payload decodes to %v (%s)", v, d.err)
	}
	ents := batch[0].([]any)
	if len(ents) < 2 || batch[2] != "17" || batch[3] != "17" {
		t.Fatalf("payload %v", batch)
	}
	if ents[0] != uint64(1) || ents[1] != uint64(len(ents)-2) {
		t.Errorf("entry header %v %v, want call 1 and %d strings", ents[0], ents[1], len(ents)-2)
	}
	var got []string
	for _, f := range ents[2:] {
		got = append(got, f.(string))
	}
	if want := r.streamFields(); !equal(got, want) {
		t.Errorf("stream fields\n%q\nwant\n%q", got, want)
	}
	c := batch[1].([]any)[0].([]any)
	if c[0] != "17" || c[1] != "17" || len(c[2].([]any)) != 0 || c[3] != "" || c[4] != uint64(1) || c[5] != uint64(0) {
		t.Errorf("call %v", c)
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
	d := mpDecoder{b: payload}
	calls := d.value().([]any)[1].([]any)
	sum := func(i int) (map[string]string, []any) {
		c := calls[i].([]any)
		m := map[string]string{}
		set := c[2].([]any)
		for j := 0; j < len(set); j += 2 {
			if _, dup := m[set[j].(string)]; dup {
				t.Errorf("call %d sets %v twice", i, set[j])
			}
			m[set[j].(string)] = set[j+1].(string)
		}
		return m, c
	}
	a, ca := sum(0)
	if ca[0] != "4" || ca[1] != "1" || ca[3] != "n1" || ca[4] != uint64(3) || ca[5] != uint64(1) ||
		a["caller"] != "1" || a["last_kind"] != "error" || a["last_error"] != "boom" || a["last_node"] != "n2" ||
		a["outcome"] != "in_progress" || a["path"] != "" {
		t.Errorf("call a: %v %v", a, ca[:2])
	}
	b, cb := sum(1)
	if cb[0] != "6" || cb[1] != "3" || cb[3] != "" || cb[4] != uint64(3) ||
		b["path"] != "x>y>m2" || b["outcome"] != "completed" || b["last_kind"] != "node" {
		t.Errorf("call b: %v %v", b, cb)
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
