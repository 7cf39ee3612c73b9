/** @module The Lua scripts of the Redis live-session store: each write is one atomic script. */
import { createHash } from 'node:crypto'
import { ADD_EVENT, type LuaScript } from './scripts.ts'

/**
 * ARGV[1] is the key prefix, ARGV[2] the retention TTL of ended records in ms ('0': none), ARGV[3]
 * the live session's key (base64url SHA-256 of its id, 43 characters). Times come only from the
 * arguments (the caller's clock) and are copied as the caller's strings. A nullable argument is
 * '' for "not given", '-' for null, or '=' followed by the value.
 *
 * `add_event` is the session store's own (`ADD_EVENT` in scripts.ts): the same counter, streams
 * and fields, so `events()` reads live events like any other.
 */
const PREAMBLE = `
local P = ARGV[1]
local TTL = ARGV[2]
local H = ARGV[3]
local function key(kind) return P .. 'live:{' .. H .. '}:' .. kind end
local R, M, C, CO, K = key('r'), key('m'), key('c'), key('co'), key('k')
local EXP, ENDED, CX = P .. 'live:exp', P .. 'live:ended', P .. 'live:cx'

local function opt(v)
  if v == nil or v == '' then return nil end
  return string.sub(v, 2)
end

local function load()
  local f = redis.call('HGETALL', R)
  if #f == 0 then return nil end
  local r = {}
  for i = 1, #f, 2 do r[f[i]] = f[i + 1] end
  return r
end

${ADD_EVENT}

-- The audit event of a live session, filed under its Parley session (see live-common.ts).
local function live_event(r, typ, at, reason, actor, ip, ua)
  add_event({at = at, type = typ, sid = r.sessionId, p = r.principal, pk = r.pk, r = reason,
    a = actor, ip = ip, ua = ua,
    d = '{"live":' .. cjson.encode(r.id) .. ',"gen":' .. r.gen .. '}'})
end

-- Extends a key's expiry to at least ttl ms (a key without one gets it).
local function extend(k, ttl)
  local t = redis.call('PTTL', k)
  if t == -1 or (t >= 0 and t < ttl) then redis.call('PEXPIRE', k, ttl) end
end

-- Gives the per-session keys the record's expiry; a new ttl first moves the record's and the
-- indexes' (which must outlive their members).
local function expire_all(r, ttl)
  if ttl ~= nil then
    redis.call('PEXPIRE', R, ttl)
    extend(P .. 'live:p:' .. r.pk, ttl)
    extend(P .. 'live:s:' .. r.sk, ttl)
  end
  local t = redis.call('PTTL', R)
  if t > 0 then
    for _, k in ipairs({M, C, CO, K}) do redis.call('PEXPIRE', k, t) end
  end
end

local function unindex(r)
  redis.call('ZREM', EXP, H)
  redis.call('ZREM', P .. 'live:p:' .. r.pk, H)
  redis.call('ZREM', P .. 'live:s:' .. r.sk, H)
end

local function drop_children()
  for _, cid in ipairs(redis.call('HKEYS', K)) do redis.call('ZREM', CX, H .. ':' .. cid) end
  redis.call('DEL', M, C, CO, K)
end

-- Ends a live session: state, reason, time, buffers gone, out of the live indexes, into ENDED,
-- its live.ended event, the retention TTL. Returns its fields.
local function end_live(r, reason, at, actor, ip, ua)
  unindex(r)
  drop_children()
  redis.call('HSET', R, 'state', 'ended', 'endReason', reason, 'endedAt', at)
  redis.call('ZADD', ENDED, at, H)
  live_event(r, 'live.ended', at, reason, actor, ip, ua)
  if TTL == '0' then redis.call('PERSIST', R) else redis.call('PEXPIRE', R, TTL) end
  return redis.call('HGETALL', R)
end
`

