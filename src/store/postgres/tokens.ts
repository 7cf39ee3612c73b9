/** @module PostgresTokenStore: the TokenStore in the Postgres store's schema, on its pool. */

/*
 * Tables (TOKEN_MIGRATIONS, version 3), in the session store's schema:
 *
 *   signing_keys    kid, seq (insertion order, breaks ties on created_at), alg, public_jwk (jsonb),
 *                   private_key_enc (sealed), created_at, retires_at, expires_at
 *   refresh_tokens  one row per refresh token (the SHA-256 of its secret only); successorAccess as
 *                   successor_jti, successor_iat, successor_exp (all null until rotated); indexed
 *                   on expires_at (purge) and session_id
 *   single_use      key_hash (base64url SHA-256 of the caller's key, SEC-54), expires_at (indexed)
 */
import { createHash } from 'node:crypto'
import type pg from 'pg'
import type {
  RefreshRecord,
  RotateResult,
  SigningKeyRecord,
  SuccessorAccess,
  TokenStore,
} from '../../tokens/token-store.ts'
import { toInt } from './codec.ts'
import { configError, runQuery, runTransaction } from './connection.ts'
import { migrate, TOKEN_MIGRATIONS } from './migrations.ts'
import { isValidSchemaName } from './sql.ts'

export interface PostgresTokenStoreOptions {
  /** The pool to share (a PostgresStore's); the token store never ends it. */
  pool: pg.Pool
  /** The schema holding the tables, as the session store's. Default `parley`. */
  schema?: string
}

type Int = string | number

interface KeyRow {
  kid: string
  alg: SigningKeyRecord['alg']
  public_jwk: Record<string, string>
  private_key_enc: string
  created_at: Int
  retires_at: Int
  expires_at: Int
}

interface RefreshRow {
  id: string
  secret_hash: string
  session_id: string
  client_id: string
  created_at: Int
  expires_at: Int
  rotated_at: Int | null
  successor_id: string | null
  successor_jti: string | null
  successor_iat: Int | null
  successor_exp: Int | null
  jkt: string | null
}

const KEY_COLUMNS = 'kid, alg, public_jwk, private_key_enc, created_at, retires_at, expires_at'
const REFRESH_COLUMNS =
  'id, secret_hash, session_id, client_id, created_at, expires_at, rotated_at, successor_id, successor_jti, successor_iat, successor_exp, jkt'
const REFRESH_TYPES = 'text text text text bigint bigint bigint text text bigint bigint text'
/** REFRESH_COLUMNS as bind parameters, numbered from `from`. */
const refreshValues = (from: number): string =>
  REFRESH_TYPES.split(' ')
    .map((type, i) => `$${from + i}::${type}`)
    .join(', ')
/** Replaces every column of a row whose id is taken (as the memory store's Map.set does). */
const REPLACE = `ON CONFLICT (id) DO UPDATE SET ${REFRESH_COLUMNS.split(', ')
  .slice(1)
  .map((c) => `${c} = EXCLUDED.${c}`)
  .join(', ')}`

const INT32_MAX = 2 ** 31 - 1
/** Every this many `useOnce` calls, one statement deletes up to ONCE_CLEANUP_BATCH old entries. */
const ONCE_CLEANUP_EVERY = 32
const ONCE_CLEANUP_BATCH = 64
/**
 * Expired single-use rows are deleted only this long after their expiry (on the deleting caller's
 * clock), so that a caller whose clock is behind still finds them. 5 minutes.
 */
const ONCE_GRACE_MS = 5 * 60_000

/** Single-use keys are stored as SHA-256 (base64url): any text, fixed length, never in clear. */
function onceKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64url')
}

/** PostgreSQL text cannot hold NUL: such an id cannot name anything stored. */
const unstorable = (text: string): boolean => typeof text !== 'string' || text.includes('\u0000')

const intOrNull = (v: Int | null): number | null => (v === null ? null : toInt(v))

function rowToKey(row: KeyRow): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.public_jwk,
    privateKeyEnc: row.private_key_enc,
    createdAt: toInt(row.created_at),
    retiresAt: toInt(row.retires_at),
    expiresAt: toInt(row.expires_at),
  }
}

function rowToRefresh(row: RefreshRow): RefreshRecord {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    sessionId: row.session_id,
    clientId: row.client_id,
    createdAt: toInt(row.created_at),
    expiresAt: toInt(row.expires_at),
    rotatedAt: intOrNull(row.rotated_at),
    successorId: row.successor_id,
    successorAccess:
      row.successor_jti === null
        ? null
        : {
            jti: row.successor_jti,
            iat: toInt(row.successor_iat ?? 0),
            exp: toInt(row.successor_exp ?? 0),
          },
    jkt: row.jkt,
  }
}

