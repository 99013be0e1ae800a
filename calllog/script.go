package calllog

// writeScript writes a batch of entries of one shard atomically: Redis runs a
// script to completion before serving anyone else, and rejects it as a whole
// (LOADING, OOM, READONLY, ...) before its first write. So a batch is either
// fully applied or not at all, which is what makes replay from the spool
// exactly-once together with the high-water mark below.
//
// Dedupe: for each (call, writer) the hash KEYS[dedupe] keeps the highest
// sequence number already written. Entries of a call reach Redis in
// increasing sequence order (the writer never reorders, see writer.go), so an
// entry whose seq is <= that mark was already written and is skipped.
//
// KEYS: [1] stream, then per entry: dedupe hash, summary hash (the dedupe key
// again when summaries are off, so every key stays in the shard's slot).
// ARGV: [1] MAXLEN (approximate), [2] dedupe TTL s, [3] summary TTL s, then
// per entry: writer, seq, nfields, fields..., nset, set pairs...,
// path-append node, is-error "1"/"0", has-summary "1"/"0".
// Returns {written, duplicates}.
const writeScript = `
local stream = KEYS[1]
local maxlen = ARGV[1]
local dttl = tonumber(ARGV[2])
local sttl = tonumber(ARGV[3])
local a = 4
local k = 2
local written = 0
local dup = 0
-- Per batch, not per entry: each dedupe mark is read once, written and
-- expired once at the end; each summary gets one HINCRBY and one EXPIRE.
local marks = {}
local markOrder = {}
local events = {}
local sumOrder = {}
while a <= #ARGV do
  local dkey = KEYS[k]
  local skey = KEYS[k + 1]
  k = k + 2
  local writer = ARGV[a]
  local seqs = ARGV[a + 1]
  local seq = tonumber(seqs)
  local nf = tonumber(ARGV[a + 2])
  local fstart = a + 3
  a = fstart + nf
  local ns = tonumber(ARGV[a])
  local sstart = a + 1
  a = sstart + ns
  local node = ARGV[a]
  local iserr = ARGV[a + 1]
  local hassum = ARGV[a + 2]
  a = a + 3
  local mk = dkey .. '\n' .. writer
  local m = marks[mk]
  if m == nil then
    local last = redis.call('HGET', dkey, writer)
    m = {key = dkey, writer = writer, seq = tonumber(last or '-1'), seqs = nil}
    marks[mk] = m
    markOrder[#markOrder + 1] = mk
  end
  if m.seq >= seq then
    dup = dup + 1
  else
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', unpack(ARGV, fstart, fstart + nf - 1))
    m.seq = seq
    m.seqs = seqs
    if hassum == '1' then
      if ns > 0 then redis.call('HSET', skey, unpack(ARGV, sstart, sstart + ns - 1)) end
      if events[skey] == nil then
        events[skey] = 0
        sumOrder[#sumOrder + 1] = skey
      end
      events[skey] = events[skey] + 1
      if node ~= '' then
        local p = redis.call('HGET', skey, 'path')
        if p and p ~= '' then p = p .. '>' .. node else p = node end
        redis.call('HSET', skey, 'path', p)
      end
      if iserr == '1' then redis.call('HINCRBY', skey, 'errors', 1) end
    end
    written = written + 1
  end
end
for _, mk in ipairs(markOrder) do
  local m = marks[mk]
  if m.seqs ~= nil then
    redis.call('HSET', m.key, m.writer, m.seqs)
    redis.call('EXPIRE', m.key, dttl)
  end
end
for _, skey in ipairs(sumOrder) do
  redis.call('HINCRBY', skey, 'events', events[skey])
  redis.call('EXPIRE', skey, sttl)
end
return {written, dup}
`
