/** @module SqliteTokenStore: the TokenStore in the SQLite store's file, on its connection. */

/*
 * Tables (TOKEN_MIGRATIONS, version 3):
 *
 *   signing_keys    kid, alg, public_jwk (JSON), private_key_enc (sealed), created_at, retires_at,
 *                   expires_at; keys of equal created_at are ordered by rowid (insertion order)
 *   refresh_tokens  one row per refresh token (the SHA-256 of its secret only); successorAccess as
 *                   successor_jti, successor_iat, successor_exp (all null until rotated); indexed
 *                   on expires_at (purge) and session_id
 *   single_use      key_hash (base64url SHA-256 of the caller's key, SEC-54), expires_at
 */
import { createHash } from 'node:crypto'
import type { SQLInputValue } from 'node:sqlite'
import type {
  RefreshRecord,
  RotateResult,
  SigningKeyRecord,
  SuccessorAccess,
  TokenStore,
} from '../../tokens/token-store.ts'
import type { Row } from './codec.ts'
import { TOKEN_MIGRATIONS } from './migrations.ts'
import { SharedSqlite } from './shared.ts'
import type { SqliteUserConnection } from './users.ts'

/** What a token store needs of the session store whose connection it shares. */
export type SqliteTokenConnection = SqliteUserConnection

/** How many expired single-use rows each `useOnce` deletes on its way: the table stays bounded. */
const ONCE_CLEANUP = 2
/**
 * Expired single-use rows are deleted only this long after their expiry (on the deleting caller's
 * clock), so that a caller whose clock is behind still finds them. 5 minutes.
 */
const ONCE_GRACE_MS = 5 * 60_000

const KEY_COLUMNS = 'kid, alg, public_jwk, private_key_enc, created_at, retires_at, expires_at'
const REFRESH_COLUMNS =
  'id, secret_hash, session_id, client_id, created_at, expires_at, rotated_at, successor_id, successor_jti, successor_iat, successor_exp, jkt'

/** Single-use keys are stored as SHA-256 (base64url): any text, fixed length, never in clear. */
function onceKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64url')
}

const intOrNull = (v: SQLInputValue | undefined): number | null =>
  v === null || v === undefined ? null : Number(v)

function toKey(row: Row): SigningKeyRecord {
  return {
    kid: row.kid as string,
    alg: row.alg as SigningKeyRecord['alg'],
    publicJwk: JSON.parse(row.public_jwk as string),
    privateKeyEnc: row.private_key_enc as string,
    createdAt: Number(row.created_at),
    retiresAt: Number(row.retires_at),
    expiresAt: Number(row.expires_at),
  }
}

function toRefresh(row: Row): RefreshRecord {
  return {
    id: row.id as string,
    secretHash: row.secret_hash as string,
    sessionId: row.session_id as string,
    clientId: row.client_id as string,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    rotatedAt: intOrNull(row.rotated_at),
    successorId: (row.successor_id ?? null) as string | null,
    successorAccess:
      row.successor_jti === null
        ? null
        : {
            jti: row.successor_jti as string,
            iat: Number(row.successor_iat),
            exp: Number(row.successor_exp),
          },
    jkt: (row.jkt ?? null) as string | null,
  }
}

