/** @module SqliteUserStore: the UserStore in the SQLite store's file, on its connection. */
import { createHash } from 'node:crypto'
import type { SQLInputValue } from 'node:sqlite'
import type { FailureCount, UserPatch, UserRecord, UserStore } from '../../auth/user-store.ts'
import { ParleyError } from '../../core/errors.ts'
import type { Row } from './codec.ts'
import { USER_MIGRATIONS } from './migrations.ts'
import { SharedSqlite, type SqliteConnection } from './shared.ts'

/** What a user store needs of the session store whose connection it shares. */
export type SqliteUserConnection = SqliteConnection

const COLUMNS =
  'id, username, password_hash, roles, permissions, disabled, totp_secret_enc, totp_confirmed, totp_enrolled_at, totp_last_used_step, recovery_codes, created_at, updated_at, version'

/** A username or id the store can hold and compare exactly: well-formed, no NUL (SQLite cuts at it). */
function storable(text: string): boolean {
  return typeof text === 'string' && text.isWellFormed() && !text.includes('\u0000')
}

/** Failure keys are stored as SHA-256 (base64url): any text, fixed length, never in the clear. */
function failureKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64url')
}

function checkWindow(windowMs: number): void {
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
    throw new ParleyError('ERR_CONFIG_INVALID', 'windowMs must be a whole number of ms, 1 or more')
  }
}

function toUser(row: Row): UserRecord {
  return {
    id: row.id as string,
    username: row.username as string,
    passwordHash: row.password_hash as string,
    roles: JSON.parse(row.roles as string),
    permissions: JSON.parse(row.permissions as string),
    disabled: row.disabled === 1,
    totp:
      row.totp_secret_enc === null
        ? null
        : {
            secretEnc: row.totp_secret_enc as string,
            confirmed: row.totp_confirmed === 1,
            enrolledAt: Number(row.totp_enrolled_at),
            lastUsedStep: Number(row.totp_last_used_step),
          },
    recoveryCodes: JSON.parse(row.recovery_codes as string),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    version: Number(row.version),
  }
}

/** The record's values in COLUMNS order. */
function userParams(u: UserRecord): SQLInputValue[] {
  return [
    u.id,
    u.username,
    u.passwordHash,
    JSON.stringify(u.roles),
    JSON.stringify(u.permissions),
    u.disabled ? 1 : 0,
    u.totp?.secretEnc ?? null,
    u.totp === null ? null : u.totp.confirmed ? 1 : 0,
    u.totp?.enrolledAt ?? null,
    u.totp?.lastUsedStep ?? null,
    JSON.stringify(u.recoveryCodes),
    u.createdAt,
    u.updatedAt,
    u.version,
  ]
}

function applyPatch(u: UserRecord, p: UserPatch): UserRecord {
  return {
    ...u,
    passwordHash: p.passwordHash ?? u.passwordHash,
    roles: p.roles ?? u.roles,
    permissions: p.permissions ?? u.permissions,
    disabled: p.disabled ?? u.disabled,
    totp: p.totp === undefined ? u.totp : p.totp,
    recoveryCodes: p.recoveryCodes ?? u.recoveryCodes,
    updatedAt: p.updatedAt,
    version: u.version + 1,
  }
}

/**
 * Users in the SQLite file of a {@link SqliteStore}, on its connection: get one with
 * `store.users()`. Every write is one IMMEDIATE transaction, so it is atomic across the processes
 * sharing the file. `init()` opens the session store if needed and applies the user tables'
 * migrations; `close()` leaves the connection to the session store.
 *
 * @example
 * const store = new SqliteStore({ path: './data/parley.db' })
 * const users = store.users()
 * await users.init()
 */
export class SqliteUserStore implements UserStore {
  readonly kind = 'sqlite'
  readonly #db: SharedSqlite

  constructor(connection: SqliteUserConnection) {
    this.#db = new SharedSqlite(connection)
  }

  /** Opens the shared database when needed and applies the user migrations; safe to call again. */
  async init(): Promise<void> {
    await this.#db.migrate(USER_MIGRATIONS)
  }

  /** Forgets its prepared statements; the connection belongs to the session store. */
  async close(): Promise<void> {
    this.#db.forget()
  }

