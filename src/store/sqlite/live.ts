/** @module SqliteLiveStore: the LiveStore in the SQLite store's file, on its connection. */

/*
 * Tables (LIVE_MIGRATIONS, versions 4 and 5):
 *
 *   live_sessions     one row per live session (the SHA-256 of its resume token only, and of the
 *                     previous one while unconfirmed: prev_token_hash, version 5); indexed on
 *                     principal, session_id and expires_at while not ended, on ended_at once ended
 *   live_messages     the server's replay buffer: (live_id, seq) -> json, bytes, at
 *   live_checkpoints  confirmed checkpoints, (live_id, id) unique, oldest first by rowid
 *   live_calls        exactly-once RPC: (live_id, call_id) -> gen, outcome (JSON, null while
 *                     running), until (indexed, for the sweep)
 *
 * Audit events go to the session store's `events` table through its own append, inside the same
 * transaction as the change they record.
 */
import type { SQLInputValue } from 'node:sqlite'
import { ParleyError } from '../../core/errors.ts'
import type { ActionContext, AuditEventInput, EndReason } from '../../core/session.ts'
import type { BufferedMessage, CallOutcome, Checkpoint } from '../../live/engine/types.ts'
import type {
  CallClaim,
  LiveCommit,
  LiveRecord,
  LiveStore,
  ResumeOutcome,
} from '../../live/live-store.ts'
import {
  applyFields,
  applyResume,
  expiredAt,
  expiryContext,
  LIVE_COLUMNS,
  liveEvent,
  liveParams,
  matchToken,
  RESUME_ACTOR,
  SWEEP_REASON,
  storableId,
  toBatch,
} from '../live-common.ts'
import type { Row } from './codec.ts'
import { SharedSqlite, type SqliteConnection } from './shared.ts'

/** What a live store needs of the session store whose connection it shares. */
export interface SqliteLiveConnection extends SqliteConnection {
  /** Appends an audit event on that connection (inside the caller's transaction). */
  appendEvent(event: AuditEventInput): void
}

/**
 * The live store's steps. Same sequence and schema_migrations table as the session, user and token
 * steps (src/store/sqlite/migrations.ts): 4 was the next number after them, 5 the next after 4.
 * A released step is never edited, only followed.
 */
export const LIVE_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 4,
    sql: `
CREATE TABLE live_sessions (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  principal TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  gen INTEGER NOT NULL,
  mode TEXT NOT NULL,
  turn TEXT,
  state TEXT NOT NULL CHECK (state IN ('open', 'suspended', 'ended')),
  created_at INTEGER NOT NULL,
  suspended_at INTEGER,
  expires_at INTEGER NOT NULL,
  end_reason TEXT,
  ended_at INTEGER,
  out_seq INTEGER NOT NULL,
  out_acked INTEGER NOT NULL,
  out_lost_to INTEGER NOT NULL,
  out_lost_reason TEXT,
  in_last INTEGER NOT NULL
) STRICT;
CREATE INDEX live_sessions_principal ON live_sessions (principal) WHERE state != 'ended';
CREATE INDEX live_sessions_session ON live_sessions (session_id) WHERE state != 'ended';
CREATE INDEX live_sessions_expiry ON live_sessions (expires_at) WHERE state != 'ended';
CREATE INDEX live_sessions_ended ON live_sessions (ended_at) WHERE state = 'ended';
CREATE TABLE live_messages (
  live_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  json TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (live_id, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE live_checkpoints (
  live_id TEXT NOT NULL,
  id TEXT NOT NULL,
  by_side TEXT NOT NULL,
  out_seq INTEGER NOT NULL,
  in_seq INTEGER NOT NULL,
  state TEXT,
  at INTEGER NOT NULL,
  UNIQUE (live_id, id)
) STRICT;
CREATE TABLE live_calls (
  live_id TEXT NOT NULL,
  call_id TEXT NOT NULL,
  gen INTEGER NOT NULL,
  outcome TEXT,
  until INTEGER NOT NULL,
  PRIMARY KEY (live_id, call_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX live_calls_until ON live_calls (until);
`,
  },
  {
    version: 5,
    sql: `
ALTER TABLE live_sessions ADD COLUMN prev_token_hash TEXT;
`,
  },
]

