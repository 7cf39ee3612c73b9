/** @module PostgresStore: the SessionStore in PostgreSQL, for several instances sharing one database. */
import type pg from 'pg'
import { ParleyError } from '../../core/errors.ts'
import {
  type ActionContext,
  type AuditEvent,
  type AuditEventInput,
  createdEvent,
  type EndReason,
  expiresAt,
  type SessionRecord,
} from '../../core/session.ts'
import {
  type ApiKeyRecord,
  apiKeyEvent,
  type CreateInput,
  type CreateResult,
  DEFAULT_EVENT_LIMIT,
  type EventQuery,
  eventLimit,
  type SessionStore,
  type TouchInput,
  type UpdatePatch,
} from '../../core/store.ts'
import {
  type ApiKeyRow,
  type EventRow,
  eventParams,
  json,
  rowToApiKey,
  rowToEvent,
  rowToRecord,
  type SessionRow,
  sessionParams,
  toInt,
} from './codec.ts'
import { configError, createPool, type Query, runQuery, runTransaction } from './connection.ts'
import { PostgresLiveStore } from './live.ts'
import { migrate } from './migrations.ts'
import { isValidSchemaName, type Statements, statements } from './sql.ts'
import { PostgresTokenStore } from './tokens.ts'
import { PostgresUserStore } from './users.ts'

