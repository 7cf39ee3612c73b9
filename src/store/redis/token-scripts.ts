/** @module The Lua scripts of the Redis token store: each compare-and-set is one atomic script. */
import { createHash } from 'node:crypto'
import type { LuaScript } from './scripts.ts'

/**
 * ARGV[1] is the key prefix. Times come only from the arguments (the caller's clock), never from
 * Redis TIME, and are copied as the caller's strings. A nullable argument is '' for null or '='
 * followed by the value.
 */
function script(name: string, body: string): LuaScript {
  const source = `local P = ARGV[1]\n${HELPERS}\n-- ${name}\n${body}`
  return { name, source, sha: createHash('sha1').update(source).digest('hex') }
}

const HELPERS = `local function opt(v)
  if v == nil or v == '' then return nil end
  return string.sub(v, 2)
end

-- The newest signing key: the highest createdAt, and among equals the last added (highest seq).
local function newest_kid()
  local top = redis.call('ZREVRANGE', P .. 'sk', 0, 0, 'WITHSCORES')
  if #top == 0 then return nil end
  local kid, best = nil, -1
  for _, k in ipairs(redis.call('ZRANGEBYSCORE', P .. 'sk', top[2], top[2])) do
    local seq = tonumber(redis.call('HGET', P .. 'sk:' .. k, 'seq') or '0')
    if seq > best then kid, best = k, seq end
  end
  return kid
end`

/**
 * ARGV: 2 kid, 3 expected newest kid (nullable), 4 createdAt, 5.. the key's hash fields. Returns 1
 * when added, 0 when the newest key is not the expected one or the kid is taken.
 */
export const ADD_SIGNING_KEY = script(
  'add_signing_key',
  `
local kid = ARGV[2]
if newest_kid() ~= opt(ARGV[3]) then return 0 end
if redis.call('ZSCORE', P .. 'sk', kid) then return 0 end
local h = P .. 'sk:' .. kid
redis.call('DEL', h)
redis.call('HSET', h, 'seq', string.format('%d', redis.call('INCR', P .. 'skseq')), unpack(ARGV, 5))
redis.call('ZADD', P .. 'sk', ARGV[4], kid)
return 1
`,
)

/** Returns every signing key's hash fields (order left to the caller). */
export const LIST_SIGNING_KEYS = script(
  'list_signing_keys',
  `
local out = {}
for _, kid in ipairs(redis.call('ZRANGE', P .. 'sk', 0, -1)) do
  local f = redis.call('HGETALL', P .. 'sk:' .. kid)
  if #f > 0 then out[#out + 1] = f end
end
return out
`,
)

/** ARGV: 2 now. Deletes the keys whose expiresAt is at or before it; returns how many. */
export const PURGE_SIGNING_KEYS = script(
  'purge_signing_keys',
  `
local now, n = tonumber(ARGV[2]), 0
for _, kid in ipairs(redis.call('ZRANGE', P .. 'sk', 0, -1)) do
  local h = P .. 'sk:' .. kid
  local e = redis.call('HGET', h, 'expiresAt')
  if not e or tonumber(e) <= now then
    redis.call('DEL', h)
    redis.call('ZREM', P .. 'sk', kid)
    if e then n = n + 1 end
  end
end
return n
`,
)

/**
 * ARGV: 2 id, 3 expiresAt, 4 ttl in ms, 5.. the token's hash fields. Replaces any token of that
 * id, indexes it by expiresAt and sets it to expire after the ttl (a safety net for purge).
 */
export const CREATE_REFRESH = script(
  'create_refresh',
  `
local h = P .. 'rt:' .. ARGV[2]
redis.call('DEL', h)
redis.call('HSET', h, unpack(ARGV, 5))
redis.call('PEXPIRE', h, ARGV[4])
redis.call('ZADD', P .. 'rtexp', ARGV[3], ARGV[2])
return 1
`,
)

/**
 * ARGV: 2 id, 3 at, 4 successor id, 5 access JSON, 6 successor expiresAt, 7 successor ttl,
 * 8.. the successor's hash fields. Returns {'rotated', fields}, {'already', fields} or {'missing'}.
 */
export const ROTATE_REFRESH = script(
  'rotate_refresh',
  `
local h = P .. 'rt:' .. ARGV[2]
if redis.call('EXISTS', h) == 0 then return {'missing'} end
if redis.call('HEXISTS', h, 'rotatedAt') == 1 then return {'already', redis.call('HGETALL', h)} end
redis.call('HSET', h, 'rotatedAt', ARGV[3], 'successorId', ARGV[4], 'successorAccess', ARGV[5])
local s = P .. 'rt:' .. ARGV[4]
redis.call('DEL', s)
redis.call('HSET', s, unpack(ARGV, 8))
redis.call('PEXPIRE', s, ARGV[7])
redis.call('ZADD', P .. 'rtexp', ARGV[6], ARGV[4])
return {'rotated', redis.call('HGETALL', h)}
`,
)

/** ARGV: 2 now, 3 limit. Deletes up to `limit` tokens expired at `now`, oldest first: a count. */
export const PURGE_REFRESH = script(
  'purge_refresh',
  `
local ids = redis.call('ZRANGEBYSCORE', P .. 'rtexp', '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  redis.call('DEL', P .. 'rt:' .. id)
  redis.call('ZREM', P .. 'rtexp', id)
end
return #ids
`,
)

/**
 * ARGV: 2 key hash, 3 expiresAt, 4 now, 5 ttl in ms. Takes the key when it is absent or its entry
 * has expired at `now` (the caller's clock); returns 1 then, else 0.
 */
export const USE_ONCE = script(
  'use_once',
  `
local k = P .. 'once:' .. ARGV[2]
local until_ = redis.call('GET', k)
if until_ and tonumber(until_) > tonumber(ARGV[4]) then return 0 end
redis.call('SET', k, ARGV[3], 'PX', ARGV[5])
return 1
`,
)

export const TOKEN_SCRIPTS: readonly LuaScript[] = [
  ADD_SIGNING_KEY,
  LIST_SIGNING_KEYS,
  PURGE_SIGNING_KEYS,
  CREATE_REFRESH,
  ROTATE_REFRESH,
  PURGE_REFRESH,
  USE_ONCE,
]
