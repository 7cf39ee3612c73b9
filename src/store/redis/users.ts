/** @module RedisUserStore: the UserStore under the Redis store's prefix, on its client. */

/*
 * Key layout (under the session store's prefix, beside its keys):
 *
 *   <prefix>u:<id>      hash    a user: one field per record field (JSON for roles and
 *                               permissions; the totp* fields absent while totp is null)
 *   <prefix>uc:<id>     list    the user's unused recovery code hashes, in order
 *   <prefix>un:<nk>     string  the id of the user whose username hashes to <nk>
 *   <prefix>uf:<fk>     hash    a failure counter (count, firstAt, lastAt); expires at its window's end
 *
 * `<nk>` and `<fk>` are base64url(SHA-256(text)) of the username and the failure key: no user input
 * ever becomes key syntax (SEC-54), and no username or address is kept in a key name.
 */
import { createHash } from 'node:crypto'
import type {
  FailureCount,
  TotpRecord,
  UserPatch,
  UserRecord,
  UserStore,
} from '../../auth/user-store.ts'
import { ParleyError } from '../../core/errors.ts'
import { num, opt, pairs, principalKey } from './codec.ts'
import type { LuaScript } from './scripts.ts'
import { type RedisConnection, SharedRedis } from './shared.ts'

/** What a user store needs of the session store whose connection it shares. */
export type RedisUserConnection = RedisConnection

/** ARGV[1] is the key prefix; everything else comes from the arguments, as in scripts.ts. */
function script(name: string, body: string): LuaScript {
  const source = `local P = ARGV[1]\n${OPT}\n-- ${name}\n${body}`
  return { name, source, sha: createHash('sha1').update(source).digest('hex') }
}

const OPT = `local function opt(v)
  if v == nil or v == '' then return nil end
  return string.sub(v, 2)
end`

/**
 * ARGV: 2 id, 3 username key, 4 n (count of hash field arguments), 5..4+n the hash fields, then the
 * recovery code hashes. Returns 1, or 0 when the id or the username is taken.
 */
const CREATE_USER = script(
  'create_user',
  `
local id, nk = ARGV[2], ARGV[3]
local h, c, n_key = P .. 'u:' .. id, P .. 'uc:' .. id, P .. 'un:' .. nk
if redis.call('EXISTS', h) == 1 or redis.call('EXISTS', n_key) == 1 then return 0 end
local n = tonumber(ARGV[4])
redis.call('HSET', h, unpack(ARGV, 5, 4 + n))
redis.call('DEL', c)
if #ARGV > 4 + n then redis.call('RPUSH', c, unpack(ARGV, 5 + n)) end
redis.call('SET', n_key, id)
return 1
`,
)

/** ARGV: 2 'id' or 'name', 3 the id or the username key. Returns {fields, codes} or nil. */
const GET_USER = script(
  'get_user',
  `
local id = ARGV[3]
if ARGV[2] == 'name' then
  id = redis.call('GET', P .. 'un:' .. ARGV[3])
  if not id then return false end
end
local f = redis.call('HGETALL', P .. 'u:' .. id)
if #f == 0 then return false end
return {f, redis.call('LRANGE', P .. 'uc:' .. id, 0, -1)}
`,
)

/**
 * ARGV: 2 id, 3 expectedVersion, 4 updatedAt, 5 passwordHash, 6 roles JSON, 7 permissions JSON,
 * 8 disabled (each nullable: unchanged), 9 totp: '' unchanged, 'clear' or 'set' with 10-13 its
 * fields, 14 recovery codes: '' unchanged or 'set' with the hashes from 15 on.
 * Returns {'ok', fields, codes}, {'not_found'} or {'conflict'}.
 */