const COLUMNS = LIVE_COLUMNS

const intOrNull = (v: SQLInputValue | undefined): number | null =>
  v === null || v === undefined ? null : Number(v)

function toLive(row: Row): LiveRecord {
  return {
    id: row.id as string,
    sessionId: row.session_id as string,
    principal: row.principal as string,
    tokenHash: row.token_hash as string,
    gen: Number(row.gen),
    mode: row.mode as LiveRecord['mode'],
    turn: (row.turn ?? null) as LiveRecord['turn'],
    state: row.state as LiveRecord['state'],
    createdAt: Number(row.created_at),
    suspendedAt: intOrNull(row.suspended_at),
    expiresAt: Number(row.expires_at),
    endReason: (row.end_reason ?? null) as EndReason | null,
    endedAt: intOrNull(row.ended_at),
    outSeq: Number(row.out_seq),
    outAcked: Number(row.out_acked),
    outLostTo: Number(row.out_lost_to),
    outLostReason: (row.out_lost_reason ?? null) as LiveRecord['outLostReason'],
    inLast: Number(row.in_last),
    prevTokenHash: (row.prev_token_hash ?? null) as string | null,
  }
}

function toMessage(row: Row): BufferedMessage {
  return {
    seq: Number(row.seq),
    json: row.json as string,
    bytes: Number(row.bytes),
    at: Number(row.at),
  }
}

function toCheckpoint(row: Row): Checkpoint {
  return {
    id: row.id as string,
    by: row.by_side as Checkpoint['by'],
    outSeq: Number(row.out_seq),
    inSeq: Number(row.in_seq),
    state: (row.state ?? null) as string | null,
    at: Number(row.at),
  }
}

const SELECT = `SELECT ${COLUMNS} FROM live_sessions WHERE id = ?`
/** What a commit reads of the record: the fence, and the columns a commit may change. */
const SELECT_FOR_COMMIT =
  'SELECT gen, state, suspended_at, expires_at, out_seq, out_acked, out_lost_to, out_lost_reason, in_last, turn, prev_token_hash FROM live_sessions WHERE id = ?'
/** A commit that leaves state and expires_at alone: no indexed column is written. */
const UPDATE_PROGRESS =
  'UPDATE live_sessions SET out_seq = ?, out_acked = ?, out_lost_to = ?, out_lost_reason = ?, in_last = ?, turn = ?, prev_token_hash = ? WHERE id = ?'
/** A commit that changes the state or the lease as well. */
const UPDATE_COMMIT =
  'UPDATE live_sessions SET out_seq = ?, out_acked = ?, out_lost_to = ?, out_lost_reason = ?, in_last = ?, turn = ?, prev_token_hash = ?, state = ?, suspended_at = ?, expires_at = ? WHERE id = ?'

/** The columns of a live session record that a commit reads and may change. */
type CommitFields = Pick<
  LiveRecord,
  | 'gen'
  | 'state'
  | 'suspendedAt'
  | 'expiresAt'
  | 'outSeq'
  | 'outAcked'
  | 'outLostTo'
  | 'outLostReason'
  | 'inLast'
  | 'turn'
  | 'prevTokenHash'
>

function toCommitFields(row: Row): CommitFields {
  return {
    gen: Number(row.gen),
    state: row.state as LiveRecord['state'],
    suspendedAt: intOrNull(row.suspended_at),
    expiresAt: Number(row.expires_at),
    outSeq: Number(row.out_seq),
    outAcked: Number(row.out_acked),
    outLostTo: Number(row.out_lost_to),
    outLostReason: (row.out_lost_reason ?? null) as LiveRecord['outLostReason'],
    inLast: Number(row.in_last),
    turn: (row.turn ?? null) as LiveRecord['turn'],
    prevTokenHash: (row.prev_token_hash ?? null) as string | null,
  }
}
/** Every column but id, then id: a whole record written back. */
const UPDATE = `UPDATE live_sessions SET ${COLUMNS.split(', ')
  .slice(1)
  .map((c) => `${c} = ?`)
  .join(', ')} WHERE id = ?`

