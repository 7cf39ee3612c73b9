/** @module PostgresUserStore: the UserStore in the Postgres store's schema, on its pool. */
import { createHash } from 'node:crypto'
import type pg from 'pg'
import type { FailureCount, UserPatch, UserRecord, UserStore } from '../../auth/user-store.ts'
import { ParleyError } from '../../core/errors.ts'
import { toInt } from './codec.ts'
import { configError, runQuery, runTransaction } from './connection.ts'
import { migrate, USER_MIGRATIONS } from './migrations.ts'
import { isValidSchemaName } from './sql.ts'

export interface PostgresUserStoreOptions {
  /** The pool to share (a PostgresStore's); the user store never ends it. */
  pool: pg.Pool
  /** The schema holding the tables, as the session store's. Default `parley`. */
  schema?: string
}

type Int = string | number

interface UserRow {
  id: string
  username: string
  password_hash: string
  roles: string[]
  permissions: string[]
  disabled: boolean
  totp_secret_enc: string | null
  totp_confirmed: boolean | null
  totp_enrolled_at: Int | null
  totp_last_used_step: Int | null
  recovery_codes: string[]
  created_at: Int
  updated_at: Int
  version: number
}

interface FailureRow {
  count: number
  first_at: Int
  last_at: Int
}

const COLUMNS =
  'id, username, password_hash, roles, permissions, disabled, totp_secret_enc, totp_confirmed, totp_enrolled_at, totp_last_used_step, recovery_codes, created_at, updated_at, version'
const INT32_MAX = 2 ** 31 - 1

/** PostgreSQL text holds any well-formed string but NUL; anything else cannot name a stored user. */
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

function rowToUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    roles: row.roles,
    permissions: row.permissions,
    disabled: row.disabled,
    totp:
      row.totp_secret_enc === null
        ? null
        : {
            secretEnc: row.totp_secret_enc,
            confirmed: row.totp_confirmed === true,
            enrolledAt: toInt(row.totp_enrolled_at ?? 0),
            lastUsedStep: toInt(row.totp_last_used_step ?? 0),
          },
    recoveryCodes: row.recovery_codes,
    createdAt: toInt(row.created_at),
    updatedAt: toInt(row.updated_at),
    version: row.version,
  }
}

function rowToFailure(row: FailureRow): FailureCount {
  return { count: row.count, firstAt: toInt(row.first_at), lastAt: toInt(row.last_at) }
}