/** The record's values in REFRESH_COLUMNS order. */
function refreshParams(r: RefreshRecord): unknown[] {
  const a = r.successorAccess
  return [
    r.id,
    r.secretHash,
    r.sessionId,
    r.clientId,
    r.createdAt,
    r.expiresAt,
    r.rotatedAt,
    r.successorId,
    a?.jti ?? null,
    a?.iat ?? null,
    a?.exp ?? null,
    r.jkt,
  ]
}

/** Every statement of the token store, built once for its schema. */
function statements(q: string) {
  const newest = `SELECT kid FROM ${q}.signing_keys ORDER BY created_at DESC, seq DESC LIMIT 1`
  return {
    listKeys: `SELECT ${KEY_COLUMNS} FROM ${q}.signing_keys ORDER BY created_at DESC, seq DESC`,

    /** The key ($1..$7), $8 the expected newest kid or null. Run under the signing-key lock. */
    addKey: `INSERT INTO ${q}.signing_keys (${KEY_COLUMNS})
SELECT $1::text, $2::text, $3::jsonb, $4::text, $5::bigint, $6::bigint, $7::bigint
 WHERE (${newest}) IS NOT DISTINCT FROM $8::text
ON CONFLICT DO NOTHING
RETURNING 1`,

    purgeKeys: `DELETE FROM ${q}.signing_keys WHERE expires_at <= $1::bigint`,

    createRefresh: `INSERT INTO ${q}.refresh_tokens (${REFRESH_COLUMNS}) VALUES (${refreshValues(1)})
${REPLACE}`,

    getRefresh: `SELECT ${REFRESH_COLUMNS} FROM ${q}.refresh_tokens WHERE id = $1::text`,

    /**
     * $1 id, $2 at, $3-$5 the access claims, $6.. the successor (REFRESH_COLUMNS). One statement:
     * the conditional UPDATE takes the row lock, so a concurrent one waits, then finds rotated_at
     * set and changes nothing; the successor is inserted only with the UPDATE's row.
     */
    rotate: `WITH upd AS (
  UPDATE ${q}.refresh_tokens
     SET rotated_at = $2::bigint, successor_id = $6::text, successor_jti = $3::text,
         successor_iat = $4::bigint, successor_exp = $5::bigint
   WHERE id = $1::text AND rotated_at IS NULL
  RETURNING ${REFRESH_COLUMNS}
),
ins AS (
  INSERT INTO ${q}.refresh_tokens (${REFRESH_COLUMNS})
  SELECT ${refreshValues(6)} FROM upd
  ${REPLACE}
)
SELECT * FROM upd`,

    /** $1 now, $2 limit: walks the expires_at index; rows another transaction holds wait a turn. */
    purgeRefresh: `DELETE FROM ${q}.refresh_tokens WHERE id IN (
  SELECT id FROM ${q}.refresh_tokens WHERE expires_at <= $1::bigint
   ORDER BY expires_at LIMIT $2::integer FOR UPDATE SKIP LOCKED
)`,

    /**
     * $1 key hash, $2 expiresAt, $3 now. Concurrent inserts of one key meet at the primary key:
     * one inserts, the others wait for it, then find an entry that has not expired.
     */
    useOnce: `INSERT INTO ${q}.single_use AS o (key_hash, expires_at) VALUES ($1::text, $2::bigint)
ON CONFLICT (key_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE o.expires_at <= $3::bigint
RETURNING 1`,

    /** $1 expired at or before, $2 limit. Never waits for a row (SKIP LOCKED): no deadlock. */
    cleanOnce: `DELETE FROM ${q}.single_use WHERE key_hash IN (
  SELECT key_hash FROM ${q}.single_use WHERE expires_at <= $1::bigint
   ORDER BY expires_at LIMIT $2::integer FOR UPDATE SKIP LOCKED
)`,
  } as const
}

/**
 * Signing keys, refresh tokens and single-use values in the schema of a {@link PostgresStore}, on
 * its pool: get one with `store.tokens()`. Each write is one statement, or one transaction under
 * an advisory lock for `addSigningKey`, so it is atomic across every instance sharing the
 * database. `init()` applies the token tables' migrations; `close()` leaves the pool to its owner.
 *
 * @example
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL })
 * const tokens = store.tokens()
 * await tokens.init()
 */