/** The record's values in REFRESH_COLUMNS order. */
function refreshParams(r: RefreshRecord): SQLInputValue[] {
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

/** A LIMIT SQLite reads as meant: a whole number, 0 or more (its -1 would mean no limit). */
function toLimit(limit: number): number {
  if (limit === Infinity) return -1
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0
}

/**
 * Signing keys, refresh tokens and single-use values in the SQLite file of a {@link SqliteStore},
 * on its connection: get one with `store.tokens()`. Every write is one IMMEDIATE transaction (the
 * write lock first), so each compare-and-set is atomic across the processes sharing the file.
 * `init()` opens the session store if needed and applies the token tables' migrations; `close()`
 * leaves the connection to the session store.
 *
 * @example
 * const store = new SqliteStore({ path: './data/parley.db' })
 * const tokens = store.tokens()
 * await tokens.init()
 */
export class SqliteTokenStore implements TokenStore {
  readonly kind = 'sqlite'
  readonly #db: SharedSqlite

  constructor(connection: SqliteTokenConnection) {
    this.#db = new SharedSqlite(connection)
  }

  /** Opens the shared database when needed and applies the token migrations; safe to call again. */
  async init(): Promise<void> {
    await this.#db.migrate(TOKEN_MIGRATIONS)
  }

  /** Forgets its prepared statements; the connection belongs to the session store. */
  async close(): Promise<void> {
    this.#db.forget()
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#db.run(() =>
      (
        this.#db
          .q(`SELECT ${KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, rowid DESC`)
          .all() as Row[]
      ).map(toKey),
    )
  }

  /** Reads the newest kid and inserts in one IMMEDIATE transaction: a racer waits, then sees it. */
  async addSigningKey(
    record: SigningKeyRecord,
    expectedNewestKid: string | null,
  ): Promise<boolean> {
    return this.#db.run(() =>
      this.#db.tx(() => {
        const newest = this.#db
          .q('SELECT kid FROM signing_keys ORDER BY created_at DESC, rowid DESC LIMIT 1')
          .get() as Row | undefined
        if ((newest?.kid ?? null) !== expectedNewestKid) return false
        const inserted = this.#db
          .q(
            `INSERT INTO signing_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          )
          .run(
            record.kid,
            record.alg,
            JSON.stringify(record.publicJwk),
            record.privateKeyEnc,
            record.createdAt,
            record.retiresAt,
            record.expiresAt,
          ).changes
        return Number(inserted) === 1
      }),
    )
  }

  async purgeSigningKeys(now: number): Promise<number> {
    return this.#db.run(() =>
      Number(
        this.#db.tx(
          () => this.#db.q('DELETE FROM signing_keys WHERE expires_at <= ?').run(now).changes,
        ),
      ),
    )
  }

  /** Stores a refresh token; one with the same id is replaced. */
  async createRefresh(record: RefreshRecord): Promise<void> {
    this.#db.run(() =>
      this.#db.tx(() =>
        this.#db
          .q(
            `INSERT OR REPLACE INTO refresh_tokens (${REFRESH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(...refreshParams(record)),
      ),
    )
  }

  async getRefresh(id: string): Promise<RefreshRecord | null> {
    return this.#db.run(() => {
      const row = this.#db
        .q(`SELECT ${REFRESH_COLUMNS} FROM refresh_tokens WHERE id = ?`)
        .get(id) as Row | undefined
      return row === undefined ? null : toRefresh(row)
    })
  }

  /** One IMMEDIATE transaction: read, mark rotated only while unrotated, insert the successor. */
  async rotateRefresh(
    id: string,
    successor: RefreshRecord,
    access: SuccessorAccess,
    at: number,
  ): Promise<RotateResult> {
    return this.#db.run(() =>
      this.#db.tx((): RotateResult => {
        const select = this.#db.q(`SELECT ${REFRESH_COLUMNS} FROM refresh_tokens WHERE id = ?`)
        const row = select.get(id) as Row | undefined
        if (row === undefined) return { status: 'missing' }
        if (row.rotated_at !== null) return { status: 'already', record: toRefresh(row) }
        this.#db
          .q(
            `UPDATE refresh_tokens SET rotated_at = ?, successor_id = ?, successor_jti = ?,
             successor_iat = ?, successor_exp = ?
           WHERE id = ? AND rotated_at IS NULL`,
          )
          .run(at, successor.id, access.jti, access.iat, access.exp, id)
        this.#db
          .q(
            `INSERT OR REPLACE INTO refresh_tokens (${REFRESH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(...refreshParams(successor))
        return { status: 'rotated', record: toRefresh(select.get(id) as Row) }
      }),
    )
  }

  /** Walks the expires_at index from the oldest. */
  async purgeRefresh(now: number, limit: number): Promise<number> {
    const n = toLimit(limit)
    if (n === 0) return 0
    return this.#db.run(() =>
      Number(
        this.#db.tx(
          () =>
            this.#db
              .q(
                `DELETE FROM refresh_tokens WHERE id IN (
                 SELECT id FROM refresh_tokens WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
              )
              .run(now, n).changes,
        ),
      ),
    )
  }

  /**
   * One upsert that takes the key only when it is new or its entry has expired at `now`; on the
   * way it deletes a few other entries expired for ONCE_GRACE_MS, so that the table holds about
   * what is live.
   */
  async useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    const hash = onceKey(key)
    return this.#db.run(() =>
      this.#db.tx(() => {
        this.#db
          .q(
            `DELETE FROM single_use WHERE key_hash IN (
             SELECT key_hash FROM single_use WHERE expires_at <= ? AND key_hash != ? LIMIT ?)`,
          )
          .run(now - ONCE_GRACE_MS, hash, ONCE_CLEANUP)
        const changes = this.#db
          .q(
            `INSERT INTO single_use (key_hash, expires_at) VALUES (?1, ?2)
           ON CONFLICT (key_hash) DO UPDATE SET expires_at = ?2 WHERE expires_at <= ?3`,
          )
          .run(hash, expiresAt, now).changes
        return Number(changes) === 1
      }),
    )
  }
}
