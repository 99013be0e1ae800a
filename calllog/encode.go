package calllog

import (
	"encoding/binary"
	"strconv"
	"time"
)

// batchEncoder builds the arguments of one script call: the batch's entries
// as one MessagePack payload (the script reads it with cmsgpack) instead
// of some thirty arguments per entry. That was most of the client's cost per
// entry (an interface value, and so an allocation, per argument, plus go-redis
// writing each) and a good part of Redis's (one object per argument). The
// summary updates of a call's entries are merged here, once per call and
// batch, so the script runs one HSET per call instead of one per entry. The
// encoder's buffers are reused from batch to batch.
//
// The payload is not one MessagePack array but a sequence of top-level
// values that the script reads with cmsgpack.unpack_limit, one record per
// call, straight into a Lua function's arguments: decoding the batch into
// one Lua table cost Redis about a third of the script's time (a table
// insertion, with its rehashes, for every value, and an interned Lua string
// for each of ~22 strings per entry). The stream's field names are constants
// of the script, not payload strings; an entry's flow, flow_version, node,
// kind and value, and the call uuids, are sent once per batch in a table of
// strings and referred to by index. Each record starts with the number of
// values of the record after it, which is how many the script asks
// unpack_limit for next:
//
//	header      first seq, last seq, entries, calls (seqs as decimal
//	            strings), values of the first entry record, the string
//	            table (array), calls (flat array, per call: first seq,
//	            last seq, uuid index)
//	per entry   next, call index, id, ts, flow, flow_version, node, kind,
//	            value (string indices), then the extra fields' names and
//	            values (strings, sorted by name)
//	per call    next, nodes to append to the stored path ("" none),
//	(summaries  events, errors, then the summary's field/value pairs
//	only)       (strings)
type batchEncoder struct {
	// replay: the batch comes from the spool, so the script looks every
	// call's mark up (see writeScript) instead of trusting the order key.
	replay bool
	buf    []byte
	body   []byte   // the entries and summaries, copied behind the strings
	set    []string // summary pairs of one entry (scratch)
	names  []string // sorted extra field names of one entry (scratch)
	calls  map[string]int
	dict   map[string]uint64 // string -> index in strs
	last   [5]lastStr        // the previous entry's flow, flow_version, node, kind, value
	strs   []string
	sums   []callSummary
	keys   []string
}

// callSummary is the merged summary update of one call's entries in a
// batch: what one HSET per entry, in order, would leave.
type callSummary struct {
	call        string
	uuid        uint64 // index of call in the string table
	first, last uint64
	set         []string // field/value pairs, each field once, later entries winning
	pathKnown   bool     // an entry set "path" itself: path is the whole path
	path        []byte   // the whole path, or the nodes to append to the stored one
	events      int
	errors      int
}

func (c *callSummary) reset(seq uint64) {
	clear(c.set[:cap(c.set)])
	*c = callSummary{first: seq, set: c.set[:0], path: c.path[:0]}
}

// merge applies one entry's update.
func (c *callSummary) merge(seq uint64, u *summaryUpdate) {
	c.last = seq
	c.events++
	if u.isError {
		c.errors++
	}
	for i := 0; i+1 < len(u.set); i += 2 {
		f, v := u.set[i], u.set[i+1]
		if f == SumPath {
			c.pathKnown, c.path = true, append(c.path[:0], v...)
		}
		c.put(f, v)
	}
	if u.pathAppend != "" {
		if len(c.path) > 0 {
			c.path = append(c.path, PathSeparator...)
		}
		c.path = append(c.path, u.pathAppend...)
	}
}

func (c *callSummary) put(f, v string) {
	for i := 0; i < len(c.set); i += 2 {
		if c.set[i] == f {
			c.set[i+1] = v
			return
		}
	}
	c.set = append(c.set, f, v)
}

