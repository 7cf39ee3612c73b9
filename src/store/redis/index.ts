/** @module RedisStore: the SessionStore on Redis (node-redis v6), one Lua script per operation. */

/*
 * Key layout (all under `prefix`, default `parley:`; docs/stores.md has the details):
 *
 *   <prefix>s:<id>      hash    a session: one field per record field (JSON for auth, client and
 *                               data; endedAt and endReason absent while null) plus `pk`
 *   <prefix>p:<pk>      zset    ACTIVE session ids of a principal, scored by lastSeenAt
 *   <prefix>exp         zset    ACTIVE session ids, scored by min(idleExpiresAt, absoluteExpiresAt)
 *   <prefix>ended       zset    ENDED session ids, scored by endedAt (what purge reads)
 *   <prefix>ev:s:<id>   stream  events of a session (MAXLEN ~1000)
 *   <prefix>ev:p:<pk>   stream  events of a principal (MAXLEN ~10000)
 *   <prefix>ev:sys      stream  events of neither, such as API key events (MAXLEN ~10000)
 *   <prefix>evseq       string  the store-wide event counter; an event's entry id is `<seq>-0`
 *   <prefix>k:<id>      hash    an API key (the hash of its secret only)
 *   <prefix>keys        zset    API key ids, scored by createdAt
 *
 * `<pk>` is base64url(SHA-256(principal)): no user input ever becomes key syntax (SEC-54).
 */
import { ErrorReply } from 'redis'
import type { StoreChange } from '../../core/cache.ts'
import { ParleyError, storeUnavailable } from '../../core/errors.ts'
import {
  type ActionContext,
  type AuditEvent,
  type AuditEventInput,
  type EndReason,
  expiresAt,
  type SessionRecord,
} from '../../core/session.ts'
import {
  type ApiKeyRecord,
  apiKeyEvent,
  type CreateInput,
  type CreateResult,
  type EventQuery,
  eventLimit,
  type SessionStore,
  type TouchInput,
  type UpdatePatch,
} from '../../core/store.ts'
import { type SubscriberLike, watchChanges } from './changes.ts'
import {
  decodeApiKey,
  decodeEventsNewestFirst,
  decodeScored,
  decodeSession,
  decodeSessions,
  encodeApiKey,
  encodeSession,
  eventArgs,
  num,
  opt,
  principalKey,
} from './codec.ts'
import { OwnedClient, type RedisClientLike, toParleyError } from './connection.ts'
import { RedisLiveStore } from './live.ts'
import {
  ALL_SCRIPTS,
  APPEND_EVENT,
  CREATE,
  CREATE_API_KEY,
  END,
  END_ALL,
  END_BY_PRINCIPAL,
  LIST_API_KEYS,
  LIST_BY_PRINCIPAL,
  type LuaScript,
  PURGE,
  REVOKE_API_KEY,
  SWEEP,
  TOUCH,
  UPDATE,
} from './scripts.ts'
import { RedisTokenStore } from './tokens.ts'
import { RedisUserStore } from './users.ts'

export type { RedisClientLike } from './connection.ts'
export { LIVE_EXPIRY_MARGIN_MS, type RedisLiveConnection, RedisLiveStore } from './live.ts'
export { type RedisTokenConnection, RedisTokenStore, TOKEN_EXPIRY_MARGIN_MS } from './tokens.ts'
export { type RedisUserConnection, RedisUserStore } from './users.ts'

export interface RedisStoreOptions {
  /** `redis[s]://[[user][:password]@]host[:port][/db]`; default `redis://127.0.0.1:6379`. */
  url?: string
  /**
   * An existing node-redis client, connected by its owner, which also closes it. Give it
   * `disableOfflineQueue: true` so that commands fail fast while it reconnects. It must not use
   * `keyPrefix`: the store prefixes its keys itself.
   */
  client?: RedisClientLike
  /** Prefix of every key the store writes; default `parley:`. */
  prefix?: string
  /** Time allowed to open a connection, in ms; default 5000. */
  connectTimeoutMs?: number
  /** Time allowed for a command's reply before ERR_STORE_UNAVAILABLE, in ms; default 2000. */
  commandTimeoutMs?: number
  /**
   * A safety net: ended sessions (and their session event stream) expire this long after they
   * ended, in case purge never runs. Keep it longer than the policy's retention; 0 for none.
   * Default 400 days.
   */
  endedTtlMs?: number
  /**
   * Revocations (every end) wait until this many replicas have acknowledged them (`WAIT`), so that
   * a failover cannot bring an ended session back; fewer acknowledgements within
   * `revocationWaitMs` give ERR_STORE_UNAVAILABLE (the end is applied on the primary; retrying it
   * is safe). Default 0: no wait, for a Redis without replicas.
   */
  revocationReplicas?: number
  /** How long a revocation waits for its replicas. Default 1000 ms. */
  revocationWaitMs?: number
}

