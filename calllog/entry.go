package calllog

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"
)

// SchemaVersion is the value of the "v" field of every stream entry and of
// every summary hash. It changes only when a field changes meaning or goes
// away; new optional fields do not bump it.
const SchemaVersion = "1"

// Stream entry field names (schema v1). See the package documentation.
const (
	FieldVersion     = "v"
	FieldID          = "id"
	FieldCall        = "call"
	FieldFlow        = "flow"
	FieldFlowVersion = "flow_version"
	FieldNode        = "node"
	FieldKind        = "kind"
	FieldValue       = "value"
	FieldTime        = "ts"
)

// reservedFields are the core names; an Entry.Fields key equal to one of them
// is written as "x_<name>" so it can never overwrite a core field.
var reservedFields = map[string]bool{
	FieldVersion: true, FieldID: true, FieldCall: true, FieldFlow: true,
	FieldFlowVersion: true, FieldNode: true, FieldKind: true, FieldValue: true, FieldTime: true,
}

// Entry is one event of one call.
type Entry struct {
	Call        string            // call uuid
	Flow        string            // flow name
	FlowVersion string            // flow version the call started on
	Node        string            // node id in the flow
	Kind        Kind              // one of the declared kinds (see Kind)
	Value       string            // the main value of the event (digit, node kind, crm outcome, ...)
	Fields      map[string]string // extra values (caller, called, cause, path, disposition, ...)
	Time        time.Time         // when it happened; zero means "when Append was called"
}

// record is an Entry with its stable identity: the writer that created it and
// that writer's sequence number. It is the unit of the spool and of the Lua
// write, and its identity survives process restarts because it is spooled.
type record struct {
	Writer string            `json:"w"`
	Seq    uint64            `json:"s"`
	Call   string            `json:"c"`
	Flow   string            `json:"f,omitempty"`
	FlowV  string            `json:"fv,omitempty"`
	Node   string            `json:"n,omitempty"`
	Kind   string            `json:"k"`
	Value  string            `json:"v,omitempty"`
	Fields map[string]string `json:"x,omitempty"`
	TimeNs int64             `json:"t"`
	// legacy marks a record read from a spool line without checksum (written
	// before spool records had one, by a writer without a mark file): no
	// gap count for it.
	legacy bool
	// fieldBytes is 1 + the bytes of Fields' names and values, counted when
	// the map is copied (0: not counted, a record read from the spool):
	// payloadBound needs it for every record, twice per batch, and a map
	// iteration each time was a tenth of the writer's CPU.
	fieldBytes int
}

func newRecord(writer string, seq uint64, e Entry) record {
	var fields map[string]string
	fsize := 0
	if len(e.Fields) > 0 {
		// Copy so the caller may reuse its map after Append returns.
		fields = make(map[string]string, len(e.Fields))
		for k, v := range e.Fields {
			fields[k] = v
			fsize += len(k) + len(v)
		}
	}
	return record{
		Writer: writer, Seq: seq,
		Call: e.Call, Flow: e.Flow, FlowV: e.FlowVersion, Node: e.Node,
		Kind: string(e.Kind), Value: e.Value, Fields: fields, TimeNs: e.Time.UnixNano(),
		fieldBytes: fsize + 1,
	}
}

// id is the stable entry id written in the "id" field: unique per entry,
// identical on every replay.
func (r *record) id() string { return r.Writer + "-" + strconv.FormatUint(r.Seq, 10) }

func (r *record) time() time.Time { return time.Unix(0, r.TimeNs).UTC() }

// FormatTime is how "ts" and the summary's times are written: RFC 3339 in UTC
// with nanoseconds (trailing zeros trimmed).
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// streamFields returns the flat field/value list of the stream entry, in a
// stable order: core fields first, then extra fields sorted by name.
func (r *record) streamFields() []string {
	out := make([]string, 0, 18+2*len(r.Fields))
	out = append(out,
		FieldVersion, SchemaVersion,
		FieldID, r.id(),
		FieldCall, r.Call,
		FieldFlow, r.Flow,
		FieldFlowVersion, r.FlowV,
		FieldNode, r.Node,
		FieldKind, r.Kind,
		FieldValue, r.Value,
		FieldTime, FormatTime(r.time()),
	)
	for _, k := range sortedKeys(r.Fields) {
		name := k
		if reservedFields[k] {
			name = "x_" + k
		}
		out = append(out, name, r.Fields[k])
	}
	return out
}

// Summary hash field names (schema v1).
const (
	SumVersion     = "v"
	SumCall        = "call"
	SumFlow        = "flow"
	SumFlowVersion = "flow_version"
	SumCaller      = "caller"
	SumCalled      = "called"
	SumStart       = "start"
	SumAnswer      = "answer"
	SumEnd         = "end"
	SumPath        = "path"
	SumOutcome     = "outcome"
	SumHangupCause = "hangup_cause"
	SumCRMOutcome  = "crm_outcome"
	SumLastNode    = "last_node"
	SumLastKind    = "last_kind"
	SumUpdated     = "updated"
	SumEvents      = "events"
	SumErrors      = "errors"
	SumLastError   = "last_error"
	SumBridge      = "bridge"
	SumTransfer    = "transfer"
)

// PathSeparator joins node ids in the summary's "path".
const PathSeparator = ">"

// summaryUpdate is what one entry changes in its call's summary hash.
type summaryUpdate struct {
	set        []string // field, value pairs (HSET)
	pathAppend string   // node id appended to "path" (with PathSeparator)
	isError    bool     // HINCRBY errors 1
}

// summary derives the summary update from the entry kind. Extra Fields of
// call_start and hangup are copied verbatim (so the runtime can add e.g.
// "disposition"), except that they never overwrite the fields set here.
func (r *record) summary() summaryUpdate { return r.summaryInto(FormatTime(r.time()), nil, nil) }