export { PostgresLiveStore, type PostgresLiveStoreOptions } from './live.ts'
export {
  LIVE_MIGRATIONS,
  MIGRATIONS,
  SCHEMA_VERSION,
  TOKEN_MIGRATIONS,
  USER_MIGRATIONS,
} from './migrations.ts'
export { PostgresTokenStore, type PostgresTokenStoreOptions } from './tokens.ts'
export { PostgresUserStore, type PostgresUserStoreOptions } from './users.ts'

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database`; ignored when `pool` is given. */
  connectionString?: string
  /** An existing pool to use instead of creating one; `close()` leaves it open. */
  pool?: pg.Pool
  /** The schema holding Parley's tables (created by `init()`). Default `parley`. */
  schema?: string
  /** Size of the pool the store creates. Default 10. */
  max?: number
  /** How long to wait for a connection before failing with ERR_STORE_UNAVAILABLE. Default 5000; 0 waits forever. */
  connectionTimeoutMs?: number
  /**
   * How long one statement may run before failing with ERR_STORE_UNAVAILABLE: enforced by the server
   * (`statement_timeout`) and, a second later, by the client (for a network that went silent).
   * Default 10000; 0 for no limit.
   */
  statementTimeoutMs?: number
}

const DEFAULT_SCHEMA = 'parley'
const INT32_MAX = 2 ** 31 - 1

/** PostgreSQL text cannot hold NUL: such an id or principal cannot name anything stored. */
function unstorable(text: string): boolean {
  return text.includes('\u0000')
}

/** A limit as a whole number within what an `integer` parameter takes. */
function clampLimit(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.min(INT32_MAX, Math.floor(n))) : 0
}

function byLeastRecentlyUsed(
  a: { lastSeenAt: number; createdAt: number; seq: number },
  b: { lastSeenAt: number; createdAt: number; seq: number },
): number {
  return a.lastSeenAt - b.lastSeenAt || a.createdAt - b.createdAt || a.seq - b.seq
}

/**
 * A store in PostgreSQL (15 or later). Each method is one statement or one transaction, so it is
 * atomic across every instance sharing the database. Times come only from the arguments, never
 * from the database clock.
 *
 * @example
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL })
 * await store.init()
 * const sessions = new Sessions({ store })
 */
export class PostgresStore implements SessionStore {
  readonly kind = 'postgres'
  /** The schema holding the store's tables. */
  readonly schema: string
  readonly #pool: pg.Pool
  readonly #ownsPool: boolean
  readonly #q: string
  readonly #sql: Statements
  #closed = false
  #users: PostgresUserStore | undefined
  #tokens: PostgresTokenStore | undefined
  #live: PostgresLiveStore | undefined
  /** An idle client whose connection drops is removed by the pool; the next query reconnects. */
  readonly #onPoolError = (_err: Error): void => {}

  constructor(options: PostgresStoreOptions = {}) {
    const schema = options.schema ?? DEFAULT_SCHEMA
    if (typeof schema !== 'string' || !isValidSchemaName(schema)) {
      throw configError('schema must match ^[a-z_][a-z0-9_]{0,62}$')
    }
    this.schema = schema
    this.#q = `"${schema}"`
    this.#sql = statements(this.#q)
    if (options.pool !== undefined) {
      if (options.connectionString !== undefined) {
        throw configError('give either pool or connectionString, not both')
      }
      this.#pool = options.pool
      this.#ownsPool = false
    } else {
      this.#pool = createPool(options)
      this.#ownsPool = true
    }
    this.#pool.on('error', this.#onPoolError)
  }

  /** Creates the schema when missing and applies pending migrations; safe to call again, and concurrently. */
  async init(): Promise<void> {
    await this.#transaction(async (_query, client) => {
      await migrate(client, this.schema, this.#q)
    })
  }

  /**
   * The user store in this store's schema, on its pool (one instance per store). Its `init()`
   * applies the user tables' migrations; its `close()` leaves the pool open.
   */
  users(): PostgresUserStore {
    this.#users ??= new PostgresUserStore({ pool: this.#pool, schema: this.schema })
    return this.#users
  }

  /**
   * The token store in this store's schema, on its pool (one instance per store). Its `init()`
   * applies the token tables' migrations; its `close()` leaves the pool open.
   */
  tokens(): PostgresTokenStore {
    this.#tokens ??= new PostgresTokenStore({ pool: this.#pool, schema: this.schema })
    return this.#tokens
  }

  /**
   * The live-session store in this store's schema, on its pool (one instance per store); its audit
   * events go to this store's events table in the same transaction. Its `init()` (or first use)
   * applies the live tables' migrations; its `close()` leaves the pool open.
   */
  live(): PostgresLiveStore {
    this.#live ??= new PostgresLiveStore({ pool: this.#pool, schema: this.schema })
    return this.#live
  }

  /** Ends the pool the store created; a pool passed in is left open for its owner. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ownsPool) await this.#pool.end()
    else this.#pool.off('error', this.#onPoolError)
  }

  /** Resolves when the database answers; rejects with ERR_STORE_UNAVAILABLE otherwise. */
  async ping(): Promise<void> {
    await this.#query(this.#sql.ping)
  }

  /**
   * Creates a session in one transaction: locks the principal's active sessions, ends the expired
   * ones with their timeout, evicts the least recently used over the limit (or refuses), inserts.
   * Concurrent creations for one principal are serialised by an advisory lock when there is a limit.
   */
  async create(input: CreateInput): Promise<CreateResult> {
    const { record, context } = input
    const outcome = await this.#transaction(async (query) => {
      const limited = input.maxPerPrincipal > 0
      if (limited) {
        // Serialises creations for this principal, so each counts what the one before it left.
        await query('SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))', [
          `parley:principal:${this.schema}:${record.principal}`,
        ])
      }
      // Without a limit only the expired sessions matter, and the live ones stay unlocked.
      const lockArgs = [record.principal, limited ? null : context.at]
      const held = (await query(this.#sql.lockPrincipal, lockArgs)).rows.map((row) => ({
        id: row.id as string,
        seq: toInt(row.seq),
        createdAt: toInt(row.created_at),
        lastSeenAt: toInt(row.last_seen_at),
        idleExpiresAt: toInt(row.idle_expires_at),
        absoluteExpiresAt: toInt(row.absolute_expires_at),
      }))
      const expired = held.filter((s) => context.at >= expiresAt(s))
      const live = held.filter((s) => context.at < expiresAt(s)).sort(byLeastRecentlyUsed)
      const ended: SessionRecord[] = []
      if (expired.length > 0) {
        const rows = await query(this.#sql.expire, [expired.map((s) => s.id)])
        ended.push(...rows.rows.map((row) => rowToRecord(row as SessionRow)))
      }
      if (limited && live.length >= input.maxPerPrincipal) {
        // Refusing still keeps the expiries: they are true whatever happens to this creation.
        if (input.onLimit === 'refuse') return { refused: true as const }
        const victims = live.slice(0, live.length - input.maxPerPrincipal + 1).map((s) => s.id)
        const rows = await query(this.#sql.evict, [
          victims,
          context.at,
          context.ip ?? null,
          context.userAgent ?? null,
        ])
        ended.push(...rows.rows.map((row) => rowToRecord(row as SessionRow)))
      }
      await query(this.#sql.insert, [
        ...sessionParams(record),
        ...eventParams(createdEvent(record, context)),
      ])
      return { refused: false as const, ended }
    })
    if (outcome.refused) throw new ParleyError('ERR_SESSION_LIMIT')
    return { ended: outcome.ended }
  }

  /** The session with this id, or null. */
  async get(id: string): Promise<SessionRecord | null> {
    if (unstorable(id)) return null
    const result = await this.#query(this.#sql.get, [id], 'get')
    const row = result.rows[0] as SessionRow | undefined
    return row === undefined ? null : rowToRecord(row)
  }

  /** One conditional UPDATE: moves lastSeenAt (and the idle expiry) forward while active and unexpired. */
  async touch(id: string, input: TouchInput): Promise<SessionRecord | null> {
    if (unstorable(id)) return null
    const result = await this.#query(this.#sql.touch, [id, input.at, input.idleExpiresAt], 'touch')
    const row = result.rows[0] as SessionRow | undefined
    return row === undefined ? null : rowToRecord(row)
  }

  /** Applies `patch` when the version matches and the session is active; bumps the version. */
  async update(
    id: string,
    expectedVersion: number,
    patch: UpdatePatch,
    context: ActionContext,
  ): Promise<SessionRecord> {
    if (unstorable(id)) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    // A version that no row can have still fails as it should: not found, ended, or a conflict.
    const version =
      Number.isInteger(expectedVersion) && Math.abs(expectedVersion) <= INT32_MAX
        ? expectedVersion
        : -1
    const result = await this.#query(this.#sql.update, [
      id,
      version,
      json(patch.data),
      json(patch.auth),
      context.at,
      context.actor ?? null,
      context.ip ?? null,
      context.userAgent ?? null,
    ])
    const row = result.rows[0] as SessionRow | undefined
    if (row !== undefined) return rowToRecord(row)
    // Nothing changed. Versions only grow and an end is final, so a later read tells why.
    const miss = await this.#query(this.#sql.updateMiss, [id])
    const current = miss.rows[0] as { state: string; end_reason: string | null } | undefined
    if (current === undefined) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    if (current.state !== 'active') {
      throw new ParleyError('ERR_SESSION_ENDED', undefined, {
        details: { reason: current.end_reason },
      })
    }
    throw new ParleyError('ERR_VERSION_CONFLICT')
  }

  /** Ends an active session and records the event in one statement; null when missing or already ended. */
  async end(id: string, reason: EndReason, context: ActionContext): Promise<SessionRecord | null> {
    if (unstorable(id)) return null
    const result = await this.#query(this.#sql.end, [id, reason, ...this.#contextParams(context)])
    const row = result.rows[0] as SessionRow | undefined
    return row === undefined ? null : rowToRecord(row)
  }

  /** Ends every active session of a principal except `exceptId`, in one statement. */
  async endByPrincipal(
    principal: string,
    reason: EndReason,
    context: ActionContext,
    exceptId?: string,
  ): Promise<SessionRecord[]> {
    if (unstorable(principal)) return []
    const except = exceptId === undefined || unstorable(exceptId) ? null : exceptId
    const result = await this.#query(this.#sql.endByPrincipal, [
      principal,
      reason,
      ...this.#contextParams(context),
      except,
    ])
    return result.rows.map((row) => rowToRecord(row as SessionRow))
  }

  /** Ends every active session in the store, in one statement; returns how many. */
  async endAll(reason: EndReason, context: ActionContext): Promise<number> {
    const result = await this.#query(this.#sql.endAll, [reason, ...this.#contextParams(context)])
    return Number(result.rows[0]?.n ?? 0)
  }

  /** Active sessions of a principal, most recently used first. */
  async listByPrincipal(principal: string): Promise<SessionRecord[]> {
    if (unstorable(principal)) return []
    const result = await this.#query(this.#sql.listByPrincipal, [principal], 'list')
    return result.rows.map((row) => rowToRecord(row as SessionRow))
  }

  /**
   * Ends up to `limit` expired sessions, earliest deadline first, each with its timeout reason and
   * `endedAt` at its deadline. Uses the expiry index and skips rows another transaction holds.
   */
  async sweep(now: number, limit: number): Promise<SessionRecord[]> {
    const n = clampLimit(limit)
    if (n === 0) return []
    const result = await this.#query(this.#sql.sweep, [now, n])
    return result.rows.map((row) => rowToRecord(row as SessionRow))
  }

  /** Deletes up to `limit` sessions that ended before `endedBefore`, with their events. */
  async purge(endedBefore: number, limit: number): Promise<number> {
    const n = clampLimit(limit)
    if (n === 0) return 0
    const result = await this.#query(this.#sql.purge, [endedBefore, n])
    return Number(result.rows[0]?.n ?? 0)
  }

  /** Sessions ended at or after `since`, oldest first (ties by id), at most `limit`. */
  async endedSince(since: number, limit: number): Promise<{ id: string; endedAt: number }[]> {
    const n = limit === Infinity ? INT32_MAX : clampLimit(limit)
    if (n === 0) return []
    const result = await this.#query(this.#sql.endedSince, [since, n])
    return result.rows.map((row) => ({ id: row.id as string, endedAt: toInt(row.ended_at) }))
  }

  /** Records an audit event. */
  async appendEvent(event: AuditEventInput): Promise<void> {
    await this.#query(this.#sql.appendEvent, eventParams(event))
  }

  /** The most recent `limit` events of a session or principal, oldest first. */
  async events(query: EventQuery): Promise<AuditEvent[]> {
    // eventLimit passes NaN through (Math.max/min of NaN); fall back to the default for it.
    const limit = Number.isNaN(eventLimit(query)) ? DEFAULT_EVENT_LIMIT : eventLimit(query)
    const bySession = query.sessionId !== undefined
    const key = bySession ? query.sessionId : query.principal
    if (unstorable(key)) return []
    const text = bySession ? this.#sql.eventsBySession : this.#sql.eventsByPrincipal
    const result = await this.#query(text, [key, limit])
    return result.rows.map((row) => rowToEvent(row as EventRow))
  }

  /** Stores an API key (its hash only) and records `api_key.created`, in one statement. */
  async createApiKey(record: ApiKeyRecord, context: ActionContext): Promise<void> {
    await this.#query(this.#sql.createApiKey, [
      record.id,
      record.secretHash,
      record.name,
      record.scope,
      record.createdAt,
      record.revokedAt ?? null,
      ...eventParams(apiKeyEvent('api_key.created', record, context)),
    ])
  }

  /** The API key with this id, or null. */
  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    if (unstorable(id)) return null
    const result = await this.#query(this.#sql.getApiKey, [id])
    const row = result.rows[0] as ApiKeyRow | undefined
    return row === undefined ? null : rowToApiKey(row)
  }

  /** Every API key, oldest first. */
  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const result = await this.#query(this.#sql.listApiKeys)
    return result.rows.map((row) => rowToApiKey(row as ApiKeyRow))
  }

  /** Revokes a key and records `api_key.revoked` in one transaction; false when unknown or revoked. */
  async revokeApiKey(id: string, context: ActionContext): Promise<boolean> {
    if (unstorable(id)) return false
    return this.#transaction(async (query) => {
      const result = await query(this.#sql.revokeApiKey, [id, context.at])
      const row = result.rows[0] as ApiKeyRow | undefined
      if (row === undefined) return false
      await query(
        this.#sql.appendEvent,
        eventParams(apiKeyEvent('api_key.revoked', rowToApiKey(row), context)),
      )
      return true
    })
  }

  #contextParams(context: ActionContext): unknown[] {
    return [context.at, context.actor ?? null, context.ip ?? null, context.userAgent ?? null]
  }

  #query(text: string, values: unknown[] = [], name?: string): Promise<pg.QueryResult> {
    // A named statement is prepared once per connection: for the hot path (get, touch, list).
    const prepared = name === undefined ? {} : { name: `parley:${this.schema}:${name}` }
    return runQuery(this.#pool, { ...prepared, text, values })
  }

  #transaction<T>(work: (query: Query, client: pg.PoolClient) => Promise<T>): Promise<T> {
    return runTransaction(this.#pool, work)
  }
}
