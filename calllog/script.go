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
// KEYS: [1] stream, [2] order key of the writer, then per call: dedupe hash,
// summary hash (the dedupe hash again when summaries are off).
// ARGV: [1] MAXLEN (approximate), [2] dedupe TTL s, [3] summary TTL s,
// [4] writer, [5] prev ("" = no order check), [6] summaries "1"/"0",
// [7] "1" = a replayed batch: look the marks up even above the order key,
// [8] the batch (MessagePack, see batchEncoder; absent = a probe).
// Returns {written, duplicates}.
const writeScript = `
local stream = KEYS[1]
local okey = KEYS[2]
local payload = ARGV[8]
if payload == nil or payload == '' then return {0, 0} end
local maxlen = ARGV[1]
local dttl = ARGV[2]
local sttl = ARGV[3]
local writer = ARGV[4]
local prev = ARGV[5]
local hassum = ARGV[6] == '1'
local batch = cmsgpack.unpack(payload)
local ents = batch[1]
local calls = batch[2]
local lastS = redis.call('GET', okey)
local last = tonumber(lastS or '0')
if prev ~= '' and last < tonumber(prev) then
  return redis.error_reply('OUTOFORDER calllog: batch of ' .. writer .. ' follows ' .. prev .. ', Redis has ' .. tostring(lastS))
end
local skip = {}
-- A replayed batch, or no order key (a new writer, or the key lost): look
-- every call's mark up.
if ARGV[7] == '1' or not (lastS and tonumber(batch[3]) > last) then
  for ci = 1, #calls do
    local c = calls[ci]
    local m = tonumber(redis.call('HGET', KEYS[1 + 2 * ci], writer) or '-1')
    if m >= tonumber(c[1]) then
      skip[ci] = true
    elseif m >= tonumber(c[2]) then
      return redis.error_reply('PARTIAL calllog: a call of the batch is partly written already')
    end
  end
end
local written = 0
local dup = 0
local i = 1
local nents = #ents
while i <= nents do
  local n = ents[i + 1]
  if skip[ents[i]] then
    dup = dup + 1
  else
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', unpack(ents, i + 2, i + 1 + n))
    written = written + 1
  end
  i = i + 2 + n
end
for ci = 1, #calls do
  if not skip[ci] then
    local c = calls[ci]
    local dkey = KEYS[1 + 2 * ci]
    if redis.call('HSET', dkey, writer, c[1]) == 1 then redis.call('EXPIRE', dkey, dttl) end
    if hassum then
      local skey = KEYS[2 + 2 * ci]
      local set = c[3]
      if c[4] ~= '' then
        local p = redis.call('HGET', skey, 'path')
        if p and p ~= '' then p = p .. '>' .. c[4] else p = c[4] end
        set[#set + 1] = 'path'
        set[#set + 1] = p
      end
      if #set > 0 then redis.call('HSET', skey, unpack(set)) end
      redis.call('HINCRBY', skey, 'events', c[5])
      if c[6] > 0 then redis.call('HINCRBY', skey, 'errors', c[6]) end
      redis.call('EXPIRE', skey, sttl)
    end
  end
end
if written > 0 and tonumber(batch[4]) > last then
  redis.call('SET', okey, batch[4], 'EX', dttl)
end
return {written, dup}
`
