// Package calllog writes call logs to Redis Streams off the call path, with
// an on-disk spool so that nothing is lost when Redis is down, slow or
// restarting, and follows them with consumer groups (Tail, `ivrctl tail`).
//
// # Schema (version 1) — a contract for consumers
//
// Keys (defaults; Namespace "fsivr", Stream "calls", Summary "call"):
//
//	{fsivr}:calls              stream of call events (XADD ... MAXLEN ~ MaxLen)
//	{fsivr}:call:<call uuid>   summary hash of one call, TTL SummaryTTL (renewed by each entry)
//	{fsivr}:calls:seen:<uuid>  internal replay high-water marks (ignore)
//
// With Shards = N > 1 the tag carries the shard: "{fsivr:<k>}:calls",
// "{fsivr:<k>}:call:<uuid>", where k = FNV-1a-32(call uuid) mod N (Keys.Shard).
// Every key of one call shares one hash tag, so one Lua script can touch the
// stream, the summary and the dedupe hash in Redis Cluster.
//
// Stream entry fields (all strings; all core fields always present, possibly
// empty):
//
//	v             schema version, "1"
//	id            stable entry id "<writer id>-<seq>", unique; identical if an
//	              entry is ever written twice (consumers may dedupe by it)
//	call          call uuid (FreeSWITCH Unique-ID)
//	flow          flow name
//	flow_version  flow version the call runs on
//	node          node id in the flow ("" for call-level events)
//	kind          call_start, answer, node, dtmf, menu, crm, time_rule, bridge,
//	              transfer, fifo, hangup, error; consumers skip unknown kinds
//	value         the event's main value (digit, crm outcome, rule name, ...)
//	ts            event time, RFC 3339 UTC with up to ns ("2026-11-23T13:47:45.123Z")
//	<name>        every Entry.Fields key verbatim (caller, called, cause, path,
//	              disposition, ...); a key that equals a core name is written
//	              as "x_<name>"
//
// Summary hash fields (set by the writer from the entries themselves):
//
//	v, call, flow, flow_version, last_node, last_kind, updated   every entry
//	events        number of entries of the call              every entry
//	start, caller, called, outcome=in_progress                call_start (+ its Fields)
//	answer        answer time                                 answer
//	path          node ids joined by ">"                      node (hangup Fields["path"] overrides)
//	crm_outcome   Fields["outcome"] or value                  crm
//	bridge        Fields["disposition"] or value              bridge
//	transfer      value                                       transfer
//	errors, last_error                                        error
//	end, hangup_cause (Fields["cause"] or value),
//	outcome (Fields["outcome"] or "completed")                hangup (+ its Fields)
//
// Times in the summary use the same format as "ts".
//
// # Consumers
//
// Read with a consumer group and acknowledge after processing:
//
//	XGROUP CREATE {fsivr}:calls billing $ MKSTREAM
//	XREADGROUP GROUP billing worker-1 COUNT 100 BLOCK 5000 STREAMS {fsivr}:calls >
//	XACK {fsivr}:calls billing <stream id> ...
//	XAUTOCLAIM {fsivr}:calls billing worker-1 60000 0-0 COUNT 100   (take over a dead worker's entries)
//
// On restart a worker first reads its own pending entries with id 0 instead
// of ">". Delivery is at-least-once; dedupe by "id" if that matters.
//
// # Writer guarantees
//
// Append never does network I/O and never waits for Redis or for the writer
// goroutine: it takes a mutex held only for O(1) queue work. When QueueSize
// entries already wait (Redis slow or down), it hands the whole queue to a
// spiller goroutine that writes it to the spool; only when that goroutine is
// more than 16*QueueSize entries behind (the disk cannot keep up) does Append
// write to the spool itself (write(2) into the page cache, no fsync): bounded
// memory through back-pressure from the disk, never from Redis. The tests
// assert that no Append took longer than AppendBound while Redis was
// SIGKILLed and restarted under load.
//
// One goroutine sends the queue to Redis: one EVALSHA per shard per batch of
// up to BatchSize entries, pipelined. A batch script is atomic (Redis rejects
// a script as a whole before it writes, e.g. LOADING or OOM, and runs it
// without interleaving), so a batch is applied entirely or not at all. If a
// batch fails or exceeds WriteTimeout, it and everything after it go to the
// spool (append-only JSON-lines segment files, fsynced by the writer), and
// the writer probes Redis every RetryInterval; when Redis answers it replays
// the segments in order and returns to direct writes only once the spool is
// empty. So entries reach Redis in Append order (per call, and globally per
// writer).
//
// Exactly once: every entry carries a stable identity (writer id, sequence
// number) that is spooled with it. The script keeps, per call and writer, the
// highest sequence already written (hash "<stream>:seen:<uuid>", TTL
// DedupeTTL) and skips entries at or below it. Because entries reach Redis in
// sequence order, that high-water mark is exact, costs one small hash per
// call (not a key per entry), and works with any number of writers: stream
// ids stay Redis-generated ("*"), since explicit XADD ids must increase per
// stream and several writers would collide.
//
// Losses are possible only if Redis is unavailable and the spool cannot be
// written at the same time (disk full, I/O error): then entries are counted
// in fsivr_calllog_entries_lost_total and logged at error level, never
// silently dropped. Entries appended after Close are counted the same way.
//
// Without a Redis client (nil) the writer still works: entries go to the
// spool (and to Config.Tee), and a later Writer with Redis replays them.
package calllog

import "time"

// AppendBound is the documented worst case of one Append call. It is a
// correctness bound (Append must never wait on Redis), not a performance
// target: typical Appends take about a microsecond; the margin covers
// scheduling delays on a loaded machine under the race detector.
const AppendBound = time.Second