/**
 * Live sessions in the SQLite file of a {@link SqliteStore}, on its connection: get one with
 * `store.live()`. Every write is one IMMEDIATE transaction with its audit event, and `commit`
 * writes all the commits of one call in a single transaction (group commit: one fsync for the
 * batch). The tables are created on first use, or by `init()`.
 *
 * @example
 * const store = new SqliteStore({ path: './data/parley.db' })
 * const live = store.live()
 * await live.init()
 */
export class SqliteLiveStore implements LiveStore {
  readonly kind = 'sqlite'
  readonly #db: SharedSqlite
  readonly #conn: SqliteLiveConnection
  #ready: Promise<void> | null = null

  constructor(connection: SqliteLiveConnection) {
    this.#conn = connection
    this.#db = new SharedSqlite(connection)
  }

  /** Opens the shared database when needed and applies the live migration; safe to call again. */
  async init(): Promise<void> {
    await this.#db.migrate(LIVE_MIGRATIONS)
  }

  /** Forgets its prepared statements; the connection belongs to the session store. */
  async close(): Promise<void> {
    this.#db.forget()
    this.#ready = null
  }

  /** The migration once per instance (again after a failure). */
  #open(): Promise<void> {
    if (this.#ready === null) {
      this.#ready = this.init().catch((err: unknown) => {
        this.#ready = null
        throw err
      })
    }
    return this.#ready
  }

  async create(record: LiveRecord, context: ActionContext): Promise<void> {
    if (!storableId(record.id)) {
      throw new ParleyError('ERR_VALIDATION', 'a live session id must be well-formed, without NUL')
    }
    await this.#open()
    this.#db.run(() =>
      this.#db.tx(() => {
        this.#db
          .q(
            `INSERT OR REPLACE INTO live_sessions (${COLUMNS}) VALUES (${COLUMNS.replace(/\w+/g, '?')})`,
          )
          .run(...liveParams({ ...record, prevTokenHash: null }))
        this.#conn.appendEvent(liveEvent('live.started', record, context))
      }),
    )
  }

  async get(id: string): Promise<LiveRecord | null> {
    if (!storableId(id)) return null
    await this.#open()
    return this.#db.run(() => this.#select(id))
  }

  async resume(
    id: string,
    input: { tokenHash: string; newTokenHash: string; expiresAt: number; at: number },
  ): Promise<ResumeOutcome> {
    if (!storableId(id)) return { ok: false, reason: 'invalid' }
    await this.#open()
    return this.#db.run(() =>
      this.#db.tx((): ResumeOutcome => {
        const r = this.#select(id)
        const match = r === null ? null : matchToken(r, input.tokenHash)
        if (r === null || match === null) return { ok: false, reason: 'invalid' }
        if (r.state === 'ended') return { ok: false, reason: 'ended', endReason: r.endReason! }
        if (expiredAt(r, input.at)) {
          this.#end(r, SWEEP_REASON, expiryContext(r))
          return { ok: false, reason: 'ended', endReason: SWEEP_REASON }
        }
        applyResume(r, match, input)
        this.#write(r)
        this.#conn.appendEvent(liveEvent('live.resumed', r, { at: input.at, actor: RESUME_ACTOR }))
        return { ok: true, record: r }
      }),
    )
  }

  /** Every commit of the call in one IMMEDIATE transaction; each is fenced on its own. */
  async commit(commits: LiveCommit[]): Promise<boolean[]> {
    if (commits.length === 0) return []
    await this.#open()
    return this.#db.run(() => this.#db.tx(() => commits.map((c) => this.#commit(c))))
  }

  /**
   * One commit: reads only what it fences on and may change, and writes back only those columns
   * (the indexed state and expires_at only when they change).
   */
  #commit(c: LiveCommit): boolean {
    if (!storableId(c.id)) return false
    const row = this.#db.q(SELECT_FOR_COMMIT).get(c.id) as Row | undefined
    if (row === undefined) return false
    const r = toCommitFields(row)
    if (r.gen !== c.gen || r.state === 'ended') return false
    const { state, suspendedAt, expiresAt } = r
    const appended = c.append ?? []
    if (appended.length > 0) {
      const insert = this.#db.q(
        'INSERT INTO live_messages (live_id, seq, json, bytes, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      )
      const acked = c.outAcked ?? r.outAcked
      for (const m of appended) {
        if (m.seq <= r.outSeq) continue // already stored (a retried commit)
        r.outSeq = m.seq
        if (m.seq > acked) insert.run(c.id, m.seq, m.json, m.bytes, m.at)
      }
    }
    const ackedBefore = r.outAcked
    applyFields(r as LiveRecord, c)
    if (r.outAcked > ackedBefore) {
      this.#db.q('DELETE FROM live_messages WHERE live_id = ? AND seq <= ?').run(c.id, r.outAcked)
    }
    for (const ck of c.checkpoints ?? []) {
      this.#db
        .q(
          `INSERT INTO live_checkpoints (live_id, id, by_side, out_seq, in_seq, state, at)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(c.id, ck.id, ck.by, ck.outSeq, ck.inSeq, ck.state, ck.at)
    }
    for (const ckId of c.dropCheckpoints ?? []) {
      this.#db.q('DELETE FROM live_checkpoints WHERE live_id = ? AND id = ?').run(c.id, ckId)
    }
    const progress = [
      r.outSeq,
      r.outAcked,
      r.outLostTo,
      r.outLostReason,
      r.inLast,
      r.turn,
      r.prevTokenHash,
    ] as const
    if (r.state === state && r.suspendedAt === suspendedAt && r.expiresAt === expiresAt) {
      this.#db.q(UPDATE_PROGRESS).run(...progress, c.id)
    } else {
      this.#db.q(UPDATE_COMMIT).run(...progress, r.state, r.suspendedAt, r.expiresAt, c.id)
    }
    return true
  }

  /** Walks the (live_id, seq) primary key. */
  async messages(id: string, after: number, limit: number): Promise<BufferedMessage[]> {
    const n = toBatch(limit)
    if (n === 0 || !storableId(id)) return []
    await this.#open()
    return this.#db.run(() =>
      (
        this.#db
          .q(
            'SELECT seq, json, bytes, at FROM live_messages WHERE live_id = ? AND seq > ? ORDER BY seq LIMIT ?',
          )
          .all(id, after, n) as Row[]
      ).map(toMessage),
    )
  }

  async checkpoints(id: string): Promise<Checkpoint[]> {
    if (!storableId(id)) return []
    await this.#open()
    return this.#db.run(() =>
      (
        this.#db
          .q(
            'SELECT id, by_side, out_seq, in_seq, state, at FROM live_checkpoints WHERE live_id = ? ORDER BY rowid',
          )
          .all(id) as Row[]
      ).map(toCheckpoint),
    )
  }

  /**
   * Insert-if-absent in one transaction. On an unknown or ended live session nothing is recorded
   * and the claim reads `running` under gen 0 (older than any): never run it.
   */
  async claimCall(id: string, callId: string, gen: number, until: number): Promise<CallClaim> {
    if (!storableId(id) || !storableId(callId)) return { state: 'running', gen: 0 }
    await this.#open()
    return this.#db.run(() =>
      this.#db.tx((): CallClaim => {
        const live = this.#db.q('SELECT state FROM live_sessions WHERE id = ?').get(id) as
          | Row
          | undefined
        if (live === undefined || live.state === 'ended') return { state: 'running', gen: 0 }
        const inserted = this.#db
          .q(
            'INSERT INTO live_calls (live_id, call_id, gen, outcome, until) VALUES (?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING',
          )
          .run(id, callId, gen, until).changes
        if (Number(inserted) === 1) return { state: 'new' }
        const row = this.#db
          .q('SELECT gen, outcome FROM live_calls WHERE live_id = ? AND call_id = ?')
          .get(id, callId) as Row
        return row.outcome === null
          ? { state: 'running', gen: Number(row.gen) }
          : { state: 'done', outcome: JSON.parse(row.outcome as string) }
      }),
    )
  }

  async finishCall(id: string, callId: string, outcome: CallOutcome, until: number): Promise<void> {
    if (!storableId(id) || !storableId(callId)) return
    await this.#open()
    this.#db.run(() =>
      this.#db.tx(() => {
        const r = this.#db.q('SELECT state, gen FROM live_sessions WHERE id = ?').get(id) as
          | Row
          | undefined
        if (r === undefined || r.state === 'ended') return
        this.#db
          .q(
            `INSERT INTO live_calls (live_id, call_id, gen, outcome, until) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (live_id, call_id) DO UPDATE SET outcome = ?4, until = ?5`,
          )
          .run(id, callId, Number(r.gen), JSON.stringify(outcome), until)
      }),
    )
  }

  async end(id: string, reason: EndReason, context: ActionContext): Promise<LiveRecord | null> {
    if (!storableId(id)) return null
    await this.#open()
    return this.#db.run(() =>
      this.#db.tx(() => {
        const r = this.#select(id)
        return r === null || r.state === 'ended' ? null : this.#end(r, reason, context)
      }),
    )
  }

  async listBySession(sessionId: string): Promise<LiveRecord[]> {
    if (!storableId(sessionId)) return []
    await this.#open()
    return this.#db.run(() =>
      (
        this.#db
          .q(
            `SELECT ${COLUMNS} FROM live_sessions WHERE session_id = ? AND state != 'ended' ORDER BY created_at, id`,
          )
          .all(sessionId) as Row[]
      ).map(toLive),
    )
  }

  async countByPrincipal(principal: string): Promise<number> {
    if (!storableId(principal)) return 0
    await this.#open()
    return this.#db.run(() =>
      Number(
        (
          this.#db
            .q(`SELECT count(*) AS n FROM live_sessions WHERE principal = ? AND state != 'ended'`)
            .get(principal) as Row
        ).n,
      ),
    )
  }

  /** One transaction: purge old ended records, drop calls past `until`, end the expired. */
  async sweep(now: number, limit: number, purgeBefore: number): Promise<LiveRecord[]> {
    const n = toBatch(limit)
    if (n === 0) return []
    await this.#open()
    return this.#db.run(() =>
      this.#db.tx(() => {
        const old = this.#db
          .q(`SELECT id FROM live_sessions WHERE state = 'ended' AND ended_at < ? LIMIT ?`)
          .all(purgeBefore, n) as Row[]
        for (const row of old) {
          this.#deleteChildren(row.id as string)
          this.#db.q('DELETE FROM live_sessions WHERE id = ?').run(row.id as string)
        }
        this.#db
          .q(
            `DELETE FROM live_calls WHERE (live_id, call_id) IN (
             SELECT live_id, call_id FROM live_calls WHERE until <= ? ORDER BY until LIMIT ?)`,
          )
          .run(now, n)
        const due = this.#db
          .q(
            `SELECT ${COLUMNS} FROM live_sessions WHERE state != 'ended' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
          )
          .all(now, n) as Row[]
        return due.map((row) => {
          const r = toLive(row)
          return this.#end(r, SWEEP_REASON, expiryContext(r))
        })
      }),
    )
  }

  #select(id: string): LiveRecord | null {
    const row = this.#db.q(SELECT).get(id) as Row | undefined
    return row === undefined ? null : toLive(row)
  }

  #write(r: LiveRecord): void {
    const [id, ...rest] = liveParams(r)
    this.#db.q(UPDATE).run(...rest, id!)
  }

  #deleteChildren(id: string): void {
    this.#db.q('DELETE FROM live_messages WHERE live_id = ?').run(id)
    this.#db.q('DELETE FROM live_checkpoints WHERE live_id = ?').run(id)
    this.#db.q('DELETE FROM live_calls WHERE live_id = ?').run(id)
  }

  #end(r: LiveRecord, reason: EndReason, context: ActionContext): LiveRecord {
    const ended: LiveRecord = { ...r, state: 'ended', endReason: reason, endedAt: context.at }
    this.#write(ended)
    this.#deleteChildren(r.id)
    this.#conn.appendEvent(liveEvent('live.ended', ended, context, reason))
    return ended
  }
}