const UPDATE_USER = script(
  'update_user',
  `
local id = ARGV[2]
local h, c = P .. 'u:' .. id, P .. 'uc:' .. id
local v = redis.call('HGET', h, 'version')
if not v then return {'not_found'} end
if tonumber(v) ~= tonumber(ARGV[3]) then return {'conflict'} end
local f = {'updatedAt', ARGV[4], 'version', string.format('%d', tonumber(v) + 1)}
local function put(k, a)
  local x = opt(a)
  if x ~= nil then
    f[#f + 1] = k
    f[#f + 1] = x
  end
end
put('passwordHash', ARGV[5])
put('roles', ARGV[6])
put('permissions', ARGV[7])
put('disabled', ARGV[8])
if ARGV[9] == 'clear' then
  redis.call('HDEL', h, 'totpSecretEnc', 'totpConfirmed', 'totpEnrolledAt', 'totpLastUsedStep')
elseif ARGV[9] == 'set' then
  f[#f + 1] = 'totpSecretEnc'
  f[#f + 1] = ARGV[10]
  f[#f + 1] = 'totpConfirmed'
  f[#f + 1] = ARGV[11]
  f[#f + 1] = 'totpEnrolledAt'
  f[#f + 1] = ARGV[12]
  f[#f + 1] = 'totpLastUsedStep'
  f[#f + 1] = ARGV[13]
end
redis.call('HSET', h, unpack(f))
if ARGV[14] == 'set' then
  redis.call('DEL', c)
  if #ARGV >= 15 then redis.call('RPUSH', c, unpack(ARGV, 15)) end
end
return {'ok', redis.call('HGETALL', h), redis.call('LRANGE', c, 0, -1)}
`,
)

/** ARGV: 2 id, 3 step. Returns 1 when the user has a factor and the step moved forward, else 0. */
const USE_TOTP_STEP = script(
  'use_totp_step',
  `
local h = P .. 'u:' .. ARGV[2]
local last = redis.call('HGET', h, 'totpLastUsedStep')
if not last or tonumber(ARGV[3]) <= tonumber(last) then return 0 end
redis.call('HSET', h, 'totpLastUsedStep', ARGV[3])
return 1
`,
)

/**
 * ARGV: 2 failure key hash, 3 at, 4 windowMs. Counts one failure, starting a new window when the
 * current one has passed, and sets the key to expire at the window's end (measured from `at`, the
 * caller's clock), plus a minute. Returns {count, firstAt, lastAt}.
 */
const RECORD_FAILURE = script(
  'record_failure',
  `
local k = P .. 'uf:' .. ARGV[2]
local at, win = tonumber(ARGV[3]), tonumber(ARGV[4])
local f = redis.call('HMGET', k, 'count', 'firstAt')
local count, first = 1, ARGV[3]
if f[1] and f[2] and at < tonumber(f[2]) + win then
  count = tonumber(f[1]) + 1
  first = f[2]
end
redis.call('HSET', k, 'count', string.format('%d', count), 'firstAt', first, 'lastAt', ARGV[3])
-- expire a minute after the window ends (by the caller's clock): the window itself is checked on
-- every read, so the margin only keeps a counter from vanishing between two calls near its end
local ttl = math.ceil(tonumber(first) + win - at) + 60000
redis.call('PEXPIRE', k, string.format('%d', ttl))
return {string.format('%d', count), first, ARGV[3]}
`,
)

const USER_SCRIPTS: readonly LuaScript[] = [
  CREATE_USER,
  GET_USER,
  UPDATE_USER,
  USE_TOTP_STEP,
  RECORD_FAILURE,
]

/** A username or id the store can tell apart exactly: well-formed (SHA-256 of UTF-8), no NUL. */
function storable(text: string): boolean {
  return typeof text === 'string' && text.isWellFormed() && !text.includes('\u0000')
}

function checkWindow(windowMs: number): void {
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
    throw new ParleyError('ERR_CONFIG_INVALID', 'windowMs must be a whole number of ms, 1 or more')
  }
}

function malformed(): ParleyError {
  return new ParleyError('ERR_INTERNAL', 'The store returned a malformed reply')
}

