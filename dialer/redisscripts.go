package dialer

import "github.com/redis/go-redis/v9"

// The Lua scripts of RedisStore. Every key of a campaign shares the hash tag
// "{camp:<id>}", so each script runs in one Cluster slot; contact and
// attempt hashes are reached from the prefix passed in ARGV[1] (same tag).
// Error replies start with a code the Go side maps to a sentinel.

// scriptCreate: KEYS meta; ARGV prefix, limit.
var scriptCreate = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'running', 'contacts', 0, 'started', 0, 'retrying', 0)
end
redis.call('HSET', KEYS[1], 'limit', ARGV[2])
return 1
`)

// scriptAdd: KEYS meta, due; ARGV prefix, then (id, json, due ms) triples.
var scriptAdd = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOCAMPAIGN') end
local added = 0
for i = 2, #ARGV, 3 do
  local ck = ARGV[1] .. 'c:' .. ARGV[i]
  if redis.call('HSETNX', ck, 'j', ARGV[i+1]) == 1 then
    redis.call('HSET', ck, 'st', 'due', 'att', 0)
    redis.call('ZADD', KEYS[2], ARGV[i+2], ARGV[i])
    added = added + 1
  end
end
redis.call('HINCRBY', KEYS[1], 'contacts', added)
return added
`)

// scriptClaim: KEYS meta, due, leases; ARGV prefix, now ms, max, lease ms, owner.
var scriptClaim = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOCAMPAIGN') end
if st == 'paused' then return redis.error_reply('PAUSED') end
if st == 'cancelled' then return redis.error_reply('CANCELLED') end
local limit = tonumber(redis.call('HGET', KEYS[1], 'limit'))
local free = math.min(tonumber(ARGV[3]), limit - redis.call('ZCARD', KEYS[3]))
if free <= 0 then return {} end
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, free)
local exp = tonumber(ARGV[2]) + tonumber(ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  local ck = ARGV[1] .. 'c:' .. id
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[3], exp, id)
  if tonumber(redis.call('HGET', ck, 'att')) > 0 then
    redis.call('HINCRBY', KEYS[1], 'retrying', -1)
  end
  redis.call('HSET', ck, 'st', 'claimed', 'own', ARGV[5])
  table.insert(out, {id, redis.call('HGETALL', ck), exp})
end
return out
`)

// scriptBegin: KEYS meta, leases; ARGV prefix, owner, contact, attempt id,
// number, trunk, start ms.
var scriptBegin = redis.NewScript(`
local ck = ARGV[1] .. 'c:' .. ARGV[3]
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) or redis.call('HGET', ck, 'own') ~= ARGV[2] then
  return redis.error_reply('LEASELOST not held')
end
if redis.call('HGET', ck, 'st') ~= 'claimed' then return redis.error_reply('LEASELOST not claimed') end
local seq = redis.call('HINCRBY', ck, 'att', 1)
redis.call('HSET', ARGV[1] .. 'a:' .. ARGV[4], 'contact', ARGV[3], 'number', ARGV[5], 'trunk', ARGV[6],
  'owner', ARGV[2], 'seq', seq, 'start', ARGV[7], 'disp', '')
redis.call('HSET', ck, 'st', 'dialing', 'cur', ARGV[4])
redis.call('RPUSH', ARGV[1] .. 'h:' .. ARGV[3], ARGV[4])
redis.call('HINCRBY', KEYS[1], 'started', 1)
return seq
`)

// scriptRenew: KEYS leases; ARGV prefix, owner, until ms, ids...
var scriptRenew = redis.NewScript(`
local lost = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], id) and redis.call('HGET', ARGV[1] .. 'c:' .. id, 'own') == ARGV[2] then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[3], id)
  else
    table.insert(lost, id)
  end
end
return lost
`)

// settle (shared by finish and release): drop the lease, then final or due.
const luaSettle = `
local function settle(ck, id, final, due)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HSET', ck, 'own', '', 'cur', '')
  if final ~= '' then
    redis.call('HSET', ck, 'st', final)
    redis.call('HINCRBY', KEYS[1], 'f:' .. final, 1)
  else
    redis.call('HSET', ck, 'st', 'due')
    redis.call('ZADD', KEYS[3], due, id)
    if tonumber(redis.call('HGET', ck, 'att')) > 0 then
      redis.call('HINCRBY', KEYS[1], 'retrying', 1)
    end
  end
end
`

// scriptFinish: KEYS meta, leases, due; ARGV prefix, owner, attempt id,
// disposition, reason, cause, answer ms, end ms, next due ms, final.
var scriptFinish = redis.NewScript(luaSettle + `
local ak = ARGV[1] .. 'a:' .. ARGV[3]
if redis.call('EXISTS', ak) == 0 then return redis.error_reply('NOATTEMPT') end
if redis.call('HGET', ak, 'disp') ~= '' then return 0 end
local id = redis.call('HGET', ak, 'contact')
local ck = ARGV[1] .. 'c:' .. id
if not redis.call('ZSCORE', KEYS[2], id) or redis.call('HGET', ck, 'own') ~= ARGV[2]
   or redis.call('HGET', ck, 'cur') ~= ARGV[3] then
  return redis.error_reply('LEASELOST not held')
end
redis.call('HSET', ak, 'disp', ARGV[4], 'reason', ARGV[5], 'cause', ARGV[6], 'answer', ARGV[7], 'end', ARGV[8])
if ARGV[4] == 'not_placed' then
  redis.call('HINCRBY', ck, 'att', -1)
  redis.call('HINCRBY', KEYS[1], 'started', -1)
else
  redis.call('HINCRBY', ck, 'n:' .. ARGV[4], 1)
end
redis.call('HINCRBY', KEYS[1], 'd:' .. ARGV[4], 1)
settle(ck, id, ARGV[10], ARGV[9])
return 1
`)

// scriptRelease: KEYS meta, leases, due; ARGV prefix, owner, contact, next due ms, final.
var scriptRelease = redis.NewScript(luaSettle + `
local ck = ARGV[1] .. 'c:' .. ARGV[3]
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) or redis.call('HGET', ck, 'own') ~= ARGV[2] then
  return redis.error_reply('LEASELOST not held')
end
if redis.call('HGET', ck, 'st') ~= 'claimed' then return redis.error_reply('LEASELOST not claimed') end
settle(ck, ARGV[3], ARGV[5], ARGV[4])
return 1
`)

// scriptTakeover: KEYS leases; ARGV prefix, owner, now ms, lease ms, max.
var scriptTakeover = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3], 'LIMIT', 0, tonumber(ARGV[5]))
local exp = tonumber(ARGV[3]) + tonumber(ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  local ck = ARGV[1] .. 'c:' .. id
  redis.call('ZADD', KEYS[1], exp, id)
  redis.call('HSET', ck, 'own', ARGV[2])
  local cur = redis.call('HGET', ck, 'cur')
  local a = {}
  if cur and cur ~= '' then a = redis.call('HGETALL', ARGV[1] .. 'a:' .. cur) end
  table.insert(out, {id, redis.call('HGETALL', ck), exp, cur or '', a})
end
return out
`)

// scriptSetState: KEYS meta; ARGV state.
var scriptSetState = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOCAMPAIGN') end
if st == 'cancelled' and ARGV[1] ~= 'cancelled' then return redis.error_reply('CANCELLED') end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
return 1
`)