/** Every statement of the user store, built once for its schema. */
function statements(q: string) {
  return {
    /** The record's values in COLUMNS order. */
    create: `INSERT INTO ${q}.users (${COLUMNS})
VALUES ($1::text, $2::text, $3::text, $4::text[], $5::text[], $6::boolean, $7::text, $8::boolean,
        $9::bigint, $10::bigint, $11::text[], $12::bigint, $13::bigint, $14::integer)
ON CONFLICT DO NOTHING
RETURNING id`,

    getById: `SELECT ${COLUMNS} FROM ${q}.users WHERE id = $1::text`,
    getByName: `SELECT ${COLUMNS} FROM ${q}.users WHERE username = $1::text`,

    /**
     * $1 id, $2 expected version, $3 passwordHash, $4 roles, $5 permissions, $6 disabled,
     * $7 recoveryCodes (each null: unchanged), $8 whether totp is replaced, $9-$12 its fields
     * (null: no factor), $13 updatedAt. One conditional write: a concurrent one waits for the row
     * lock, then finds the version moved.
     */
    update: `UPDATE ${q}.users u SET
  password_hash = COALESCE($3::text, u.password_hash),
  roles = COALESCE($4::text[], u.roles),
  permissions = COALESCE($5::text[], u.permissions),
  disabled = COALESCE($6::boolean, u.disabled),
  recovery_codes = COALESCE($7::text[], u.recovery_codes),
  totp_secret_enc = CASE WHEN $8::boolean THEN $9::text ELSE u.totp_secret_enc END,
  totp_confirmed = CASE WHEN $8::boolean THEN $10::boolean ELSE u.totp_confirmed END,
  totp_enrolled_at = CASE WHEN $8::boolean THEN $11::bigint ELSE u.totp_enrolled_at END,
  totp_last_used_step = CASE WHEN $8::boolean THEN $12::bigint ELSE u.totp_last_used_step END,
  updated_at = $13::bigint,
  version = u.version + 1
WHERE u.id = $1::text AND u.version = $2::integer
RETURNING ${COLUMNS}`,

    exists: `SELECT 1 FROM ${q}.users WHERE id = $1::text`,

    /** $1 id, $2 step: only forward, only with a factor. */
    useTotpStep: `UPDATE ${q}.users SET totp_last_used_step = $2::bigint
WHERE id = $1::text AND totp_secret_enc IS NOT NULL AND totp_last_used_step < $2::bigint
RETURNING 1`,

    /** $1 id, $2 code hash: removes its first occurrence, keeping the order of the others. */
    useRecoveryCode: `UPDATE ${q}.users SET recovery_codes =
    recovery_codes[:array_position(recovery_codes, $2::text) - 1]
    || recovery_codes[array_position(recovery_codes, $2::text) + 1:]
WHERE id = $1::text AND array_position(recovery_codes, $2::text) IS NOT NULL
RETURNING 1`,

    /** $1 key hash, $2 at, $3 windowMs: one upsert, atomic under concurrency. */
    recordFailure: `INSERT INTO ${q}.auth_failures AS f (key_hash, count, first_at, last_at, window_ends_at)
VALUES ($1::text, 1, $2::bigint, $2::bigint, $2::bigint + $3::bigint)
ON CONFLICT (key_hash) DO UPDATE SET
  count = CASE WHEN $2::bigint >= f.first_at + $3::bigint THEN 1 ELSE f.count + 1 END,
  first_at = CASE WHEN $2::bigint >= f.first_at + $3::bigint THEN $2::bigint ELSE f.first_at END,
  window_ends_at = CASE WHEN $2::bigint >= f.first_at + $3::bigint
    THEN $2::bigint + $3::bigint ELSE f.first_at + $3::bigint END,
  last_at = $2::bigint
RETURNING count, first_at, last_at`,

    getFailures: `SELECT count, first_at, last_at FROM ${q}.auth_failures
WHERE key_hash = $1::text AND $2::bigint < first_at + $3::bigint`,

    clearFailures: `DELETE FROM ${q}.auth_failures WHERE key_hash = $1::text`,

    purgeFailures: `DELETE FROM ${q}.auth_failures WHERE window_ends_at <= $1::bigint`,
  }
}

/**
 * Users in the schema of a {@link PostgresStore}, on its pool: get one with `store.users()`. Each
 * method is one statement (a conditional write or an upsert), so it is atomic across every
 * instance sharing the database. `init()` applies the user tables' migrations (the session store's
 * need not have run); `close()` leaves the pool to its owner.
 *
 * @example
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL })
 * const users = store.users()
 * await users.init()
 */
export class PostgresUserStore implements UserStore {
  readonly kind = 'postgres'
  readonly schema: string
  readonly #pool: pg.Pool
  readonly #q: string
  readonly #sql: ReturnType<typeof statements>

  constructor(options: PostgresUserStoreOptions) {
    const schema = options.schema ?? 'parley'
    if (typeof schema !== 'string' || !isValidSchemaName(schema)) {
      throw configError('schema must match ^[a-z_][a-z0-9_]{0,62}$')
    }
    this.schema = schema
    this.#q = `"${schema}"`
    this.#sql = statements(this.#q)
    this.#pool = options.pool
  }

  /** Creates the schema when missing and applies the user migrations; safe to call again, and concurrently. */
  async init(): Promise<void> {
    await runTransaction(this.#pool, async (_query, client) => {
      await migrate(client, this.schema, this.#q, USER_MIGRATIONS)
    })
  }

  /** Nothing to release: the pool belongs to the session store (or whoever made it). */
  async close(): Promise<void> {}