const DAY = 24 * 60 * 60 * 1000
const END_ALL_BATCH = 1000
const MAX_BATCH = 1_000_000_000

function toBatch(limit: number): number {
  return Number.isFinite(limit) ? Math.min(Math.floor(limit), MAX_BATCH) : MAX_BATCH
}

function contextArgs(ctx: ActionContext): string[] {
  return [opt(ctx.actor), opt(ctx.ip), opt(ctx.userAgent)]
}

/**
 * A store on Redis. Each operation is one atomic Lua script (or one plain command for reads), so
 * many processes can share it. Needs a standalone Redis (or a primary with replicas), not Redis
 * Cluster. Every time comes from the caller's clock; Redis's own clock is never read.
 *
 * @example
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'myapp:parley:' })
 * await store.init()
 * const sessions = new Sessions({ store })
 */
export class RedisStore implements SessionStore {
  readonly kind = 'redis'
  readonly prefix: string
  readonly #client: RedisClientLike
  readonly #owned: OwnedClient | undefined
  readonly #commandTimeoutMs: number
  readonly #connectTimeoutMs: number
  readonly #replicas: number
  readonly #replicaWaitMs: number
  readonly #ttl: string
  #users: RedisUserStore | undefined
  #tokens: RedisTokenStore | undefined
  #live: RedisLiveStore | undefined
  readonly #onError = (_err: Error): void => {
    // Connection errors are reported to callers as ERR_STORE_UNAVAILABLE; the client reconnects.
  }

  constructor(options: RedisStoreOptions = {}) {
    this.prefix = options.prefix ?? 'parley:'
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 2000
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000
    this.#replicas = options.revocationReplicas ?? 0
    this.#replicaWaitMs = options.revocationWaitMs ?? 1000
    if (!Number.isInteger(this.#replicas) || this.#replicas < 0) {
      throw new ParleyError(
        'ERR_CONFIG_INVALID',
        'revocationReplicas must be a whole number, 0 or more',
      )
    }
    const ttl = options.endedTtlMs ?? 400 * DAY
    if (!Number.isInteger(ttl) || ttl < 0) {
      throw new ParleyError(
        'ERR_CONFIG_INVALID',
        'endedTtlMs must be a whole number of ms, 0 or more',
      )
    }
    this.#ttl = num(ttl)
    if (options.client !== undefined) {
      this.#client = options.client
      this.#owned = undefined
    } else {
      const owned = new OwnedClient({
        url: options.url ?? 'redis://127.0.0.1:6379',
        connectTimeoutMs: options.connectTimeoutMs ?? 5000,
        commandTimeoutMs: this.#commandTimeoutMs,
      })
      this.#client = owned.client
      this.#owned = owned
    }
    this.#client.on('error', this.#onError)
  }

  /** Connects (when the store made its client) and loads the scripts; safe to call again. */
  async init(): Promise<void> {
    try {
      await this.#owned?.open()
      await Promise.all(ALL_SCRIPTS.map((s) => this.#send(['SCRIPT', 'LOAD', s.source])))
    } catch (err) {
      throw toParleyError(err)
    }
  }

  /**
   * The user store under this store's prefix, on its client (one instance per store). Its `init()`
   * opens this store when needed; its `close()` leaves the connection open.
   */
  users(): RedisUserStore {
    this.#users ??= new RedisUserStore({
      prefix: this.prefix,
      open: () => this.init(),
      send: (args) => this.#send(args),
    })
    return this.#users
  }

  /**
   * The token store under this store's prefix, on its client (one instance per store). Its `init()`
   * opens this store when needed; its `close()` leaves the connection open.
   */
  tokens(): RedisTokenStore {
    this.#tokens ??= new RedisTokenStore({
      prefix: this.prefix,
      open: () => this.init(),
      send: (args) => this.#send(args),
    })
    return this.#tokens
  }

  /**
   * The live-session store under this store's prefix, on its client (one instance per store); its
   * audit events go to this store's event streams. Its `init()` opens this store when needed; its
   * `close()` leaves the connection open.
   */
  live(): RedisLiveStore {
    this.#live ??= new RedisLiveStore({
      prefix: this.prefix,
      endedTtl: this.#ttl,
      open: () => this.init(),
      send: (args) => this.#send(args),
    })
    return this.#live
  }

  /** Closes the client if the store made it; an existing client is left to its owner. */
  async close(): Promise<void> {
    if (this.#owned !== undefined) await this.#owned.close()
    else this.#client.off('error', this.#onError)
  }

  /**
   * The change feed for the session cache: ids of sessions ended or updated by any process, on a
   * second connection. Silence on a broken network is not detected by the feed itself: the cache's
   * TTL bounds how long a missed change can matter.
   */
  async watch(listener: (change: StoreChange) => void): Promise<() => Promise<void>> {
    if (typeof this.#client.duplicate !== 'function') {
      throw new ParleyError('ERR_CONFIG_INVALID', 'watch needs a client with duplicate()')
    }
    // Its own reconnect strategy (retry for ever) and connect timeout: the main client's strategy
    // gives up while that client is recovering, which would leave the feed down for good.
    const subscriber = this.#client.duplicate({
      socket: {
        connectTimeout: this.#connectTimeoutMs,
        reconnectStrategy: (retries: number) => Math.min(50 + retries * 50, 1000),
      },
    }) as SubscriberLike
    return watchChanges(
      subscriber,
      `${this.prefix}changes`,
      listener,
      this.#connectTimeoutMs + this.#commandTimeoutMs,
    )
  }

  /** Resolves when Redis answers a PING; rejects with ERR_STORE_UNAVAILABLE otherwise. */
  async ping(): Promise<void> {
    await this.#call(() => this.#send(['PING']))
  }

  /**
   * Creates a session in one script: ends the principal's expired sessions with their timeout,
   * evicts the least recently used at the limit (or refuses with ERR_SESSION_LIMIT), inserts,
   * indexes and records `session.created`.
   */
  async create(input: CreateInput): Promise<CreateResult> {
    const { record, context } = input
    if (!record.principal.isWellFormed()) {
      throw new ParleyError('ERR_VALIDATION', 'principal must be well-formed Unicode')
    }
    const pk = principalKey(record.principal)
    const reply = await this.#eval(CREATE, [
      record.id,
      pk,
      num(input.maxPerPrincipal),
      input.onLimit,
      num(context.at),
      ...contextArgs(context),
      num(record.lastSeenAt),
      num(expiresAt(record)),
      num(record.createdAt),
      record.principal,
      JSON.stringify({ factors: record.auth.factors, level: record.auth.level }),
      ...encodeSession(record, pk),
    ])
    const [status, ended] = reply as [string, unknown]
    if (status === 'limit') throw new ParleyError('ERR_SESSION_LIMIT')
    return { ended: decodeSessions(ended) }
  }

  /** Reads a session: one HGETALL, no script. */
  async get(id: string): Promise<SessionRecord | null> {
    return this.#call(async () => decodeSession(await this.#send(['HGETALL', this.#key('s:', id)])))
  }

  /** Moves lastSeenAt and the idle expiry forward while the session is active and unexpired. */
  async touch(id: string, input: TouchInput): Promise<SessionRecord | null> {
    const reply = await this.#eval(TOUCH, [id, num(input.at), num(input.idleExpiresAt)])
    return decodeSession(reply)
  }

  /** Applies `patch` when the version matches and the session is active; records `session.updated`. */
  async update(
    id: string,
    expectedVersion: number,
    patch: UpdatePatch,
    context: ActionContext,
  ): Promise<SessionRecord> {
    const reply = await this.#eval(UPDATE, [
      id,
      num(expectedVersion),
      opt(patch.data === undefined ? null : JSON.stringify(patch.data)),
      opt(patch.auth === undefined ? null : JSON.stringify(patch.auth)),
      num(context.at),
      ...contextArgs(context),
    ])
    const [status, detail] = reply as [string, unknown]
    switch (status) {
      case 'ok':
        return decodeSession(detail)!
      case 'not_found':
        throw new ParleyError('ERR_SESSION_NOT_FOUND')
      case 'ended':
        throw new ParleyError('ERR_SESSION_ENDED', undefined, {
          details: { reason: detail === '' || typeof detail !== 'string' ? null : detail },
        })
      default:
        throw new ParleyError('ERR_VERSION_CONFLICT')
    }
  }

  /** Ends an active session and records `session.ended`; null when missing or already ended. */
  async end(id: string, reason: EndReason, context: ActionContext): Promise<SessionRecord | null> {
    const reply = await this.#eval(END, [id, reason, num(context.at), ...contextArgs(context)])
    const ended = decodeSession(reply)
    if (ended !== null) await this.#confirmRevocation()
    return ended
  }

  /** Ends every active session of a principal except `exceptId`, in one script. */
  async endByPrincipal(
    principal: string,
    reason: EndReason,
    context: ActionContext,
    exceptId?: string,
  ): Promise<SessionRecord[]> {
    if (!principal.isWellFormed()) return []
    const reply = await this.#eval(END_BY_PRINCIPAL, [
      principalKey(principal),
      reason,
      num(context.at),
      ...contextArgs(context),
      opt(exceptId),
    ])
    const ended = decodeSessions(reply)
    if (ended.length > 0) await this.#confirmRevocation()
    return ended
  }

  /** Ends every active session, in atomic batches of 1000; returns how many. */
  async endAll(reason: EndReason, context: ActionContext): Promise<number> {
    let total = 0
    for (;;) {
      const reply = await this.#eval(END_ALL, [
        reason,
        num(context.at),
        ...contextArgs(context),
        num(END_ALL_BATCH),
      ])
      const [ended, examined] = reply as [number, number]
      total += Number(ended)
      if (Number(examined) < END_ALL_BATCH) {
        if (total > 0) await this.#confirmRevocation()
        return total
      }
    }
  }

  /** Active sessions of a principal, most recently used first (one script). */
  async listByPrincipal(principal: string): Promise<SessionRecord[]> {
    if (!principal.isWellFormed()) return []
    const reply = await this.#eval(LIST_BY_PRINCIPAL, [principalKey(principal)])
    return decodeSessions(reply).sort(
      (a, b) => b.lastSeenAt - a.lastSeenAt || b.createdAt - a.createdAt,
    )
  }

  /** Ends up to `limit` expired sessions, each with its timeout reason at its deadline. */
  async sweep(now: number, limit: number): Promise<SessionRecord[]> {
    const batch = toBatch(limit)
    if (batch <= 0) return []
    return decodeSessions(await this.#eval(SWEEP, [num(now), num(batch)]))
  }

  /** Deletes up to `limit` sessions that ended before `endedBefore`, with their events. */
  async purge(endedBefore: number, limit: number): Promise<number> {
    const batch = toBatch(limit)
    if (batch <= 0) return 0
    return Number(await this.#eval(PURGE, [num(endedBefore), num(batch)]))
  }

  /**
   * Sessions ended at or after `since`, oldest first, at most `limit`: one ZRANGE BYSCORE on the
   * `ended` index. Members of equal score come in byte order, which is id order.
   */
  async endedSince(since: number, limit: number): Promise<{ id: string; endedAt: number }[]> {
    const batch = toBatch(limit)
    if (batch <= 0 || Number.isNaN(since)) return []
    const min = Number.isFinite(since) ? num(since) : since < 0 ? '-inf' : '+inf'
    const reply = await this.#call(() =>
      this.#send([
        'ZRANGE',
        `${this.prefix}ended`,
        min,
        '+inf',
        'BYSCORE',
        'LIMIT',
        '0',
        num(batch),
        'WITHSCORES',
      ]),
    )
    return decodeScored(reply).map(([id, endedAt]) => ({ id, endedAt }))
  }

  /** Records an event in the streams of its session and its principal. */
  async appendEvent(event: AuditEventInput): Promise<void> {
    if (event.principal !== null && !event.principal.isWellFormed()) {
      throw new ParleyError('ERR_VALIDATION', 'principal must be well-formed Unicode')
    }
    await this.#eval(APPEND_EVENT, eventArgs(event))
  }

  /** The most recent `limit` events of a session or principal, oldest first (one XREVRANGE). */
  async events(query: EventQuery): Promise<AuditEvent[]> {
    let key: string
    if (query.sessionId !== undefined) key = this.#key('ev:s:', query.sessionId)
    else if (typeof query.principal === 'string' && query.principal.isWellFormed()) {
      key = this.#key('ev:p:', principalKey(query.principal))
    } else return []
    const count = num(eventLimit(query))
    return this.#call(async () =>
      decodeEventsNewestFirst(await this.#send(['XREVRANGE', key, '+', '-', 'COUNT', count])),
    )
  }

  /** Stores an API key (its secret's hash only) and records `api_key.created`. */
  async createApiKey(record: ApiKeyRecord, context: ActionContext): Promise<void> {
    await this.#eval(CREATE_API_KEY, [
      record.id,
      num(record.createdAt),
      ...eventArgs(apiKeyEvent('api_key.created', record, context)),
      ...encodeApiKey(record),
    ])
  }

  /** Reads an API key: one HGETALL. */
  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    return this.#call(async () => decodeApiKey(await this.#send(['HGETALL', this.#key('k:', id)])))
  }

  /** Every API key, oldest first. */
  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const reply = await this.#eval(LIST_API_KEYS, [])
    if (!Array.isArray(reply)) return []
    const keys: ApiKeyRecord[] = []
    for (const item of reply) {
      const key = decodeApiKey(item)
      if (key !== null) keys.push(key)
    }
    return keys.sort((a, b) => a.createdAt - b.createdAt)
  }

  /** Revokes a key and records `api_key.revoked`; false when unknown or already revoked. */
  async revokeApiKey(id: string, context: ActionContext): Promise<boolean> {
    const key = await this.getApiKey(id)
    if (key === null || key.revokedAt !== null) return false
    const reply = await this.#eval(REVOKE_API_KEY, [
      id,
      num(context.at),
      ...eventArgs(apiKeyEvent('api_key.revoked', key, context)),
    ])
    return Number(reply) === 1
  }

  /**
   * Deletes every key under this store's prefix (SCAN + UNLINK): for tests and teardown. Refuses
   * an empty prefix, which would match the whole database.
   */
  async destroyAll(): Promise<number> {
    if (this.prefix === '') {
      throw new ParleyError('ERR_CONFIG_INVALID', 'destroyAll needs a non-empty prefix')
    }
    const match = `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
    return this.#call(async () => {
      let cursor = '0'
      let n = 0
      do {
        const reply = await this.#send(['SCAN', cursor, 'MATCH', match, 'COUNT', '1000'])
        const [next, keys] = reply as [string, string[]]
        cursor = String(next)
        if (keys.length > 0) {
          await this.#send(['UNLINK', ...keys])
          n += keys.length
        }
      } while (cursor !== '0')
      return n
    })
  }

  /** `WAIT`s for the configured replicas after an end; too few acknowledgements fail closed. */
  async #confirmRevocation(): Promise<void> {
    if (this.#replicas === 0) return
    const acked = await this.#call(() =>
      this.#send(
        ['WAIT', num(this.#replicas), num(this.#replicaWaitMs)],
        this.#replicaWaitMs + this.#commandTimeoutMs,
      ),
    )
    if (Number(acked) < this.#replicas) {
      throw storeUnavailable(new Error(`WAIT: ${acked} of ${this.#replicas} replicas acknowledged`))
    }
  }

  #key(kind: string, id: string): string {
    return `${this.prefix}${kind}${id}`
  }

  /**
   * One command, bounded by `commandTimeoutMs` from start to reply. node-redis's own timeout stops
   * counting once the command is written, so a silent network (packets dropped, no reset) would
   * leave it waiting until TCP gives up; this timer fails it closed instead and, for a client the
   * store owns, replaces the stalled connection. A late reply after the timer is simply dropped.
   */
  #send(args: string[], timeoutMs = this.#commandTimeoutMs): Promise<unknown> {
    const pending = this.#client.sendCommand(args)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(storeUnavailable(new Error('Redis did not answer within commandTimeoutMs')))
        this.#owned?.stalled()
      }, timeoutMs)
      pending.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (err: unknown) => {
          clearTimeout(timer)
          reject(err)
        },
      )
    })
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw toParleyError(err)
    }
  }

  /** EVALSHA, falling back to EVAL when Redis has lost the script (a restart, SCRIPT FLUSH). */
  #eval(script: LuaScript, args: string[]): Promise<unknown> {
    const argv = [this.prefix, this.#ttl, ...args]
    return this.#call(async () => {
      try {
        return await this.#send(['EVALSHA', script.sha, '0', ...argv])
      } catch (err) {
        if (!(err instanceof ErrorReply) || !err.message.startsWith('NOSCRIPT')) throw err
        return await this.#send(['EVAL', script.source, '0', ...argv])
      }
    })
  }
}
