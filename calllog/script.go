package calllog

// writeScript writes a batch of entries of one shard and one writer
// atomically: Redis runs a script to completion before serving anyone else,
// and rejects it as a whole (LOADING, OOM, READONLY, ...) before its first
// write. So a batch is either fully applied or not at all, which is what makes
// replay from the spool exactly-once together with the high-water marks
// below.
//
// Order: the writer may send several batches in one pipelined round trip.
// Each but the first names the last sequence of the batch before it (prev);
// the script refuses (OUTOFORDER, before any write) when the writer's order
// key is below it, i.e. when the batch before it was not applied (refused,
// OOM, a script cache flushed in between), so entries never land out of
// order and the writer spools everything from the first unacknowledged batch
// on.
//
// Dedupe: for each (call, writer) the hash KEYS[dedupe] keeps the highest
// sequence number already written, and the order key the highest of the
// writer in this stream. Entries reach Redis in increasing sequence order (the
// writer never reorders, see shard.go), so an entry at or below its call's
// mark was already written and is skipped. A live batch whose first sequence
// is above the order key cannot hold one (every call mark is at most the
// order key), so it costs no per-call lookup; a replayed one always reads
// each call's mark once, before any write: its writer may be the previous
// release, whose entries no order key covers, and after a segment moved back
// from quarantine the order key can be below what that writer has in Redis. Per-call marks stay the dedupe of
// record: a segment moved back from quarantine long after is written for the
// calls that have nothing newer. Batches are applied whole, so a call's
// entries in a replayed batch are normally all new or all written; if the
// mark falls inside them (a segment replayed with another BatchSize) the
// script refuses with PARTIAL before writing and the writer splits the
// batch in halves until no part is PARTIAL.
//
// A call's dedupe hash gets its TTL when a writer's first mark goes in, not
// again with every batch (one command per call and batch less): the marks
// of a call live DedupeTTL from its first entry by that writer.
//
// Summaries come merged per call (batchEncoder): one HSET of the fields the
// batch's entries set (later entries win, as with one HSET each), the path
// read only when nodes are appended to the stored one, one HINCRBY of
// events, one EXPIRE.
//
// The payload (batchEncoder) is read one record at a time with
// cmsgpack.unpack_limit, straight into the arguments of a Lua function that
// passes an entry's extra fields (a summary's pairs) on to XADD (HSET) as
// they come: no Lua table per entry, no table insertion per value, and the
// batch's repeated strings (flow, flow_version, node, kind, value, call
// uuids) arrive once, in the string table S. The stream's field names are
// constants here, in the order of record.streamFields. The header (string
// table, per-call sequences) is read, and every refusal decided, before the
// first write; the rest is the encoder's own output, which Redis delivers
// whole (TestEncodeStreamFieldsMatchSchema reads it back as the script does,
// TestReviewSameResultAsPreviousScript compares what Redis ends up with
// against the per-entry script of an earlier release).
//
// The stream is trimmed once per batch (XTRIM MAXLEN ~) instead of by every
// XADD: the same approximate cap, and three arguments and a rewrite of the
// trim argument less per entry. The XTRIM is the script's last command: a
// user whose ACL lacks it (written for the XADD MAXLEN of before) had every
// batch's entries written without their marks, and appended again by every
// replay. Now the trim is the last command, run with redis.pcall: a refused
// one leaves the batch written, and is counted and logged
// (TestTrimRefusedWritesEachEntryOnce).
//
// KEYS: [1] stream, [2] order key of the writer, then per call: dedupe hash,
// summary hash (the dedupe hash again when summaries are off).
// ARGV: [1] MAXLEN (approximate), [2] dedupe TTL s, [3] summary TTL s,
// [4] writer, [5] prev ("" = no order check), [6] summaries "1"/"0",
// [7] "1" = a replayed batch: look the marks up even above the order key,
// [8] the batch (MessagePack, see batchEncoder; absent = a probe). A
// server without cmsgpack.unpack_limit (an emulator; every Redis with
// streams has it) fails the probe too, loudly, instead of every batch.
// Returns {written, duplicates, trimmed}: trimmed is 0 when the XTRIM was
// refused (the Redis user may not run it; the stream then grows past MaxLen,
// counted in Stats.TrimRefused and logged once).
const writeScript = `
local stream = KEYS[1]
local okey = KEYS[2]
local p = ARGV[8]
if not cmsgpack.unpack_limit then
  return redis.error_reply('NOUNPACK calllog: this server has no cmsgpack.unpack_limit (Redis 5.0 and later have it)')
end
if p == nil or p == '' then return {0, 0} end
local writer = ARGV[4]
local prev = ARGV[5]
local up = cmsgpack.unpack_limit
local rcall = redis.call
local o, bfirst, blast, nents, ncalls, nextn, S, C = up(p, 7, 0)
local lastS = rcall('GET', okey)
local last = tonumber(lastS or '0')
if prev ~= '' and last < tonumber(prev) then
  return redis.error_reply('OUTOFORDER calllog: batch of ' .. writer .. ' follows ' .. prev .. ', Redis has ' .. tostring(lastS))
end
local skip = {}
-- A replayed batch, or no order key (a new writer, or the key lost): look
-- every call's mark up.
if ARGV[7] == '1' or not (lastS and tonumber(bfirst) > last) then
  for ci = 1, ncalls do
    local m = tonumber(rcall('HGET', KEYS[1 + 2 * ci], writer) or '-1')
    if m >= tonumber(C[3 * ci - 1]) then
      skip[ci] = true
    elseif m >= tonumber(C[3 * ci - 2]) then
      return redis.error_reply('PARTIAL calllog: a call of the batch is partly written already')
    end
  end
end
local U = {}
for ci = 1, ncalls do U[ci] = S[C[3 * ci]] end
local written = 0
local dup = 0
-- One entry: what one unpack_limit returned (the next offset, then the
-- entry's record, whose first value is the size of the next record), its
-- extra fields passed on to XADD as they come.
local function xadd(o2, n, ci, id, ts, f, fv, nd, kd, vl, ...)
  o = o2
  nextn = n
  if skip[ci] then
    dup = dup + 1
  else
    rcall('XADD', stream, '*', 'v', '1', 'id', id, 'call', U[ci], 'flow', S[f], 'flow_version', S[fv],
      'node', S[nd], 'kind', S[kd], 'value', S[vl], 'ts', ts, ...)
    written = written + 1
  end
end
for _ = 1, nents do xadd(up(p, nextn, o)) end
local dttl = ARGV[2]
local sttl = ARGV[3]
for ci = 1, ncalls do
  if not skip[ci] then
    local dkey = KEYS[1 + 2 * ci]
    if rcall('HSET', dkey, writer, C[3 * ci - 1]) == 1 then rcall('EXPIRE', dkey, dttl) end
  end
end
-- One call's summary: the record's counts, then its field/value pairs
-- passed on to HSET as they come.
local ci = 0
local function summary(o2, n, nodes, ev, er, ...)
  o = o2
  nextn = n
  ci = ci + 1
  if skip[ci] then return end
  local skey = KEYS[2 + 2 * ci]
  if nodes ~= '' then
    local path = rcall('HGET', skey, 'path')
    if path and path ~= '' then path = path .. '>' .. nodes else path = nodes end
    rcall('HSET', skey, 'path', path, ...)
  elseif select('#', ...) > 0 then
    rcall('HSET', skey, ...)
  end
  rcall('HINCRBY', skey, 'events', ev)
  if er > 0 then rcall('HINCRBY', skey, 'errors', er) end
  rcall('EXPIRE', skey, sttl)
end
if ARGV[6] == '1' then
  for _ = 1, ncalls do summary(up(p, nextn, o)) end
end
if written > 0 and tonumber(blast) > last then
  rcall('SET', okey, blast, 'EX', dttl)
end
-- Last, and caught: a script error does not undo the writes before it, so
-- nothing that can be refused (XTRIM is a command an ACL may lack) may come
-- between the entries and their marks, and a refused trim must not fail a
-- batch that is written (its replay would only find duplicates).
local trimmed = 1
if written > 0 then
  local r = redis.pcall('XTRIM', stream, 'MAXLEN', '~', ARGV[1])
  if type(r) == 'table' and r.err then trimmed = 0 end
end
return {written, dup, trimmed}
`