function totpFields(t: TotpRecord): string[] {
  return [t.secretEnc, t.confirmed ? '1' : '0', num(t.enrolledAt), num(t.lastUsedStep)]
}

/** The record's hash fields, flattened; the totp fields only when it has a factor. */
function encodeUser(u: UserRecord): string[] {
  const fields = [
    'id',
    u.id,
    'username',
    u.username,
    'passwordHash',
    u.passwordHash,
    'roles',
    JSON.stringify(u.roles),
    'permissions',
    JSON.stringify(u.permissions),
    'disabled',
    u.disabled ? '1' : '0',
    'createdAt',
    num(u.createdAt),
    'updatedAt',
    num(u.updatedAt),
    'version',
    num(u.version),
  ]
  if (u.totp !== null) {
    const [secretEnc, confirmed, enrolledAt, lastUsedStep] = totpFields(u.totp)
    fields.push('totpSecretEnc', secretEnc!, 'totpConfirmed', confirmed!)
    fields.push('totpEnrolledAt', enrolledAt!, 'totpLastUsedStep', lastUsedStep!)
  }
  return fields
}

/** A user from its hash fields and its recovery code list. */
function decodeUser(fields: unknown, codes: unknown): UserRecord {
  const h = pairs(fields)
  if (!Array.isArray(codes) || !codes.every((c) => typeof c === 'string')) throw malformed()
  const text = (name: string): string => {
    const v = h[name]
    if (v === undefined) throw malformed()
    return v
  }
  const number = (name: string): number => {
    const n = Number(text(name))
    if (!Number.isFinite(n)) throw malformed()
    return n
  }
  const list = (name: string): string[] => {
    const v: unknown = JSON.parse(text(name))
    if (!Array.isArray(v)) throw malformed()
    return v as string[]
  }
  return {
    id: text('id'),
    username: text('username'),
    passwordHash: text('passwordHash'),
    roles: list('roles'),
    permissions: list('permissions'),
    disabled: text('disabled') === '1',
    totp:
      h.totpSecretEnc === undefined
        ? null
        : {
            secretEnc: h.totpSecretEnc,
            confirmed: text('totpConfirmed') === '1',
            enrolledAt: number('totpEnrolledAt'),
            lastUsedStep: number('totpLastUsedStep'),
          },
    recoveryCodes: codes as string[],
    createdAt: number('createdAt'),
    updatedAt: number('updatedAt'),
    version: number('version'),
  }
}

function decodeFailure(count: unknown, firstAt: unknown, lastAt: unknown): FailureCount {
  const out = { count: Number(count), firstAt: Number(firstAt), lastAt: Number(lastAt) }
  if (!Object.values(out).every(Number.isFinite)) throw malformed()
  return out
}

/**
 * Users under the prefix of a {@link RedisStore}, on its client: get one with `store.users()`.
 * Each operation is one atomic Lua script or one command, so many processes can share it.
 * `init()` opens the session store's connection when needed and loads the scripts; `close()` leaves
 * the connection to the session store.
 *
 * @example
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379' })
 * const users = store.users()
 * await users.init()
 */
export class RedisUserStore implements UserStore {
  readonly kind = 'redis'
  readonly prefix: string
  readonly #redis: SharedRedis

  constructor(connection: RedisUserConnection) {
    this.#redis = new SharedRedis(connection)
    this.prefix = connection.prefix
  }

  /** Opens the shared connection when needed and loads the scripts; safe to call again. */
  async init(): Promise<void> {
    await this.#redis.load(USER_SCRIPTS)
  }

  /** Nothing to release: the connection belongs to the session store. */
  async close(): Promise<void> {}

