/** @module The Lua scripts of the Redis store: every multi-step operation is one atomic script. */
import { createHash } from 'node:crypto'

/** A Lua script with its SHA-1, as EVALSHA wants it. */
export interface LuaScript {
  readonly name: string
  readonly source: string
  readonly sha: string
}

/**
 * Writes one audit event to the streams `events()` reads: the per-principal stream (`ev:p:<pk>`),
 * the per-session stream (`ev:s:<sid>`), or the system stream when it has neither. Shared with the
 * live-session scripts (live-scripts.ts), so every event has one format. Needs `P` in scope.
 */
export const ADD_EVENT = `local function add_event(e)
  local seq = redis.call('INCR', P .. 'evseq')
  local id = string.format('%d-0', seq)
  local f = {'at', e.at, 'type', e.type}
  local function put(k, v)
    if v ~= nil then
      f[#f + 1] = k
      f[#f + 1] = v
    end
  end
  put('sid', e.sid)
  put('p', e.p)
  put('r', e.r)
  put('a', e.a)
  put('ip', e.ip)
  put('ua', e.ua)
  put('d', e.d)
  if e.pk ~= nil then
    redis.call('XADD', P .. 'ev:p:' .. e.pk, 'MAXLEN', '~', '10000', id, unpack(f))
  end
  if e.sid ~= nil then
    if e.pk ~= nil then
      f[#f + 1] = 'pk'
      f[#f + 1] = e.pk
    end
    redis.call('XADD', P .. 'ev:s:' .. e.sid, 'MAXLEN', '~', '1000', id, unpack(f))
  end
  if e.sid == nil and e.pk == nil then
    redis.call('XADD', P .. 'ev:sys', 'MAXLEN', '~', '10000', id, unpack(f))
  end
end
`

/**
 * Shared by every script. ARGV[1] is the key prefix, ARGV[2] the retention TTL of ended sessions
 * in ms ('0' for none). Times always come from the arguments, never from Redis TIME, and are copied
 * as the caller's strings so that Lua never reformats a number. A nullable argument is '' for null
 * or '=' followed by the value. Stream entries leave out fields that are null.
 */
const PREAMBLE = `
local P = ARGV[1]
local TTL = ARGV[2]

local function opt(v)
  if v == nil or v == '' then return nil end
  return string.sub(v, 2)
end

${ADD_EVENT}

local function event_args(i)
  return {
    at = ARGV[i], type = ARGV[i + 1], sid = opt(ARGV[i + 2]), p = opt(ARGV[i + 3]),
    pk = opt(ARGV[i + 4]), r = opt(ARGV[i + 5]), a = opt(ARGV[i + 6]), ip = opt(ARGV[i + 7]),
    ua = opt(ARGV[i + 8]), d = opt(ARGV[i + 9]),
  }
end

-- The earlier deadline (as stored), its value, and the timeout it stands for.
local function deadline(idle_s, abs_s)
  local idle, abs = tonumber(idle_s), tonumber(abs_s)
  if idle < abs then return idle_s, idle, 'idle_timeout' end
  return abs_s, abs, 'absolute_timeout'
end

-- Ends an active session: state, endedAt, endReason, version + 1, out of the principal and expiry
-- indexes, into the ended index, its session.ended event, and the retention TTL.
local function end_session(id, reason, at, actor, ip, ua)
  local h = P .. 's:' .. id
  local f = redis.call('HMGET', h, 'version', 'pk', 'principal')
  redis.call('HSET', h, 'state', 'ended', 'endedAt', at, 'endReason', reason,
    'version', string.format('%d', tonumber(f[1]) + 1))
  redis.call('ZREM', P .. 'p:' .. f[2], id)
  redis.call('ZREM', P .. 'exp', id)
  redis.call('ZADD', P .. 'ended', at, id)
  add_event({at = at, type = 'session.ended', sid = id, p = f[3], pk = f[2], r = reason,
    a = actor, ip = ip, ua = ua})
  if TTL ~= '0' then
    redis.call('PEXPIRE', h, TTL)
    redis.call('PEXPIRE', P .. 'ev:s:' .. id, TTL)
  end
  redis.call('PUBLISH', P .. 'changes', id)
  return redis.call('HGETALL', h)
end
`