function script(name: string, body: string): LuaScript {
  const source = `${PREAMBLE}\n-- ${name}\n${body}`
  return { name, source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * ARGV: 4 principal key, 5 session key, 6 ttl, 7 at, 8 actor, 9 ip, 10 user agent, 11 state,
 * 12 expiresAt, 13 createdAt, 14.. the record's hash fields. Replaces a record of that id.
 */
export const LIVE_CREATE = script(
  'live_create',
  `
local old = load()
if old ~= nil then
  unindex(old)
  drop_children()
  redis.call('ZREM', ENDED, H)
end
redis.call('DEL', R)
redis.call('HSET', R, unpack(ARGV, 14))
if ARGV[11] == 'ended' then
  redis.call('ZADD', ENDED, ARGV[12], H)
else
  redis.call('ZADD', EXP, ARGV[12], H)
  redis.call('ZADD', P .. 'live:p:' .. ARGV[4], ARGV[13], H)
  redis.call('ZADD', P .. 'live:s:' .. ARGV[5], ARGV[13], H)
end
local r = load()
live_event(r, 'live.started', ARGV[7], nil, opt(ARGV[8]), opt(ARGV[9]), opt(ARGV[10]))
expire_all(r, tonumber(ARGV[6]))
return 1
`,
)

/**
 * ARGV: 4 token hash, 5 new token hash, 6 expiresAt, 7 at, 8 ttl. The token hash matches the
 * current one or, while set, prevTokenHash. A record whose expiresAt <= at is ended here as the
 * sweeper would (at its expiresAt, actor system). On a match with the current hash it becomes
 * prevTokenHash; on a match with the previous one, that stays. Returns {'ok', fields},
 * {'ended', reason} or {'invalid'}.
 */
export const LIVE_RESUME = script(
  'live_resume',
  `
local r = load()
if r == nil then return {'invalid'} end
local current = r.tokenHash == ARGV[4]
local previous = r.prevTokenHash ~= nil and r.prevTokenHash == ARGV[4]
if not current and not previous then return {'invalid'} end
if r.state == 'ended' then return {'ended', r.endReason} end
if tonumber(r.expiresAt) <= tonumber(ARGV[7]) then
  end_live(r, 'resume_window_expired', r.expiresAt, 'system', nil, nil)
  return {'ended', 'resume_window_expired'}
end
r.gen = string.format('%d', tonumber(r.gen) + 1)
local prev = r.prevTokenHash
if current then prev = r.tokenHash end
redis.call('HSET', R, 'tokenHash', ARGV[5], 'prevTokenHash', prev, 'gen', r.gen, 'state', 'open',
  'expiresAt', ARGV[6])
redis.call('HDEL', R, 'suspendedAt')
redis.call('ZADD', EXP, ARGV[6], H)
live_event(r, 'live.resumed', ARGV[7], nil, 'principal', nil, nil)
expire_all(r, tonumber(ARGV[8]))
return {'ok', redis.call('HGETALL', R)}
`,
)

/**
 * ARGV: 4 gen, 5 at, 6 ttl (opt), 7 outAcked (opt), 8 outLostTo (opt), 9 outLostReason
 * (nullable), 10 inLast (opt), 11 turn (nullable), 12 state (opt), 13 expiresAt (opt), 14 number
 * of messages, 15 of checkpoints, 16 of dropped checkpoint ids, 17 confirmToken ('1' clears
 * prevTokenHash, '' leaves it); then (seq, member) per message, (id, JSON) per checkpoint, the
 * dropped ids. Returns 1 when applied, 0 when fenced off.
 */
export const LIVE_COMMIT = script(
  'live_commit',
  `
local r = load()
if r == nil or r.state == 'ended' or r.gen ~= ARGV[4] then return 0 end
local nm, nc, nd = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])
local set, del = {}, {}
local acked_s = opt(ARGV[7])
local acked = tonumber(acked_s or r.outAcked)
local out, out_s = tonumber(r.outSeq), nil
local batch = {}
local i = 18
for _ = 1, nm do
  local seq = tonumber(ARGV[i])
  if seq > out then
    out = seq
    out_s = ARGV[i]
    if seq > acked then
      batch[#batch + 1] = ARGV[i]
      batch[#batch + 1] = ARGV[i + 1]
      if #batch >= 400 then
        redis.call('ZADD', M, unpack(batch))
        batch = {}
      end
    end
  end
  i = i + 2
end
if #batch > 0 then redis.call('ZADD', M, unpack(batch)) end
if out_s ~= nil then
  set[#set + 1] = 'outSeq'
  set[#set + 1] = out_s
end
if acked_s ~= nil then
  set[#set + 1] = 'outAcked'
  set[#set + 1] = acked_s
  redis.call('ZREMRANGEBYSCORE', M, '-inf', acked_s)
end
local function field(name, v)
  if v == nil or v == '' then return end
  if v == '-' then
    del[#del + 1] = name
  else
    set[#set + 1] = name
    set[#set + 1] = string.sub(v, 2)
  end
end
field('outLostTo', ARGV[8])
field('outLostReason', ARGV[9])
field('inLast', ARGV[10])
field('turn', ARGV[11])
local state = opt(ARGV[12])
if state == 'suspended' then
  set[#set + 1] = 'state'
  set[#set + 1] = 'suspended'
  set[#set + 1] = 'suspendedAt'
  set[#set + 1] = ARGV[5]
elseif state == 'open' then
  set[#set + 1] = 'state'
  set[#set + 1] = 'open'
  del[#del + 1] = 'suspendedAt'
end
local expires = opt(ARGV[13])
if expires ~= nil then
  set[#set + 1] = 'expiresAt'
  set[#set + 1] = expires
  redis.call('ZADD', EXP, expires, H)
end
for _ = 1, nc do
  if redis.call('HSETNX', C, ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', CO, redis.call('HINCRBY', R, 'ckn', 1), ARGV[i])
  end
  i = i + 2
end
for _ = 1, nd do
  redis.call('HDEL', C, ARGV[i])
  redis.call('ZREM', CO, ARGV[i])
  i = i + 1
end
if ARGV[17] == '1' then del[#del + 1] = 'prevTokenHash' end
if #set > 0 then redis.call('HSET', R, unpack(set)) end
if #del > 0 then redis.call('HDEL', R, unpack(del)) end
expire_all(r, tonumber(opt(ARGV[6]) or ''))
return 1
`,
)

/** Returns the JSON of every checkpoint, oldest first. */
export const LIVE_CHECKPOINTS = script(
  'live_checkpoints',
  `
local ids = redis.call('ZRANGE', CO, 0, -1)
if #ids == 0 then return {} end
local out = {}
for _, v in ipairs(redis.call('HMGET', C, unpack(ids))) do
  if v then out[#out + 1] = v end
end
return out
`,
)

/**
 * ARGV: 4 call id, 5 gen, 6 until. A call is stored as '<gen>:<until>:<outcome JSON or empty>'.
 * Returns {'gone'} (unknown or ended), {'new'} or {'have', value}.
 */
export const LIVE_CLAIM_CALL = script(
  'live_claim_call',
  `
local state = redis.call('HGET', R, 'state')
if not state or state == 'ended' then return {'gone'} end
local v = redis.call('HGET', K, ARGV[4])
if v then return {'have', v} end
redis.call('HSET', K, ARGV[4], ARGV[5] .. ':' .. ARGV[6] .. ':')
redis.call('ZADD', CX, ARGV[6], H .. ':' .. ARGV[4])
local t = redis.call('PTTL', R)
if t > 0 then redis.call('PEXPIRE', K, t) end
return {'new'}
`,
)

/** ARGV: 4 call id, 5 until, 6 outcome JSON. Keeps the gen the call was claimed under. */
export const LIVE_FINISH_CALL = script(
  'live_finish_call',
  `
local f = redis.call('HMGET', R, 'state', 'gen')
if not f[1] or f[1] == 'ended' then return 0 end
local gen = f[2]
local v = redis.call('HGET', K, ARGV[4])
if v then gen = string.match(v, '^([^:]*):') end
redis.call('HSET', K, ARGV[4], gen .. ':' .. ARGV[5] .. ':' .. ARGV[6])
redis.call('ZADD', CX, ARGV[5], H .. ':' .. ARGV[4])
local t = redis.call('PTTL', R)
if t > 0 then redis.call('PEXPIRE', K, t) end
return 1
`,
)

/** ARGV: 4 reason, 5 at, 6 actor, 7 ip, 8 user agent. Returns the ended fields, or {} when not live. */
export const LIVE_END = script(
  'live_end',
  `
local r = load()
if r == nil or r.state == 'ended' then return {} end
return end_live(r, ARGV[4], ARGV[5], opt(ARGV[6]), opt(ARGV[7]), opt(ARGV[8]))
`,
)

/**
 * ARGV: 3 unused ('-'), 4 the index key's suffix ('p:<pk>' or 's:<sk>'), 5 '1' to return the
 * records, else the count. Members whose record has gone (expired) or ended are dropped on the way.
 */
export const LIVE_LIST = script(
  'live_list',
  `
local idx = P .. 'live:' .. ARGV[4]
local out, n = {}, 0
for _, h in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local rk = P .. 'live:{' .. h .. '}:r'
  local state = redis.call('HGET', rk, 'state')
  if not state or state == 'ended' then
    redis.call('ZREM', idx, h)
  else
    n = n + 1
    if ARGV[5] == '1' then out[#out + 1] = redis.call('HGETALL', rk) end
  end
end
if ARGV[5] == '1' then return out end
return n
`,
)

/**
 * ARGV: 3 unused ('-'), 4 now, 5 limit, 6 purge before. Purges ended records older than ARGV[6], deletes calls
 * past their until, then ends up to `limit` live sessions whose expiresAt <= now (at their
 * expiresAt, actor system). Returns the ended records' fields.
 */
export const LIVE_SWEEP = script(
  'live_sweep',
  `
local now, limit = ARGV[4], tonumber(ARGV[5])
for _, h in ipairs(redis.call('ZRANGEBYSCORE', ENDED, '-inf', '(' .. ARGV[6], 'LIMIT', 0, limit)) do
  H = h
  R, M, C, CO, K = key('r'), key('m'), key('c'), key('co'), key('k')
  if redis.call('HGET', R, 'state') == 'ended' then
    drop_children()
    redis.call('DEL', R)
  end
  redis.call('ZREM', ENDED, h)
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', CX, '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('HDEL', P .. 'live:{' .. string.sub(m, 1, 43) .. '}:k', string.sub(m, 45))
  redis.call('ZREM', CX, m)
end
local out = {}
for _, h in ipairs(redis.call('ZRANGEBYSCORE', EXP, '-inf', now, 'LIMIT', 0, limit)) do
  H = h
  R, M, C, CO, K = key('r'), key('m'), key('c'), key('co'), key('k')
  local r = load()
  if r == nil or r.state == 'ended' then
    redis.call('ZREM', EXP, h)
  elseif tonumber(r.expiresAt) <= tonumber(now) then
    out[#out + 1] = end_live(r, 'resume_window_expired', r.expiresAt, 'system', nil, nil)
  end
end
return out
`,
)

export const LIVE_SCRIPTS: readonly LuaScript[] = [
  LIVE_CREATE,
  LIVE_RESUME,
  LIVE_COMMIT,
  LIVE_CHECKPOINTS,
  LIVE_CLAIM_CALL,
  LIVE_FINISH_CALL,
  LIVE_END,
  LIVE_LIST,
  LIVE_SWEEP,
]
