/**
 * @module SqliteStore: the embedded default store, on `node:sqlite` in write-ahead-log mode.
 * One file, versioned migrations, each operation one IMMEDIATE transaction.
 */
import { chmodSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite'
import type { StoreChange } from '../../core/cache.ts'
import { ParleyError, storeUnavailable } from '../../core/errors.ts'
import {
  type ActionContext,
  type AuditEvent,
  type AuditEventInput,
  createdEvent,
  type EndReason,
  endedEvent,
  endRecord,
  expiresAt,
  expiryReason,
  type SessionRecord,
  updatedEvent,
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
import { arrayToRecord, COLUMNS, type Row, toApiKey, toEvent, toRecord, wrap } from './codec.ts'
import { SqliteLiveStore } from './live.ts'
import { MIGRATIONS } from './migrations.ts'
import { SqliteTokenStore } from './tokens.ts'
import { SqliteUserStore } from './users.ts'

export { LIVE_MIGRATIONS, type SqliteLiveConnection, SqliteLiveStore } from './live.ts'
export { type SqliteTokenConnection, SqliteTokenStore } from './tokens.ts'
export { type SqliteUserConnection, SqliteUserStore } from './users.ts'

export interface SqliteStoreOptions {
  /** Database file; `:memory:` for a private in-memory database. Default `./data/parley.db`. */
  path?: string
  /** How long to wait for another process's write lock before ERR_STORE_UNAVAILABLE. Default 5000 ms. */
  busyTimeoutMs?: number
  /**
   * `NORMAL` (default) survives a crash of the process (kill -9); `FULL` also survives a power
   * loss, at the cost of an fsync per commit.
   */
  synchronous?: 'NORMAL' | 'FULL'
  /**
   * How often `watch` reads the audit log for sessions that other processes ended or changed:
   * the bound on how long a cached session can outlive its end elsewhere. Default 250 ms.
   */
  watchIntervalMs?: number
}

/**
 * The embedded store. Safe to share one file between processes (the server and the CLI):
 * writers take SQLite's write lock, readers never wait for it (WAL).
 *
 * @example
 * const store = new SqliteStore({ path: './data/parley.db' })
 * await store.init()
 */
export class SqliteStore implements SessionStore {
  readonly kind = 'sqlite'
  readonly path: string
  #options: Required<SqliteStoreOptions>
  #db: DatabaseSync | null = null
  #stmts = new Map<string, StatementSync>()
  #getStmt: StatementSync | null = null
  #users: SqliteUserStore | undefined
  #tokens: SqliteTokenStore | undefined
  #live: SqliteLiveStore | undefined

  constructor(options: SqliteStoreOptions = {}) {
    this.#options = {
      path: './data/parley.db',
      busyTimeoutMs: 5000,
      synchronous: 'NORMAL',
      watchIntervalMs: 250,
      ...options,
    }
    this.path = this.#options.path
  }

  async init(): Promise<void> {
    if (this.#db !== null) return
    try {
      if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
      const db = new DatabaseSync(this.path, { timeout: this.#options.busyTimeoutMs })
      if (this.path !== ':memory:') chmodSync(this.path, 0o600)
      db.exec(
        `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${this.#options.synchronous}; PRAGMA foreign_keys = ON;`,
      )
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY) STRICT')
      this.#db = db
      this.#tx(() => {
        const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as Row
        const current = Number(row.v ?? 0)
        for (const m of MIGRATIONS) {
          if (m.version <= current) continue
          db.exec(m.sql)
          db.prepare('INSERT INTO schema_migrations (version) VALUES (?)').run(m.version)
        }
      })
    } catch (err) {
      throw wrap(err)
    }
  }

  /** The schema version applied to the database file. */
  schemaVersion(): number {
    return Number(
      (this.#database().prepare('SELECT max(version) AS v FROM schema_migrations').get() as Row)
        .v ?? 0,
    )
  }

  /**
   * The user store in this database file, on this store's connection (one instance per store). Its
   * `init()` opens this store when needed; its `close()` leaves the connection open.
   */
  users(): SqliteUserStore {
    this.#users ??= new SqliteUserStore({
      open: () => this.init(),
      database: () => this.#database(),
    })
    return this.#users
  }

  /**
   * The token store in this database file, on this store's connection (one instance per store).
   * Its `init()` opens this store when needed; its `close()` leaves the connection open.
   */
  tokens(): SqliteTokenStore {
    this.#tokens ??= new SqliteTokenStore({
      open: () => this.init(),
      database: () => this.#database(),
    })
    return this.#tokens
  }

  /**
   * The live-session store in this database file, on this store's connection (one instance per
   * store); its audit events go to this store's events table in the same transaction. Its `init()`
   * (or first use) opens this store when needed; its `close()` leaves the connection open.
   */
  live(): SqliteLiveStore {
    this.#live ??= new SqliteLiveStore({
      open: () => this.init(),
      database: () => this.#database(),
      appendEvent: (event) => this.#append(event),
    })
    return this.#live
  }

  async close(): Promise<void> {
    this.#stmts.clear()
    this.#getStmt = null
    this.#db?.close()
    this.#db = null
  }

  async ping(): Promise<void> {
    this.#run(() => this.#q('SELECT 1').get())
  }

  async create(input: CreateInput): Promise<CreateResult> {
    const { record, context } = input
    return this.#run(() =>
      this.#tx(() => {
        const ended: SessionRecord[] = []
        const live: SessionRecord[] = []
        const rows = this.#q(
          `SELECT ${COLUMNS} FROM sessions WHERE principal = ? AND state = 'active' ORDER BY last_seen_at, created_at`,
        ).all(record.principal) as Row[]
        for (const row of rows) {
          const other = toRecord(row)
          if (context.at >= expiresAt(other)) {
            ended.push(
              this.#end(other, expiryReason(other), { at: expiresAt(other), actor: 'system' }),
            )
          } else live.push(other)
        }
        if (input.maxPerPrincipal > 0 && live.length >= input.maxPerPrincipal) {
          if (input.onLimit === 'refuse') throw new ParleyError('ERR_SESSION_LIMIT')
          for (const victim of live.slice(0, live.length - input.maxPerPrincipal + 1)) {
            ended.push(this.#end(victim, 'evicted_by_limit', { ...context, actor: 'system' }))
          }
        }
        this.#q(
          `INSERT INTO sessions (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          record.id,
          record.secretHash,
          record.principal,
          record.state,
          record.createdAt,
          record.lastSeenAt,
          record.idleTimeoutMs,
          record.idleExpiresAt,
          record.absoluteExpiresAt,
          record.endedAt,
          record.endReason,
          JSON.stringify(record.auth),
          record.client.ip,
          record.client.userAgent,
          JSON.stringify(record.data),
          record.version,
        )
        this.#append(createdEvent(record, context))
        return { ended }
      }),
    )
  }

  async get(id: string): Promise<SessionRecord | null> {
    return this.#run(() => {
      let stmt = this.#getStmt
      if (stmt === null) {
        stmt = this.#getStmt = this.#database().prepare(
          `SELECT ${COLUMNS} FROM sessions WHERE id = ?`,
        )
        stmt.setReturnArrays(true)
      }
      const row = stmt.get(id) as unknown as SQLInputValue[] | undefined
      return row === undefined ? null : arrayToRecord(row)
    })
  }

  async touch(id: string, input: TouchInput): Promise<SessionRecord | null> {
    return this.#run(() => {
      const row = this.#q(
        `UPDATE sessions SET
           idle_expires_at = CASE WHEN ? > last_seen_at THEN min(max(idle_expires_at, ?), absolute_expires_at) ELSE idle_expires_at END,
           last_seen_at = max(last_seen_at, ?)
         WHERE id = ? AND state = 'active' AND ? < min(idle_expires_at, absolute_expires_at)
         RETURNING ${COLUMNS}`,
      ).get(input.at, input.idleExpiresAt, input.at, id, input.at) as Row | undefined
      return row === undefined ? null : toRecord(row)
    })
  }

  async update(
    id: string,
    expectedVersion: number,
    patch: UpdatePatch,
    context: ActionContext,
  ): Promise<SessionRecord> {
    return this.#run(() =>
      this.#tx(() => {
        const row = this.#q(`SELECT ${COLUMNS} FROM sessions WHERE id = ?`).get(id) as
          | Row
          | undefined
        if (row === undefined) throw new ParleyError('ERR_SESSION_NOT_FOUND')
        const r = toRecord(row)
        if (r.state !== 'active')
          throw new ParleyError('ERR_SESSION_ENDED', undefined, {
            details: { reason: r.endReason },
          })
        if (r.version !== expectedVersion) throw new ParleyError('ERR_VERSION_CONFLICT')
        const next: SessionRecord = {
          ...r,
          data: patch.data ?? r.data,
          auth: patch.auth ?? r.auth,
          version: r.version + 1,
        }
        this.#q('UPDATE sessions SET data = ?, auth = ?, version = ? WHERE id = ?').run(
          JSON.stringify(next.data),
          JSON.stringify(next.auth),
          next.version,
          id,
        )
        this.#append(updatedEvent(next, context))
        return next
      }),
    )
  }

  async end(id: string, reason: EndReason, context: ActionContext): Promise<SessionRecord | null> {
    return this.#run(() =>
      this.#tx(() => {
        const row = this.#q(
          `SELECT ${COLUMNS} FROM sessions WHERE id = ? AND state = 'active'`,
        ).get(id) as Row | undefined
        return row === undefined ? null : this.#end(toRecord(row), reason, context)
      }),
    )
  }

  async endByPrincipal(
    principal: string,
    reason: EndReason,
    context: ActionContext,
    exceptId?: string,
  ): Promise<SessionRecord[]> {
    return this.#run(() =>
      this.#tx(() => {
        const rows = this.#q(
          `SELECT ${COLUMNS} FROM sessions WHERE principal = ? AND state = 'active' AND id != ?`,
        ).all(principal, exceptId ?? '') as Row[]
        return rows.map((row) => this.#end(toRecord(row), reason, context))
      }),
    )
  }

  async endAll(reason: EndReason, context: ActionContext): Promise<number> {
    return this.#run(() =>
      this.#tx(() => {
        const rows = this.#q(
          `SELECT ${COLUMNS} FROM sessions WHERE state = 'active'`,
        ).all() as Row[]
        for (const row of rows) this.#end(toRecord(row), reason, context)
        return rows.length
      }),
    )
  }

  async listByPrincipal(principal: string): Promise<SessionRecord[]> {
    return this.#run(() =>
      (
        this.#q(
          `SELECT ${COLUMNS} FROM sessions WHERE principal = ? AND state = 'active' ORDER BY last_seen_at DESC, created_at DESC`,
        ).all(principal) as Row[]
      ).map(toRecord),
    )
  }

  async sweep(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#run(() =>
      this.#tx(() => {
        const rows = this.#q(
          `SELECT ${COLUMNS} FROM sessions WHERE state = 'active' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
        ).all(now, limit) as Row[]
        return rows.map((row) => {
          const r = toRecord(row)
          return this.#end(r, expiryReason(r), { at: expiresAt(r), actor: 'system' })
        })
      }),
    )
  }

  async purge(endedBefore: number, limit: number): Promise<number> {
    return this.#run(() =>
      this.#tx(() => {
        const ids = (
          this.#q(`SELECT id FROM sessions WHERE state = 'ended' AND ended_at < ? LIMIT ?`).all(
            endedBefore,
            limit,
          ) as Row[]
        ).map((r) => r.id as string)
        for (const id of ids) {
          this.#q('DELETE FROM events WHERE session_id = ?').run(id)
          this.#q('DELETE FROM sessions WHERE id = ?').run(id)
        }
        return ids.length
      }),
    )
  }

  /** Walks the `sessions_ended` index from `since`; ties in id order. */
  async endedSince(since: number, limit: number): Promise<{ id: string; endedAt: number }[]> {
    // SQLite reads LIMIT -1 as no limit: only +Infinity may ask for that.
    const n = limit === Infinity ? -1 : Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0
    if (n === 0) return []
    return this.#run(() =>
      (
        this.#q(
          `SELECT id, ended_at FROM sessions WHERE state = 'ended' AND ended_at >= ? ORDER BY ended_at, id LIMIT ?`,
        ).all(since, n) as Row[]
      ).map((row) => ({ id: row.id as string, endedAt: Number(row.ended_at) })),
    )
  }

  /**
   * The change feed for the session cache: every end and update is an event in the audit log (written
   * in the same transaction), so reading the log past a cursor every `watchIntervalMs` tells this
   * process what any process sharing the file changed. A failed read reports the link down (the
   * cache then stands aside) until a read succeeds again.
   */
  async watch(listener: (change: StoreChange) => void): Promise<() => Promise<void>> {
    const latest = () =>
      Number((this.#q('SELECT COALESCE(MAX(id), 0) AS id FROM events').get() as { id: number }).id)
    let cursor = this.#run(latest)
    let up = true
    listener({ type: 'link', up: true })
    const read = () =>
      this.#q(
        "SELECT id, session_id, type FROM events WHERE id > ? AND type IN ('session.ended', 'session.updated') ORDER BY id LIMIT 1000",
      ).all(cursor) as { id: number; session_id: string | null; type: string }[]
    const tick = () => {
      try {
        for (;;) {
          const rows = this.#run(read)
          for (const row of rows) {
            cursor = Number(row.id)
            listener(
              row.session_id === null
                ? { type: 'flush' }
                : { type: 'invalidate', id: row.session_id },
            )
          }
          if (rows.length < 1000) break
        }
        if (!up) {
          up = true
          listener({ type: 'link', up: true })
        }
      } catch {
        if (up) {
          up = false
          listener({ type: 'link', up: false })
        }
      }
    }
    const timer = setInterval(tick, this.#options.watchIntervalMs)
    timer.unref()
    return async () => {
      clearInterval(timer)
      if (up) listener({ type: 'link', up: false })
      up = false
    }
  }

  async appendEvent(event: AuditEventInput): Promise<void> {
    this.#run(() => this.#append(event))
  }

  async events(query: EventQuery): Promise<AuditEvent[]> {
    return this.#run(() => {
      const [column, value] =
        query.sessionId !== undefined
          ? ['session_id', query.sessionId]
          : ['principal', query.principal]
      const rows = this.#q(
        `SELECT * FROM (SELECT * FROM events WHERE ${column} = ? ORDER BY id DESC LIMIT ?) ORDER BY id`,
      ).all(value, eventLimit(query)) as Row[]
      return rows.map(toEvent)
    })
  }

  async createApiKey(record: ApiKeyRecord, context: ActionContext): Promise<void> {
    this.#run(() =>
      this.#tx(() => {
        this.#q(
          'INSERT INTO api_keys (id, secret_hash, name, scope, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)',
        ).run(
          record.id,
          record.secretHash,
          record.name,
          record.scope,
          record.createdAt,
          record.revokedAt,
        )
        this.#append(apiKeyEvent('api_key.created', record, context))
      }),
    )
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    return this.#run(() => {
      const row = this.#q('SELECT * FROM api_keys WHERE id = ?').get(id) as Row | undefined
      return row === undefined ? null : toApiKey(row)
    })
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.#run(() =>
      (this.#q('SELECT * FROM api_keys ORDER BY created_at, id').all() as Row[]).map(toApiKey),
    )
  }

  async revokeApiKey(id: string, context: ActionContext): Promise<boolean> {
    return this.#run(() =>
      this.#tx(() => {
        const row = this.#q(
          'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING *',
        ).get(context.at, id) as Row | undefined
        if (row === undefined) return false
        this.#append(apiKeyEvent('api_key.revoked', toApiKey(row), context))
        return true
      }),
    )
  }

  #database(): DatabaseSync {
    if (this.#db === null) throw storeUnavailable(new Error('the SQLite store is not open'))
    return this.#db
  }

  #q(sql: string): StatementSync {
    let stmt = this.#stmts.get(sql)
    if (stmt === undefined) {
      stmt = this.#database().prepare(sql)
      this.#stmts.set(sql, stmt)
    }
    return stmt
  }

  #run<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw wrap(err)
    }
  }

  #tx<T>(fn: () => T): T {
    const db = this.#database()
    db.exec('BEGIN IMMEDIATE')
    try {
      const result = fn()
      db.exec('COMMIT')
      return result
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK')
      throw err
    }
  }

  #end(r: SessionRecord, reason: EndReason, context: ActionContext): SessionRecord {
    const ended = endRecord(r, reason, context.at)
    this.#q(
      `UPDATE sessions SET state = 'ended', ended_at = ?, end_reason = ?, version = ? WHERE id = ?`,
    ).run(ended.endedAt, reason, ended.version, r.id)
    this.#append(endedEvent(r, reason, context))
    return ended
  }

  #append(e: AuditEventInput): void {
    this.#q(
      'INSERT INTO events (at, type, session_id, principal, reason, actor, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      e.at,
      e.type,
      e.sessionId,
      e.principal,
      e.reason,
      e.actor,
      e.ip,
      e.userAgent,
      e.detail === null ? null : JSON.stringify(e.detail),
    )
  }
}