function script(name: string, body: string): LuaScript {
  const source = `${PREAMBLE}\n-- ${name}\n${body}`
  return { name, source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * ARGV: 3 id, 4 principal key, 5 maxPerPrincipal, 6 onLimit, 7 context at, 8 actor, 9 ip,
 * 10 user agent, 11 lastSeenAt, 12 expiresAt, 13 createdAt, 14 principal, 15 event detail,
 * 16.. the record's hash fields. Returns {'ok', ended} or {'limit', ended}.
 */
export const CREATE = script(
  'create',
  `
local id, pk = ARGV[3], ARGV[4]
local max = tonumber(ARGV[5])
local now = tonumber(ARGV[7])
local ip, ua = opt(ARGV[9]), opt(ARGV[10])
local pkey = P .. 'p:' .. pk
local ended, live = {}, {}
for _, sid in ipairs(redis.call('ZRANGE', pkey, 0, -1)) do
  local f = redis.call('HMGET', P .. 's:' .. sid, 'state', 'lastSeenAt', 'idleExpiresAt',
    'absoluteExpiresAt', 'createdAt')
  if f[1] ~= 'active' then
    redis.call('ZREM', pkey, sid)
  else
    local due_s, due, reason = deadline(f[3], f[4])
    if now >= due then
      ended[#ended + 1] = end_session(sid, reason, due_s, 'system', nil, nil)
    else
      live[#live + 1] = {id = sid, ls = tonumber(f[2]), ca = tonumber(f[5])}
    end
  end
end
if max > 0 and #live >= max then
  if ARGV[6] == 'refuse' then return {'limit', ended} end
  table.sort(live, function(a, b)
    if a.ls ~= b.ls then return a.ls < b.ls end
    if a.ca ~= b.ca then return a.ca < b.ca end
    return a.id < b.id
  end)
  for i = 1, #live - max + 1 do
    ended[#ended + 1] = end_session(live[i].id, 'evicted_by_limit', ARGV[7], 'system', ip, ua)
  end
end
local fields = {}
for i = 16, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', P .. 's:' .. id, unpack(fields))
redis.call('ZADD', pkey, ARGV[11], id)
redis.call('ZADD', P .. 'exp', ARGV[12], id)
add_event({at = ARGV[13], type = 'session.created', sid = id, p = ARGV[14], pk = pk,
  a = opt(ARGV[8]), ip = ip, ua = ua, d = ARGV[15]})
return {'ok', ended}
`,
)

/** ARGV: 3 id, 4 at, 5 idleExpiresAt. Returns the record's fields, or nil. */
export const TOUCH = script(
  'touch',
  `
local id = ARGV[3]
local h = P .. 's:' .. id
local f = redis.call('HMGET', h, 'state', 'lastSeenAt', 'idleExpiresAt', 'absoluteExpiresAt', 'pk')
if f[1] ~= 'active' then return false end
local at = tonumber(ARGV[4])
local _, due = deadline(f[3], f[4])
if at >= due then return false end
if at > tonumber(f[2]) then
  local idle_s, idle = f[3], tonumber(f[3])
  local wanted = tonumber(ARGV[5])
  if wanted > idle then idle_s, idle = ARGV[5], wanted end
  local abs = tonumber(f[4])
  if abs < idle then idle_s, idle = f[4], abs end
  redis.call('HSET', h, 'lastSeenAt', ARGV[4], 'idleExpiresAt', idle_s)
  redis.call('ZADD', P .. 'p:' .. f[5], ARGV[4], id)
  local due_s = deadline(idle_s, f[4])
  redis.call('ZADD', P .. 'exp', due_s, id)
end
return redis.call('HGETALL', h)
`,
)

/**
 * ARGV: 3 id, 4 expectedVersion, 5 data JSON (nullable: unchanged), 6 auth JSON (nullable),
 * 7 at, 8 actor, 9 ip, 10 user agent. Returns {'ok', fields}, {'not_found'}, {'ended', reason}
 * or {'conflict'}.
 */
export const UPDATE = script(
  'update',
  `
local id = ARGV[3]
local h = P .. 's:' .. id
local f = redis.call('HMGET', h, 'state', 'version', 'endReason', 'pk', 'principal')
if not f[1] then return {'not_found'} end
if f[1] ~= 'active' then return {'ended', f[3] or ''} end
if tonumber(f[2]) ~= tonumber(ARGV[4]) then return {'conflict'} end
local v = string.format('%d', tonumber(f[2]) + 1)
local data, auth = opt(ARGV[5]), opt(ARGV[6])
if data ~= nil then redis.call('HSET', h, 'data', data) end
if auth ~= nil then redis.call('HSET', h, 'auth', auth) end
redis.call('HSET', h, 'version', v)
add_event({at = ARGV[7], type = 'session.updated', sid = id, p = f[5], pk = f[4],
  a = opt(ARGV[8]), ip = opt(ARGV[9]), ua = opt(ARGV[10]), d = '{"version":' .. v .. '}'})
redis.call('PUBLISH', P .. 'changes', id)
return {'ok', redis.call('HGETALL', h)}
`,
)

/** ARGV: 3 id, 4 reason, 5 at, 6 actor, 7 ip, 8 user agent. Returns the ended record, or nil. */
export const END = script(
  'end',
  `
if redis.call('HGET', P .. 's:' .. ARGV[3], 'state') ~= 'active' then return false end
return end_session(ARGV[3], ARGV[4], ARGV[5], opt(ARGV[6]), opt(ARGV[7]), opt(ARGV[8]))
`,
)

/**
 * ARGV: 3 principal key, 4 reason, 5 at, 6 actor, 7 ip, 8 user agent, 9 except id (nullable).
 * Returns the ended records.
 */
export const END_BY_PRINCIPAL = script(
  'end_by_principal',
  `
local pkey = P .. 'p:' .. ARGV[3]
local except = opt(ARGV[9])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', pkey, 0, -1)) do
  if id ~= except then
    if redis.call('HGET', P .. 's:' .. id, 'state') == 'active' then
      out[#out + 1] = end_session(id, ARGV[4], ARGV[5], opt(ARGV[6]), opt(ARGV[7]), opt(ARGV[8]))
    else
      redis.call('ZREM', pkey, id)
    end
  end
end
return out
`,
)

/**
 * ARGV: 3 reason, 4 at, 5 actor, 6 ip, 7 user agent, 8 batch size. Ends up to a batch of active
 * sessions; returns {ended, examined}.
 */
export const END_ALL = script(
  'end_all',
  `
local n = 0
local ids = redis.call('ZRANGE', P .. 'exp', 0, tonumber(ARGV[8]) - 1)
for _, id in ipairs(ids) do
  if redis.call('HGET', P .. 's:' .. id, 'state') == 'active' then
    end_session(id, ARGV[3], ARGV[4], opt(ARGV[5]), opt(ARGV[6]), opt(ARGV[7]))
    n = n + 1
  else
    redis.call('ZREM', P .. 'exp', id)
  end
end
return {n, #ids}
`,
)

/**
 * ARGV: 3 now, 4 limit. Ends up to `limit` sessions whose deadline is at or before `now`, each with
 * its timeout reason at its deadline, by actor 'system'. Returns the ended records.
 */
export const SWEEP = script(
  'sweep',
  `
local now = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local out = {}
while #out < limit do
  local ids = redis.call('ZRANGEBYSCORE', P .. 'exp', '-inf', ARGV[3], 'LIMIT', 0, limit - #out)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', P .. 's:' .. id, 'state', 'idleExpiresAt', 'absoluteExpiresAt')
    if f[1] ~= 'active' then
      redis.call('ZREM', P .. 'exp', id)
    else
      local due_s, due, reason = deadline(f[2], f[3])
      if due > now then
        redis.call('ZADD', P .. 'exp', due_s, id)
      else
        out[#out + 1] = end_session(id, reason, due_s, 'system', nil, nil)
      end
    end
  end
end
return out
`,
)

/**
 * ARGV: 3 endedBefore, 4 limit. Deletes ended sessions that ended before `endedBefore`, their
 * session stream, and their entries in principal streams (deleting streams left empty).
 * Returns how many.
 */
export const PURGE = script(
  'purge',
  `
local n = 0
local touched = {}
local ids = redis.call('ZRANGEBYSCORE', P .. 'ended', '-inf', '(' .. ARGV[3], 'LIMIT', 0, ARGV[4])
for _, id in ipairs(ids) do
  local skey = P .. 'ev:s:' .. id
  for _, entry in ipairs(redis.call('XRANGE', skey, '-', '+')) do
    local fv = entry[2]
    for i = 1, #fv, 2 do
      if fv[i] == 'pk' then
        local pkey = P .. 'ev:p:' .. fv[i + 1]
        redis.call('XDEL', pkey, entry[1])
        touched[#touched + 1] = pkey
      end
    end
  end
  redis.call('DEL', P .. 's:' .. id, skey)
  redis.call('ZREM', P .. 'ended', id)
  n = n + 1
end
for _, pkey in ipairs(touched) do
  if redis.call('XLEN', pkey) == 0 then redis.call('DEL', pkey) end
end
return n
`,
)

/** ARGV: 3.. 12 the event (see event_args). */
export const APPEND_EVENT = script(
  'append_event',
  `
add_event(event_args(3))
return 1
`,
)

/** ARGV: 3 principal key. Returns the active records of the principal, most recent first. */
export const LIST_BY_PRINCIPAL = script(
  'list_by_principal',
  `
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', P .. 'p:' .. ARGV[3], 0, -1)) do
  local fields = redis.call('HGETALL', P .. 's:' .. id)
  if #fields > 0 then out[#out + 1] = fields end
end
return out
`,
)

/** ARGV: 3 key id, 4 createdAt, 5..14 the event, 15.. the key's hash fields. */
export const CREATE_API_KEY = script(
  'create_api_key',
  `
local k = P .. 'k:' .. ARGV[3]
local fields = {}
for i = 15, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('DEL', k)
redis.call('HSET', k, unpack(fields))
redis.call('ZADD', P .. 'keys', ARGV[4], ARGV[3])
add_event(event_args(5))
return 1
`,
)

/** ARGV: 3 key id, 4 at, 5..14 the event. Returns 1 when revoked, 0 when unknown or revoked. */
export const REVOKE_API_KEY = script(
  'revoke_api_key',
  `
local k = P .. 'k:' .. ARGV[3]
local f = redis.call('HMGET', k, 'id', 'revokedAt')
if not f[1] or f[2] then return 0 end
redis.call('HSET', k, 'revokedAt', ARGV[4])
add_event(event_args(5))
return 1
`,
)

/** Returns every API key's hash fields. */
export const LIST_API_KEYS = script(
  'list_api_keys',
  `
local out = {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'keys', 0, -1)) do
  local fields = redis.call('HGETALL', P .. 'k:' .. id)
  if #fields > 0 then out[#out + 1] = fields end
end
return out
`,
)

export const ALL_SCRIPTS: readonly LuaScript[] = [
  CREATE,
  TOUCH,
  UPDATE,
  END,
  END_BY_PRINCIPAL,
  END_ALL,
  SWEEP,
  PURGE,
  APPEND_EVENT,
  LIST_BY_PRINCIPAL,
  CREATE_API_KEY,
  REVOKE_API_KEY,
  LIST_API_KEYS,
]
