/** @module RedisTokenStore: the TokenStore under the Redis store's prefix, on its client. */

/*
 * Key layout (under the session store's prefix, beside its keys):
 *
 *   <prefix>sk          zset    kids of the signing keys, scored by createdAt
 *   <prefix>sk:<kid>    hash    a signing key: kid, alg, publicJwk (JSON), privateKeyEnc (sealed),
 *                               createdAt, retiresAt, expiresAt, and seq (insertion order, which
 *                               breaks ties on createdAt)
 *   <prefix>skseq       string  the counter behind seq
 *   <prefix>rt:<id>     hash    a refresh token (the SHA-256 of its secret only): one field per
 *                               record field, successorAccess as JSON, null fields absent;
 *                               expires TOKEN_EXPIRY_MARGIN_MS after its expiresAt (a safety net
 *                               for purge)
 *   <prefix>rtexp       zset    refresh token ids, scored by expiresAt (what purgeRefresh reads)
 *   <prefix>once:<h>    string  a single-use value's expiresAt; expires TOKEN_EXPIRY_MARGIN_MS
 *                               after it. `<h>` is base64url(SHA-256(key)): no caller's key ever
 *                               becomes key syntax or is stored (SEC-54)
 *
 * Expiries are set with PEXPIRE/PX from durations on the caller's clock (expiresAt - createdAt,
 * expiresAt - now), never as absolute times on Redis's clock, which may differ from the caller's.
 * Whether something has expired is always decided with the caller's `now`.
 */
import { ParleyError } from '../../core/errors.ts'
import type {
  RefreshRecord,
  RotateResult,
  SigningKeyRecord,
  SuccessorAccess,
  TokenStore,
} from '../../tokens/token-store.ts'
import { hash, num, opt, pairs, principalKey } from './codec.ts'
import { SharedRedis } from './shared.ts'
import {
  ADD_SIGNING_KEY,
  CREATE_REFRESH,
  LIST_SIGNING_KEYS,
  PURGE_REFRESH,
  PURGE_SIGNING_KEYS,
  ROTATE_REFRESH,
  TOKEN_SCRIPTS,
  USE_ONCE,
} from './token-scripts.ts'
import type { RedisUserConnection } from './users.ts'

/** What a token store needs of the session store whose connection it shares. */
export type RedisTokenConnection = RedisUserConnection

/**
 * How long Redis keeps a refresh token or a single-use value after its expiry (on the caller's
 * clock): room for the clocks of the callers and of Redis to drift apart. 5 minutes.
 */
export const TOKEN_EXPIRY_MARGIN_MS = 5 * 60_000

const MAX_BATCH = 1_000_000_000

function malformed(): ParleyError {
  return new ParleyError('ERR_INTERNAL', 'The store returned a malformed reply')
}

/** An id that names exactly one key: well-formed (node-redis would replace a lone surrogate). */
const storable = (text: string): boolean => typeof text === 'string' && text.isWellFormed()

function checkId(id: string): void {
  if (!storable(id)) throw new ParleyError('ERR_VALIDATION', 'ids must be well-formed Unicode')
}

/** Milliseconds from `from` to `to` on the caller's clock, at least 1, plus the margin. */
function ttl(from: number, to: number): string {
  return num(Math.max(1, Math.ceil(to - from)) + TOKEN_EXPIRY_MARGIN_MS)
}

function text(h: Record<string, string>, name: string): string {
  const v = h[name]
  if (v === undefined) throw malformed()
  return v
}

function number(h: Record<string, string>, name: string): number {
  const n = Number(text(h, name))
  if (!Number.isFinite(n)) throw malformed()
  return n
}

function json<T>(h: Record<string, string>, name: string): T {
  try {
    return JSON.parse(text(h, name)) as T
  } catch {
    throw malformed()
  }
}

function encodeKey(k: SigningKeyRecord): string[] {
  return [
    'kid',
    k.kid,
    'alg',
    k.alg,
    'publicJwk',
    JSON.stringify(k.publicJwk),
    'privateKeyEnc',
    k.privateKeyEnc,
    'createdAt',
    num(k.createdAt),
    'retiresAt',
    num(k.retiresAt),
    'expiresAt',
    num(k.expiresAt),
  ]
}

/** A signing key with its insertion sequence, for ordering. */
function decodeKey(reply: unknown): { key: SigningKeyRecord; seq: number } {
  const h = pairs(reply)
  return {
    key: {
      kid: text(h, 'kid'),
      alg: text(h, 'alg') as SigningKeyRecord['alg'],
      publicJwk: json(h, 'publicJwk'),
      privateKeyEnc: text(h, 'privateKeyEnc'),
      createdAt: number(h, 'createdAt'),
      retiresAt: number(h, 'retiresAt'),
      expiresAt: number(h, 'expiresAt'),
    },
    seq: number(h, 'seq'),
  }
}

/** The token as hash fields, flattened; null fields are left out. */
function encodeRefresh(r: RefreshRecord): string[] {
  const fields = [
    'id',
    r.id,
    'secretHash',
    r.secretHash,
    'sessionId',
    r.sessionId,
    'clientId',
    r.clientId,
    'createdAt',
    num(r.createdAt),
    'expiresAt',
    num(r.expiresAt),
  ]
  if (r.rotatedAt !== null) fields.push('rotatedAt', num(r.rotatedAt))
  if (r.successorId !== null) fields.push('successorId', r.successorId)
  if (r.successorAccess !== null) fields.push('successorAccess', accessJson(r.successorAccess))
  if (r.jkt !== null) fields.push('jkt', r.jkt)
  return fields
}