// summaryInto is summary appending the pairs to set[:0] (a scratch slice
// reused across entries) and using keys as scratch for the sorted extra
// field names: the write path derives one summary per entry, and a slice, a
// map and two closures per entry were most of its allocations.
// ts is the entry's time as FormatTime writes it (the encoder formats it
// once for the stream entry and the summary).
func (r *record) summaryInto(ts string, set, keys []string) summaryUpdate {
	u := summaryUpdate{set: append(set[:0],
		SumVersion, SchemaVersion,
		SumCall, r.Call,
		SumLastKind, r.Kind,
		SumUpdated, ts,
	)}
	if r.Flow != "" {
		u.set = append(u.set, SumFlow, r.Flow)
	}
	if r.FlowV != "" {
		u.set = append(u.set, SumFlowVersion, r.FlowV)
	}
	if r.Node != "" {
		u.set = append(u.set, SumLastNode, r.Node)
	}
	switch Kind(r.Kind) {
	case KindCallStart:
		u.add(SumStart, ts)
		u.add(SumCaller, r.Fields["caller"])
		u.add(SumCalled, r.Fields["called"])
		u.add(SumOutcome, "in_progress")
		u.copyExtra(r.Fields, keys)
	case KindAnswer:
		u.add(SumAnswer, ts)
	case KindNode:
		u.pathAppend = r.Node
	case KindCRM:
		u.add(SumCRMOutcome, firstNonEmpty(r.Fields["outcome"], r.Value))
	case KindBridge:
		u.add(SumBridge, firstNonEmpty(r.Fields["disposition"], r.Value))
	case KindTransfer:
		u.add(SumTransfer, r.Value)
	case KindError:
		u.isError = true
		u.add(SumLastError, r.Value)
	case KindHangup:
		u.add(SumEnd, ts)
		u.add(SumHangupCause, firstNonEmpty(r.Fields["cause"], r.Value))
		u.add(SumOutcome, firstNonEmpty(r.Fields["outcome"], "completed"))
		u.add(SumPath, r.Fields["path"]) // an explicit path from the runtime wins
		u.copyExtra(r.Fields, keys)
	}
	return u
}

// add sets k to v unless v is empty.
func (u *summaryUpdate) add(k, v string) {
	if v != "" {
		u.set = append(u.set, k, v)
	}
}

// owns reports whether the update already sets field k (a linear scan: a
// summary sets at most a dozen fields of its own).
func (u *summaryUpdate) owns(k string) bool {
	for i := 0; i < len(u.set); i += 2 {
		if u.set[i] == k {
			return true
		}
	}
	return false
}

// copyExtra copies the entry's extra fields, in name order, that the update
// does not set itself (and never the counters).
func (u *summaryUpdate) copyExtra(fields map[string]string, keys []string) {
	for _, k := range appendSortedKeys(keys[:0], fields) {
		if k != SumEvents && k != SumErrors && !u.owns(k) {
			u.set = append(u.set, k, fields[k])
		}
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	return appendSortedKeys(make([]string, 0, len(m)), m)
}

// appendSortedKeys appends m's keys to keys, sorted.
func appendSortedKeys(keys []string, m map[string]string) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Keys names the Redis keys of one stream family. All keys of one shard share
// the hash tag, so the Lua write (stream + dedupe + summary) stays in one
// Cluster slot.
type Keys struct {
	Namespace string // hash-tag base, e.g. "fsivr"
	Stream    string // stream name, e.g. "calls"
	Summary   string // summary name, e.g. "call"; "" = no summary hashes
	Shards    int    // number of stream shards (>= 1)
}

// Shard returns the shard of a call: FNV-1a 32 of the call uuid modulo Shards.
func (k Keys) Shard(call string) int {
	if k.Shards <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(call)) // hash.Hash never returns an error
	return int(h.Sum32() % uint32(k.Shards))
}

func (k Keys) tag(shard int) string {
	if k.Shards <= 1 {
		return "{" + k.Namespace + "}"
	}
	return fmt.Sprintf("{%s:%d}", k.Namespace, shard)
}

// StreamKey is the stream of a shard, e.g. "{fsivr}:calls" or
// "{fsivr:3}:calls".
func (k Keys) StreamKey(shard int) string { return k.tag(shard) + ":" + k.Stream }

// StreamKeys lists every shard's stream (what a consumer must read).
func (k Keys) StreamKeys() []string {
	n := max(k.Shards, 1)
	out := make([]string, n)
	for i := range out {
		out[i] = k.StreamKey(i)
	}
	return out
}

// SummaryKey is the summary hash of a call, e.g. "{fsivr}:call:<uuid>"; ""
// when summaries are off.
func (k Keys) SummaryKey(call string) string {
	if k.Summary == "" {
		return ""
	}
	return k.tag(k.Shard(call)) + ":" + k.Summary + ":" + call
}

// DedupeKey is the per-call hash of replay high-water marks, e.g.
// "{fsivr}:calls:seen:<uuid>" (internal; consumers ignore it).
func (k Keys) DedupeKey(call string) string {
	return k.StreamKey(k.Shard(call)) + ":seen:" + call
}

// orderKey holds the highest sequence of writer written to shard's stream
// (internal, TTL DedupeTTL, renewed by every batch), e.g.
// "{fsivr}:calls:seq:<writer id>". The script refuses a batch sent behind an
// unacknowledged one unless the one before it is in, and skips the per-call
// dedupe lookups for a live batch wholly above it.
func (k Keys) orderKey(shard int, writer string) string {
	return k.StreamKey(shard) + ":seq:" + writer
}