  async createUser(record: UserRecord): Promise<void> {
    if (!storable(record.username) || !storable(record.id)) {
      throw new ParleyError(
        'ERR_VALIDATION',
        'username and id must be well-formed text without NUL',
      )
    }
    const inserted = this.#db.run(() =>
      this.#db.tx(
        () =>
          this.#db
            .q(
              `INSERT INTO users (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
            )
            .run(...userParams(record)).changes,
      ),
    )
    if (Number(inserted) === 0) throw new ParleyError('ERR_USER_EXISTS')
  }

  async getUser(id: string): Promise<UserRecord | null> {
    if (!storable(id)) return null
    return this.#db.run(() => {
      const row = this.#db.q(`SELECT ${COLUMNS} FROM users WHERE id = ?`).get(id) as Row | undefined
      return row === undefined ? null : toUser(row)
    })
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    if (!storable(username)) return null
    return this.#db.run(() => {
      const row = this.#db.q(`SELECT ${COLUMNS} FROM users WHERE username = ?`).get(username) as
        | Row
        | undefined
      return row === undefined ? null : toUser(row)
    })
  }

  async updateUser(id: string, expectedVersion: number, patch: UserPatch): Promise<UserRecord> {
    if (!storable(id)) throw new ParleyError('ERR_USER_NOT_FOUND')
    return this.#db.run(() =>
      this.#db.tx(() => {
        const row = this.#db.q(`SELECT ${COLUMNS} FROM users WHERE id = ?`).get(id) as
          | Row
          | undefined
        if (row === undefined) throw new ParleyError('ERR_USER_NOT_FOUND')
        const current = toUser(row)
        if (current.version !== expectedVersion) throw new ParleyError('ERR_VERSION_CONFLICT')
        const next = applyPatch(current, patch)
        const [, , ...values] = userParams(next) // id and username never change
        this.#db
          .q(
            `UPDATE users SET password_hash = ?, roles = ?, permissions = ?, disabled = ?,
             totp_secret_enc = ?, totp_confirmed = ?, totp_enrolled_at = ?, totp_last_used_step = ?,
             recovery_codes = ?, created_at = ?, updated_at = ?, version = ?
           WHERE id = ?`,
          )
          .run(...values, id)
        return toUser(this.#db.q(`SELECT ${COLUMNS} FROM users WHERE id = ?`).get(id) as Row)
      }),
    )
  }

  async useTotpStep(id: string, step: number): Promise<boolean> {
    if (!storable(id) || !Number.isSafeInteger(step)) return false
    const changes = this.#db.run(() =>
      this.#db.tx(
        () =>
          this.#db
            .q(
              `UPDATE users SET totp_last_used_step = ?
             WHERE id = ? AND totp_secret_enc IS NOT NULL AND totp_last_used_step < ?`,
            )
            .run(step, id, step).changes,
      ),
    )
    return Number(changes) > 0
  }

  async useRecoveryCode(id: string, codeHash: string): Promise<boolean> {
    if (!storable(id)) return false
    return this.#db.run(() =>
      this.#db.tx(() => {
        const row = this.#db.q('SELECT recovery_codes FROM users WHERE id = ?').get(id) as
          | Row
          | undefined
        if (row === undefined) return false
        const codes = JSON.parse(row.recovery_codes as string) as string[]
        const i = codes.indexOf(codeHash)
        if (i < 0) return false
        codes.splice(i, 1)
        this.#db
          .q('UPDATE users SET recovery_codes = ? WHERE id = ?')
          .run(JSON.stringify(codes), id)
        return true
      }),
    )
  }

  async recordFailure(key: string, at: number, windowMs: number): Promise<FailureCount> {
    checkWindow(windowMs)
    const row = this.#db.run(() =>
      this.#db.tx(
        () =>
          this.#db
            .q(
              `INSERT INTO auth_failures (key_hash, count, first_at, last_at, window_ends_at)
             VALUES (?1, 1, ?2, ?2, ?2 + ?3)
             ON CONFLICT (key_hash) DO UPDATE SET
               count = CASE WHEN ?2 >= first_at + ?3 THEN 1 ELSE count + 1 END,
               first_at = CASE WHEN ?2 >= first_at + ?3 THEN ?2 ELSE first_at END,
               window_ends_at = CASE WHEN ?2 >= first_at + ?3 THEN ?2 + ?3 ELSE first_at + ?3 END,
               last_at = ?2
             RETURNING count, first_at, last_at`,
            )
            .get(failureKey(key), at, windowMs) as Row,
      ),
    )
    return toFailure(row)
  }

  async getFailures(key: string, at: number, windowMs: number): Promise<FailureCount | null> {
    checkWindow(windowMs)
    return this.#db.run(() => {
      const row = this.#db
        .q(
          'SELECT count, first_at, last_at FROM auth_failures WHERE key_hash = ? AND ? < first_at + ?',
        )
        .get(failureKey(key), at, windowMs) as Row | undefined
      return row === undefined ? null : toFailure(row)
    })
  }

  async clearFailures(key: string): Promise<void> {
    this.#db.run(() =>
      this.#db.tx(() =>
        this.#db.q('DELETE FROM auth_failures WHERE key_hash = ?').run(failureKey(key)),
      ),
    )
  }

  /**
   * Deletes the failure counters whose window (as last recorded) ended at or before `before`: run
   * it now and then so that keys seen once do not pile up. Returns how many it deleted.
   */
  async purgeFailures(before: number): Promise<number> {
    return this.#db.run(() =>
      Number(
        this.#db.tx(
          () =>
            this.#db.q('DELETE FROM auth_failures WHERE window_ends_at <= ?').run(before).changes,
        ),
      ),
    )
  }
}

function toFailure(row: Row): FailureCount {
  return { count: Number(row.count), firstAt: Number(row.first_at), lastAt: Number(row.last_at) }
}