export class PostgresTokenStore implements TokenStore {
  readonly kind = 'postgres'
  readonly schema: string
  readonly #pool: pg.Pool
  readonly #q: string
  readonly #sql: ReturnType<typeof statements>
  #onceCalls = 0

  constructor(options: PostgresTokenStoreOptions) {
    const schema = options.schema ?? 'parley'
    if (typeof schema !== 'string' || !isValidSchemaName(schema)) {
      throw configError('schema must match ^[a-z_][a-z0-9_]{0,62}$')
    }
    this.schema = schema
    this.#q = `"${schema}"`
    this.#sql = statements(this.#q)
    this.#pool = options.pool
  }

  /** Creates the schema when missing, applies the token migrations; safe to repeat, concurrently. */
  async init(): Promise<void> {
    await runTransaction(this.#pool, async (_query, client) => {
      await migrate(client, this.schema, this.#q, TOKEN_MIGRATIONS)
    })
  }

  /** Nothing to release: the pool belongs to the session store (or whoever made it). */
  async close(): Promise<void> {}

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const result = await this.#query(this.#sql.listKeys, [])
    return result.rows.map((row) => rowToKey(row as KeyRow))
  }

  /**
   * A transaction that takes the schema's signing-key advisory lock, then inserts only when the
   * newest kid is still the expected one: its statement reads after the lock, so it sees any key a
   * racer committed before it.
   */
  async addSigningKey(
    record: SigningKeyRecord,
    expectedNewestKid: string | null,
  ): Promise<boolean> {
    if (expectedNewestKid !== null && unstorable(expectedNewestKid)) return false
    return runTransaction(this.#pool, async (query) => {
      await query('SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))', [
        `parley:signing-keys:${this.schema}`,
      ])
      const result = await query(this.#sql.addKey, [
        record.kid,
        record.alg,
        JSON.stringify(record.publicJwk),
        record.privateKeyEnc,
        record.createdAt,
        record.retiresAt,
        record.expiresAt,
        expectedNewestKid,
      ])
      return result.rowCount === 1
    })
  }

  async purgeSigningKeys(now: number): Promise<number> {
    return (await this.#query(this.#sql.purgeKeys, [now])).rowCount ?? 0
  }

  /** Stores a refresh token; one with the same id is replaced. */
  async createRefresh(record: RefreshRecord): Promise<void> {
    await this.#query(this.#sql.createRefresh, refreshParams(record))
  }

  async getRefresh(id: string): Promise<RefreshRecord | null> {
    if (unstorable(id)) return null
    const row = (await this.#query(this.#sql.getRefresh, [id])).rows[0] as RefreshRow | undefined
    return row === undefined ? null : rowToRefresh(row)
  }

  async rotateRefresh(
    id: string,
    successor: RefreshRecord,
    access: SuccessorAccess,
    at: number,
  ): Promise<RotateResult> {
    if (unstorable(id)) return { status: 'missing' }
    const rotated = await this.#query(this.#sql.rotate, [
      id,
      at,
      access.jti,
      access.iat,
      access.exp,
      ...refreshParams(successor),
    ])
    const row = rotated.rows[0] as RefreshRow | undefined
    if (row !== undefined) return { status: 'rotated', record: rowToRefresh(row) }
    // Nothing changed: it is missing, or rotated before (set once, so a later read tells how).
    const current = await this.getRefresh(id)
    return current === null ? { status: 'missing' } : { status: 'already', record: current }
  }

  async purgeRefresh(now: number, limit: number): Promise<number> {
    const n = limit === Infinity ? INT32_MAX : toLimit(limit)
    if (n === 0) return 0
    return (await this.#query(this.#sql.purgeRefresh, [now, n])).rowCount ?? 0
  }

  /**
   * One upsert. Now and then a second statement deletes entries expired for ONCE_GRACE_MS, so that
   * the table holds about what is live; that is housekeeping, and its failure not the caller's.
   */
  async useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    const result = await this.#query(this.#sql.useOnce, [onceKey(key), expiresAt, now])
    if (++this.#onceCalls % ONCE_CLEANUP_EVERY === 0) {
      await this.#query(this.#sql.cleanOnce, [now - ONCE_GRACE_MS, ONCE_CLEANUP_BATCH]).catch(
        () => {},
      )
    }
    return result.rowCount === 1
  }

  #query(text: string, values: unknown[]): Promise<pg.QueryResult> {
    return runQuery(this.#pool, { text, values })
  }
}

/** A limit as a whole number within what an `integer` parameter takes. */
function toLimit(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.min(INT32_MAX, Math.floor(n))) : 0
}