  async createUser(record: UserRecord): Promise<void> {
    if (!storable(record.username) || !storable(record.id)) {
      throw new ParleyError(
        'ERR_VALIDATION',
        'username and id must be well-formed text without NUL',
      )
    }
    const fields = encodeUser(record)
    const reply = await this.#redis.eval(CREATE_USER, [
      record.id,
      principalKey(record.username),
      num(fields.length),
      ...fields,
      ...record.recoveryCodes,
    ])
    if (Number(reply) !== 1) throw new ParleyError('ERR_USER_EXISTS')
  }

  async getUser(id: string): Promise<UserRecord | null> {
    if (!storable(id)) return null
    return this.#read(await this.#redis.eval(GET_USER, ['id', id]))
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    if (!storable(username)) return null
    return this.#read(await this.#redis.eval(GET_USER, ['name', principalKey(username)]))
  }

  async updateUser(id: string, expectedVersion: number, patch: UserPatch): Promise<UserRecord> {
    if (!storable(id)) throw new ParleyError('ERR_USER_NOT_FOUND')
    const t = patch.totp
    const reply = await this.#redis.eval(UPDATE_USER, [
      id,
      num(expectedVersion),
      num(patch.updatedAt),
      opt(patch.passwordHash),
      opt(patch.roles === undefined ? null : JSON.stringify(patch.roles)),
      opt(patch.permissions === undefined ? null : JSON.stringify(patch.permissions)),
      opt(patch.disabled === undefined ? null : patch.disabled ? '1' : '0'),
      t === undefined ? '' : t === null ? 'clear' : 'set',
      ...(t == null ? ['', '', '', ''] : totpFields(t)),
      patch.recoveryCodes === undefined ? '' : 'set',
      ...(patch.recoveryCodes ?? []),
    ])
    const [status, fields, codes] = reply as [string, unknown, unknown]
    if (status === 'ok') return decodeUser(fields, codes)
    throw new ParleyError(status === 'not_found' ? 'ERR_USER_NOT_FOUND' : 'ERR_VERSION_CONFLICT')
  }

  async useTotpStep(id: string, step: number): Promise<boolean> {
    if (!storable(id) || !Number.isSafeInteger(step)) return false
    return Number(await this.#redis.eval(USE_TOTP_STEP, [id, num(step)])) === 1
  }

  /** One LREM: atomic on its own. */
  async useRecoveryCode(id: string, codeHash: string): Promise<boolean> {
    if (!storable(id)) return false
    const removed = await this.#redis.send(['LREM', `${this.prefix}uc:${id}`, '1', codeHash])
    return Number(removed) === 1
  }

  async recordFailure(key: string, at: number, windowMs: number): Promise<FailureCount> {
    checkWindow(windowMs)
    const reply = await this.#redis.eval(RECORD_FAILURE, [
      principalKey(key),
      num(at),
      num(windowMs),
    ])
    if (!Array.isArray(reply)) throw malformed()
    return decodeFailure(reply[0], reply[1], reply[2])
  }

  /** One HMGET; the window is checked here, against the caller's clock. */
  async getFailures(key: string, at: number, windowMs: number): Promise<FailureCount | null> {
    checkWindow(windowMs)
    const reply = await this.#redis.send([
      'HMGET',
      this.#failureKey(key),
      'count',
      'firstAt',
      'lastAt',
    ])
    if (!Array.isArray(reply)) throw malformed()
    if (reply[0] == null || reply[1] == null || reply[2] == null) return null
    const failures = decodeFailure(reply[0], reply[1], reply[2])
    return at >= failures.firstAt + windowMs ? null : failures
  }

  /** Nothing to do: each counter key expires by itself at the end of its window. */
  async purgeFailures(_now: number): Promise<number> {
    return 0
  }

  async clearFailures(key: string): Promise<void> {
    await this.#redis.send(['DEL', this.#failureKey(key)])
  }

  #failureKey(key: string): string {
    return `${this.prefix}uf:${principalKey(key)}`
  }

  #read(reply: unknown): UserRecord | null {
    if (reply === null || reply === undefined) return null
    if (!Array.isArray(reply)) throw malformed()
    return decodeUser(reply[0], reply[1])
  }
}