  async createUser(record: UserRecord): Promise<void> {
    if (!storable(record.username) || !storable(record.id)) {
      throw new ParleyError(
        'ERR_VALIDATION',
        'username and id must be well-formed text without NUL',
      )
    }
    const t = record.totp
    const result = await this.#query(this.#sql.create, [
      record.id,
      record.username,
      record.passwordHash,
      record.roles,
      record.permissions,
      record.disabled,
      t?.secretEnc ?? null,
      t?.confirmed ?? null,
      t?.enrolledAt ?? null,
      t?.lastUsedStep ?? null,
      record.recoveryCodes,
      record.createdAt,
      record.updatedAt,
      record.version,
    ])
    if (result.rowCount === 0) throw new ParleyError('ERR_USER_EXISTS')
  }

  async getUser(id: string): Promise<UserRecord | null> {
    if (!storable(id)) return null
    return this.#one(this.#sql.getById, id)
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    if (!storable(username)) return null
    return this.#one(this.#sql.getByName, username)
  }

  async updateUser(id: string, expectedVersion: number, patch: UserPatch): Promise<UserRecord> {
    if (!storable(id)) throw new ParleyError('ERR_USER_NOT_FOUND')
    // A version that no row can have still fails as it should: not found or a conflict.
    const version =
      Number.isInteger(expectedVersion) && Math.abs(expectedVersion) <= INT32_MAX
        ? expectedVersion
        : -1
    const t = patch.totp
    const result = await this.#query(this.#sql.update, [
      id,
      version,
      patch.passwordHash ?? null,
      patch.roles ?? null,
      patch.permissions ?? null,
      patch.disabled ?? null,
      patch.recoveryCodes ?? null,
      t !== undefined,
      t?.secretEnc ?? null,
      t?.confirmed ?? null,
      t?.enrolledAt ?? null,
      t?.lastUsedStep ?? null,
      patch.updatedAt,
    ])
    const row = result.rows[0] as UserRow | undefined
    if (row !== undefined) return rowToUser(row)
    // Nothing changed; users are never deleted, so a later read tells why.
    const miss = await this.#query(this.#sql.exists, [id])
    throw new ParleyError(miss.rowCount === 0 ? 'ERR_USER_NOT_FOUND' : 'ERR_VERSION_CONFLICT')
  }

  async useTotpStep(id: string, step: number): Promise<boolean> {
    if (!storable(id) || !Number.isSafeInteger(step)) return false
    return (await this.#query(this.#sql.useTotpStep, [id, step])).rowCount === 1
  }

  async useRecoveryCode(id: string, codeHash: string): Promise<boolean> {
    if (!storable(id) || !storable(codeHash)) return false
    return (await this.#query(this.#sql.useRecoveryCode, [id, codeHash])).rowCount === 1
  }

  async recordFailure(key: string, at: number, windowMs: number): Promise<FailureCount> {
    checkWindow(windowMs)
    const result = await this.#query(this.#sql.recordFailure, [failureKey(key), at, windowMs])
    return rowToFailure(result.rows[0] as FailureRow)
  }

  async getFailures(key: string, at: number, windowMs: number): Promise<FailureCount | null> {
    checkWindow(windowMs)
    const result = await this.#query(this.#sql.getFailures, [failureKey(key), at, windowMs])
    const row = result.rows[0] as FailureRow | undefined
    return row === undefined ? null : rowToFailure(row)
  }

  async clearFailures(key: string): Promise<void> {
    await this.#query(this.#sql.clearFailures, [failureKey(key)])
  }

  /**
   * Deletes the failure counters whose window (as last recorded) ended at or before `before`: run
   * it now and then so that keys seen once do not pile up. Returns how many it deleted.
   */
  async purgeFailures(before: number): Promise<number> {
    return (await this.#query(this.#sql.purgeFailures, [before])).rowCount ?? 0
  }

  async #one(text: string, value: string): Promise<UserRecord | null> {
    const row = (await this.#query(text, [value])).rows[0] as UserRow | undefined
    return row === undefined ? null : rowToUser(row)
  }

  #query(text: string, values: unknown[]): Promise<pg.QueryResult> {
    return runQuery(this.#pool, { text, values })
  }
}