// strAt is str for the stream value in slot (flow, flow_version, node, kind,
// value), first compared with the same slot of the entry before: most
// entries repeat their predecessor's flow, version and kind, and the
// comparison is cheaper than the map lookup.
func (e *batchEncoder) strAt(slot int, s string) uint64 {
	if l := &e.last[slot]; l.i != 0 && l.s == s {
		return l.i
	}
	i := e.str(s)
	e.last[slot] = lastStr{s, i}
	return i
}

type lastStr struct {
	s string
	i uint64
}

// str returns the index of s in the batch's string table, adding it.
func (e *batchEncoder) str(s string) uint64 {
	if i, ok := e.dict[s]; ok {
		return i
	}
	e.strs = append(e.strs, s)
	i := uint64(len(e.strs))
	e.dict[s] = i
	return i
}

// encode appends the payload for recs (all of one shard and one writer, in
// sequence order) and returns it with the script's KEYS: the stream, the
// writer's order key, and per distinct call its dedupe hash and its summary
// hash (the dedupe hash again when summaries are off, so every key stays in
// the shard's slot). The returned slices are valid until the next encode
// with the same encoder.
func (e *batchEncoder) encode(k Keys, shard int, recs []record) (payload []byte, keys []string) {
	if e.calls == nil {
		e.calls = make(map[string]int)
		e.dict = make(map[string]uint64)
	}
	clear(e.calls)
	clear(e.dict)
	e.last = [5]lastStr{}
	e.strs = e.strs[:0]
	stream := k.StreamKey(shard)
	e.keys = append(e.keys[:0], stream, k.orderKey(shard, recs[0].Writer))
	// The per-call keys are DedupeKey and SummaryKey, built from the
	// shard's prefixes (every record is of this shard): no hash of the call
	// and no formatted tag per call.
	dprefix := stream + ":seen:"
	sprefix := ""
	if k.Summary != "" {
		sprefix = k.tag(shard) + ":" + k.Summary + ":"
	}
	b := e.body[:0]
	patch := 0 // where the last entry's count of the next record goes
	for i := range recs {
		r := &recs[i]
		ci, ok := e.calls[r.Call]
		if !ok {
			ci = len(e.calls) + 1
			e.calls[r.Call] = ci
			dkey := dprefix + r.Call
			skey := dkey
			if sprefix != "" {
				skey = sprefix + r.Call
			}
			e.keys = append(e.keys, dkey, skey)
			if len(e.sums) < ci {
				e.sums = append(e.sums, callSummary{})
			}
			e.sums[ci-1].reset(r.Seq)
			e.sums[ci-1].call = r.Call
		}
		c := &e.sums[ci-1]
		var tsb [64]byte
		ts := r.time().AppendFormat(tsb[:0], time.RFC3339Nano)
		if k.Summary != "" {
			u := r.summaryInto(string(ts), e.set, e.names)
			e.set = u.set
			c.merge(r.Seq, &u)
		} else {
			c.last = r.Seq
			c.events++
		}
		if i+1 < len(recs) {
			b = appendUint(b, uint64(entryValues(&recs[i+1])))
		} else {
			// The first summary record's size is known only once every
			// entry is merged: a fixed-width uint16, filled in below.
			patch = len(b)
			b = append(b, 0xcd, 0, 0)
		}
		b = appendUint(b, uint64(ci))
		b = e.appendStream(b, r, ts)
	}
	ncalls := len(e.calls)
	next := 0 // values in the record after the last entry
	if k.Summary != "" {
		for i := range ncalls {
			if c := &e.sums[i]; c.pathKnown {
				c.put(SumPath, string(c.path))
			}
		}
		next = 4 + len(e.sums[0].set)
		for i := range ncalls {
			c := &e.sums[i]
			if i+1 < ncalls {
				b = appendUint(b, uint64(4+len(e.sums[i+1].set)))
			} else {
				b = appendUint(b, 0)
			}
			if c.pathKnown {
				b = appendStr(b, "")
			} else {
				b = appendStrBytes(b, c.path)
			}
			b = appendUint(b, uint64(c.events))
			b = appendUint(b, uint64(c.errors))
			for _, s := range c.set {
				b = appendStr(b, s)
			}
		}
	}
	binary.BigEndian.PutUint16(b[patch+1:], uint16(next))
	e.body = b
	h := appendSeq(e.buf[:0], recs[0].Seq)
	h = appendSeq(h, recs[len(recs)-1].Seq)
	h = appendUint(h, uint64(len(recs)))
	h = appendUint(h, uint64(ncalls))
	h = appendUint(h, uint64(entryValues(&recs[0])))
	for i := range ncalls {
		e.sums[i].uuid = e.str(e.sums[i].call)
	}
	h = appendArrayLen(h, len(e.strs))
	for _, s := range e.strs {
		h = appendStr(h, s)
	}
	h = appendArrayLen(h, 3*ncalls)
	for i := range ncalls {
		c := &e.sums[i]
		h = appendSeq(h, c.first)
		h = appendSeq(h, c.last)
		h = appendUint(h, c.uuid)
	}
	h = append(h, b...)
	clear(e.set[:cap(e.set)]) // pins no entry's strings until the next batch
	for i := range ncalls {
		clear(e.sums[i].set[:cap(e.sums[i].set)])
		e.sums[i].call = ""
	}
	clear(e.strs[:cap(e.strs)])
	e.last = [5]lastStr{}
	e.buf = h
	return h, e.keys
}

