package calllog

import (
	"encoding/binary"
	"strconv"
	"time"
)

// batchEncoder builds the arguments of one script call: the batch's entries
// as one MessagePack payload (the script unpacks it with cmsgpack) instead
// of some thirty arguments per entry. That was most of the client's cost per
// entry (an interface value, and so an allocation, per argument, plus go-redis
// writing each) and a good part of Redis's (one object per argument). The
// summary updates of a call's entries are merged here, once per call and
// batch, so the script runs one HSET per call instead of one per entry and
// does no per-entry table work. The encoder's buffers are reused from batch
// to batch.
//
// Payload: [entries, calls, first seq, last seq] (seqs as decimal strings);
// entries is one flat array, per entry: call index (1-based), n, then the n
// strings of its stream field/value pairs (a table per entry cost the script
// about a fifth of its time); a call is
//
//	[last seq, first seq, summary field/value pairs, nodes to append to
//	 the stored path ("" none), events, errors]
type batchEncoder struct {
	// replay: the batch comes from the spool, so the script looks every
	// call's mark up (see writeScript) instead of trusting the order key.
	replay bool
	buf    []byte
	set    []string // summary pairs of one entry (scratch)
	names  []string // sorted extra field names of one entry (scratch)
	calls  map[string]int
	sums   []callSummary
	keys   []string
}

// callSummary is the merged summary update of one call's entries in a
// batch: what one HSET per entry, in order, would leave.
type callSummary struct {
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

// encode appends the payload for recs (all of one shard and one writer, in
// sequence order) and returns it with the script's KEYS: the stream, the
// writer's order key, and per distinct call its dedupe hash and its summary
// hash (the dedupe hash again when summaries are off, so every key stays in
// the shard's slot). The returned slices are valid until the next encode
// with the same encoder.
func (e *batchEncoder) encode(k Keys, shard int, recs []record) (payload []byte, keys []string) {
	if e.calls == nil {
		e.calls = make(map[string]int)
	}
	clear(e.calls)
	e.keys = append(e.keys[:0], k.StreamKey(shard), k.orderKey(shard, recs[0].Writer))
	b := append(e.buf[:0], 0x94) // fixarray of 4
	// One flat array for all entries: [call index, n, n field/value
	// strings]...; a table per entry cost the script more than the XADD.
	nflat := 0
	for i := range recs {
		nflat += 2 + 18 + 2*len(recs[i].Fields)
	}
	b = appendArrayLen(b, nflat)
	for i := range recs {
		r := &recs[i]
		ci, ok := e.calls[r.Call]
		if !ok {
			ci = len(e.calls) + 1
			e.calls[r.Call] = ci
			dkey := k.DedupeKey(r.Call)
			skey := k.SummaryKey(r.Call)
			if skey == "" {
				skey = dkey
			}
			e.keys = append(e.keys, dkey, skey)
			if len(e.sums) < ci {
				e.sums = append(e.sums, callSummary{})
			}
			e.sums[ci-1].reset(r.Seq)
		}
		c := &e.sums[ci-1]
		if k.Summary != "" {
			u := r.summaryInto(e.set, e.names)
			e.set = u.set
			c.merge(r.Seq, &u)
		} else {
			c.last = r.Seq
			c.events++
		}
		b = appendUint(b, uint64(ci))
		b = e.appendStream(b, r)
	}
	b = appendArrayLen(b, len(e.calls))
	for i := range len(e.calls) {
		c := &e.sums[i]
		b = append(b, 0x96) // fixarray of 6
		b = appendSeq(b, c.last)
		b = appendSeq(b, c.first)
		n := len(c.set)
		if c.pathKnown {
			c.put(SumPath, string(c.path))
			n = len(c.set)
		}
		b = appendArrayLen(b, n)
		for _, s := range c.set {
			b = appendStr(b, s)
		}
		if c.pathKnown || k.Summary == "" {
			b = appendStr(b, "")
		} else {
			b = appendStrBytes(b, c.path)
		}
		b = appendUint(b, uint64(c.events))
		b = appendUint(b, uint64(c.errors))
	}
	b = appendSeq(b, recs[0].Seq)
	b = appendSeq(b, recs[len(recs)-1].Seq)
	clear(e.set[:cap(e.set)]) // pins no entry's strings until the next batch
	for i := range len(e.calls) {
		clear(e.sums[i].set[:cap(e.sums[i].set)])
	}
	e.buf = b
	return b, e.keys
}

func appendSeq(b []byte, seq uint64) []byte {
	var num [20]byte
	return appendStrBytes(b, strconv.AppendUint(num[:0], seq, 10))
}

// appendStream appends the stream entry's field/value pairs, the same list
// and order as record.streamFields, without building it.
func (e *batchEncoder) appendStream(b []byte, r *record) []byte {
	e.names = appendSortedKeys(e.names[:0], r.Fields)
	b = appendUint(b, uint64(18+2*len(e.names)))
	b = appendStr(b, FieldVersion)
	b = appendStr(b, SchemaVersion)
	b = appendStr(b, FieldID)
	var num [20]byte
	seq := strconv.AppendUint(num[:0], r.Seq, 10)
	b = appendStrHeader(b, len(r.Writer)+1+len(seq))
	b = append(b, r.Writer...)
	b = append(b, '-')
	b = append(b, seq...)
	b = appendStr(b, FieldCall)
	b = appendStr(b, r.Call)
	b = appendStr(b, FieldFlow)
	b = appendStr(b, r.Flow)
	b = appendStr(b, FieldFlowVersion)
	b = appendStr(b, r.FlowV)
	b = appendStr(b, FieldNode)
	b = appendStr(b, r.Node)
	b = appendStr(b, FieldKind)
	b = appendStr(b, r.Kind)
	b = appendStr(b, FieldValue)
	b = appendStr(b, r.Value)
	b = appendStr(b, FieldTime)
	var ts [64]byte
	b = appendStrBytes(b, r.time().AppendFormat(ts[:0], time.RFC3339Nano))
	for _, k := range e.names {
		if reservedFields[k] {
			b = appendStrHeader(b, 2+len(k))
			b = append(b, "x_"...)
			b = append(b, k...)
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
