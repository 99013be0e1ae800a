// Package calllog writes call logs to Redis Streams off the call path, with
// an on-disk spool so that nothing is lost when Redis is down, slow or
// restarting, and follows them with consumer groups (Tail, `ivrctl tail`).
//
// # Schema (version 1) — a contract for consumers
//
// Keys (defaults; Namespace "fsivr", Stream "calls", Summary "call"):
//
//	{fsivr}:calls              stream of call events (XADD; XTRIM MAXLEN ~ MaxLen per batch)
//	{fsivr}:call:<call uuid>   summary hash of one call, TTL SummaryTTL (renewed by each entry)
//	{fsivr}:calls:seen:<uuid>  internal replay high-water marks (ignore)
//	{fsivr}:calls:seq:<writer> internal: highest sequence of a writer in the stream (ignore)
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
// Append never does network I/O and never waits for Redis or for a writer
// goroutine: it takes its shard's mutex for O(1) queue work. While its shard
// spools (Redis down or slow, or the queue full), Append waits until the
// shard's spiller goroutine has written the entry to the spool (group commit:
// one write(2) into the page cache for every waiting entry; the writer
// fsyncs), at most AppendBound/10: back-pressure from the disk, never from
// Redis, and an entry appended while Redis is known to be down survives a
// crash of the process unless the disk stalled past that wait.
// The tests assert that no Append took longer than AppendBound while Redis was
// SIGKILLed and restarted under load.
//
// Each shard (Config.Shards) has its own queue, spool segments, probe and
// goroutine: one EVALSHA per batch of up to BatchSize entries (the entries as
// one MessagePack argument of at most about 1 MiB, the least Redis's
// proto-max-bulk-len can be; the summary updates merged per call), routed by
// the shard's hash tag, so in a Redis Cluster a dead master spools only the
// entries of its own shards while the others keep writing. Whatever is queued
// goes in pipelined round trips of 1, 2, 4, then up to 8 batches, each round
// encoded while the one before it is in flight and sent once that one is
// acknowledged; each batch after the first of a round names the last
// sequence of the one before it, and the script refuses it (OUTOFORDER)
// unless that one is in, so what Redis acknowledges is always a prefix. Below a batch, the goroutine first waits up to FlushDelay
// (default 5ms) for more entries: fewer round trips per entry at moderate
// rates; Close and Append never wait for it. A batch script is
// atomic (Redis rejects a script as a whole before it writes, e.g. LOADING or
// OOM, and runs it without interleaving), so a batch is applied entirely or
// not at all. If a batch fails or exceeds WriteTimeout, it, the batches sent
// behind it and everything after them in that shard go to the spool, and the shard probes its node every
// RetryInterval (an empty EVALSHA, EVAL when the node's script cache is
// empty); when it answers the shard replays its segments in order and returns
// to direct writes once none of them is left on disk. So entries reach Redis
// in Append order per call and per shard. WriteTimeout is enforced through the
// client (NewRedisClient sets ContextTimeoutEnabled; otherwise the client's
// ReadTimeout bounds a hanging Redis).
//
// Exactly once: every entry carries a stable identity (writer id, sequence
// number) that is spooled with it. The script keeps, per call and writer, the
// highest sequence already written (hash "<stream>:seen:<uuid>", TTL
// DedupeTTL from the call's first entry by that writer) and skips entries at
// or below it; a live batch wholly above the writer's highest sequence in the
// stream ("<stream>:seq:<writer>") skips the lookups. Because entries reach
// Redis in sequence order, that high-water mark is exact, costs one small
// hash per call (not a key per entry), and works with any number of writers: stream
// ids stay Redis-generated ("*"), since explicit XADD ids must increase per
// stream and several writers would collide. Counters are exact too: after a
// NOSCRIPT only the refused script call is sent again.
//
// # The spool
//
// One Writer per spool directory: NewWriter takes an exclusive flock on
// SpoolDir/.lock and fails with ErrSpoolLocked if another writer (another
// process, e.g. a new ivrd while the old one drains) holds it; the kernel
// drops the lock when the process dies. Segments are append-only files, one
// record per line with a CRC-32C: a line that fails its checksum (a flipped
// bit, a torn write) is skipped and counted (Stats.Corrupt), never decoded, so
// damage cannot pass for a duplicate. Replay is driven by what is on disk:
// segments removed behind the writer end its spooling (their entries are
// counted lost when the writer knows how many there were) instead of making it
// spin. A segment that cannot be read (permissions, a line over 1 MiB, an I/O
// error) is moved to SpoolDir/quarantine/, counted (Stats.Quarantined) and
// logged, and replay goes on; move a repaired segment back to replay it
// (replay is idempotent). Close is bounded: it returns about when its ctx
// ends, at most one WriteTimeout later, leaving in the spool what Redis did
// not take.
//
// # What can be lost, and what is counted
//
//   - Redis unavailable and the spool unwritable at once (disk full, I/O
//     error): counted in fsivr_calllog_entries_lost_total and logged at error
//     level, never silently. Appends after Close and spool files removed
//     under the writer count the same way.
//   - The window before the writer knows Redis is down: the entries of the
//     write in progress (what was queued when it began, sent in rounds of
//     1, 2, 4, then 8 batches, each round once the one before is
//     acknowledged) and the queue behind them (at most 2 × QueueSize
//     entries per shard; a round unanswered for WriteTimeout ends the
//     write, FlushDelay + WriteTimeout after Redis stopped answering at
//     most) are only in memory. A SIGKILL of
//     the process in that window loses them; the next writer on the spool
//     counts them as sequence gaps (fsivr_calllog_entries_missing_total, per
//     writer id, from its "<writer id>.mark" file and its segments) when later
//     entries of the dead writer were spooled. (The mark file is written
//     before a writer's records go to the spool and while it spools, not per
//     batch: the count only compares it with segments.) Entries at the very end of a
//     dead writer's life cannot be told from entries never appended.
//   - Redis's own acknowledgement: a write is acknowledged by the master that
//     ran the script. Replication is asynchronous, and the writer does not
//     send WAIT, so in a failover (Redis Cluster or Sentinel) the writes the
//     old master acknowledged but had not yet sent to the promoted replica are
//     lost by Redis, and the writer cannot know (its high-water marks are lost
//     with them, so nothing is counted). The window is the replication lag,
//     usually milliseconds. Run with appendonly and "min-replicas-to-write 1"
//     / "min-replicas-max-lag" to bound it on the Redis side; a WAIT after
//     each batch would shrink it further at the cost of one replica round trip
//     per batch, and still not make it zero (WAIT does not make a write
//     durable, it only reports how many replicas had it).
//   - Limits: entries of a call beyond MaxEntriesPerCall are dropped and
//     values beyond MaxValueBytes cut (call_start and hangup always pass),
//     counted in fsivr_calllog_entries_capped_total and
//     fsivr_calllog_values_truncated_total and logged once per call, so one
//     flooding peer cannot fill the log and the spool for every other call.
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