// entryValues is how many values r's record in the payload has (see
// appendStream): its fixed part and its extra fields' names and values.
func entryValues(r *record) int { return 9 + 2*len(r.Fields) }

// renamedFields maps each reserved field name to what an extra field of
// that name is written as ("x_<name>"), without a string built per entry.
var renamedFields = func() map[string]string {
	m := make(map[string]string, len(reservedFields))
	for k := range reservedFields {
		m[k] = "x_" + k
	}
	return m
}()

func appendSeq(b []byte, seq uint64) []byte {
	var num [20]byte
	return appendStrBytes(b, strconv.AppendUint(num[:0], seq, 10))
}

// appendStream appends an entry's stream values (the script supplies the
// field names, in the order of record.streamFields): its id and ts, which
// are its own, inline; the rest as string indices; then the extra fields,
// sorted by name.
func (e *batchEncoder) appendStream(b []byte, r *record, ts []byte) []byte {
	var num [20]byte
	seq := strconv.AppendUint(num[:0], r.Seq, 10)
	b = appendStrHeader(b, len(r.Writer)+1+len(seq))
	b = append(b, r.Writer...)
	b = append(b, '-')
	b = append(b, seq...)
	b = appendStrBytes(b, ts)
	b = appendUint(b, e.strAt(0, r.Flow))
	b = appendUint(b, e.strAt(1, r.FlowV))
	b = appendUint(b, e.strAt(2, r.Node))
	b = appendUint(b, e.strAt(3, r.Kind))
	b = appendUint(b, e.strAt(4, r.Value))
	e.names = appendSortedKeys(e.names[:0], r.Fields)
	for _, k := range e.names {
		if x, ok := renamedFields[k]; ok {
			b = appendStr(b, x)
		} else {
			b = appendStr(b, k)
		}
		b = appendStr(b, r.Fields[k])
	}
	clear(e.names[:cap(e.names)])
	return b
}

// MessagePack, the subset the payload uses: arrays, strings (fixstr, str16
// and str32 only: Redis's cmsgpack predates str8 on the encoding side and the
// three are all it needs) and unsigned integers.

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
	}
}

func appendStrHeader(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, 0xa0|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
}

func appendStr(b []byte, s string) []byte { return append(appendStrHeader(b, len(s)), s...) }

func appendStrBytes(b, s []byte) []byte { return append(appendStrHeader(b, len(s)), s...) }

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 128:
		return append(b, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
	}
}