const accessJson = (a: SuccessorAccess): string =>
  JSON.stringify({ jti: a.jti, iat: a.iat, exp: a.exp })

/** A refresh token from its hash fields (HGETALL in any protocol, or pairs() of a Lua reply). */
function decodeRefresh(h: Record<string, string>): RefreshRecord {
  return {
    id: text(h, 'id'),
    secretHash: text(h, 'secretHash'),
    sessionId: text(h, 'sessionId'),
    clientId: text(h, 'clientId'),
    createdAt: number(h, 'createdAt'),
    expiresAt: number(h, 'expiresAt'),
    rotatedAt: h.rotatedAt === undefined ? null : number(h, 'rotatedAt'),
    successorId: h.successorId ?? null,
    successorAccess: h.successorAccess === undefined ? null : json(h, 'successorAccess'),
    jkt: h.jkt ?? null,
  }
}

/**
 * Signing keys, refresh tokens and single-use values under the prefix of a {@link RedisStore}, on
 * its client: get one with `store.tokens()`. Each operation is one atomic Lua script (or one
 * command), so many processes can share it. `init()` opens the session store's connection when
 * needed and loads the scripts; `close()` leaves the connection to the session store.
 *
 * @example
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379' })
 * const tokens = store.tokens()
 * await tokens.init()
 */
export class RedisTokenStore implements TokenStore {
  readonly kind = 'redis'
  readonly prefix: string
  readonly #redis: SharedRedis

  constructor(connection: RedisTokenConnection) {
    this.#redis = new SharedRedis(connection)
    this.prefix = connection.prefix
  }

  /** Opens the shared connection when needed and loads the scripts; safe to call again. */
  async init(): Promise<void> {
    await this.#redis.load(TOKEN_SCRIPTS)
  }

  /** Nothing to release: the connection belongs to the session store. */
  async close(): Promise<void> {}

  /** One script reads every key; they are few. Newest first, ties by insertion, latest first. */
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const reply = await this.#redis.eval(LIST_SIGNING_KEYS, [])
    if (!Array.isArray(reply)) throw malformed()
    return reply
      .map(decodeKey)
      .sort((a, b) => b.key.createdAt - a.key.createdAt || b.seq - a.seq)
      .map((k) => k.key)
  }

  async addSigningKey(
    record: SigningKeyRecord,
    expectedNewestKid: string | null,
  ): Promise<boolean> {
    checkId(record.kid)
    if (expectedNewestKid !== null && !storable(expectedNewestKid)) return false
    const reply = await this.#redis.eval(ADD_SIGNING_KEY, [
      record.kid,
      opt(expectedNewestKid),
      num(record.createdAt),
      ...encodeKey(record),
    ])
    return Number(reply) === 1
  }

  async purgeSigningKeys(now: number): Promise<number> {
    return Number(await this.#redis.eval(PURGE_SIGNING_KEYS, [num(now)]))
  }

  /** Stores a refresh token; one with the same id is replaced. */
  async createRefresh(record: RefreshRecord): Promise<void> {
    checkId(record.id)
    await this.#redis.eval(CREATE_REFRESH, [
      record.id,
      num(record.expiresAt),
      ttl(record.createdAt, record.expiresAt),
      ...encodeRefresh(record),
    ])
  }

  /** One HGETALL. */
  async getRefresh(id: string): Promise<RefreshRecord | null> {
    if (!storable(id)) return null
    const reply = await this.#redis.send(['HGETALL', `${this.prefix}rt:${id}`])
    const h = hash(reply)
    return h.id === undefined ? null : decodeRefresh(h)
  }

  async rotateRefresh(
    id: string,
    successor: RefreshRecord,
    access: SuccessorAccess,
    at: number,
  ): Promise<RotateResult> {
    if (!storable(id)) return { status: 'missing' }
    checkId(successor.id)
    const reply = await this.#redis.eval(ROTATE_REFRESH, [
      id,
      num(at),
      successor.id,
      accessJson(access),
      num(successor.expiresAt),
      ttl(successor.createdAt, successor.expiresAt),
      ...encodeRefresh(successor),
    ])
    if (!Array.isArray(reply)) throw malformed()
    const [status, fields] = reply as [unknown, unknown]
    if (status === 'missing') return { status: 'missing' }
    if (status !== 'rotated' && status !== 'already') throw malformed()
    return { status, record: decodeRefresh(pairs(fields)) }
  }

  async purgeRefresh(now: number, limit: number): Promise<number> {
    const n = Math.min(Math.floor(limit), MAX_BATCH)
    if (!(n > 0)) return 0
    return Number(await this.#redis.eval(PURGE_REFRESH, [num(now), num(n)]))
  }

  async useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    const reply = await this.#redis.eval(USE_ONCE, [
      principalKey(key),
      num(expiresAt),
      num(now),
      ttl(now, expiresAt),
    ])
    return Number(reply) === 1
  }
}
