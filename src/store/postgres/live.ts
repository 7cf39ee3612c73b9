/** @module PostgresLiveStore: the LiveStore in the Postgres store's schema, on its pool. */

/*
 * Tables (LIVE_MIGRATIONS, versions 4 and 5), in the session store's schema:
 *
 *   live_sessions     one row per live session (the SHA-256 of its resume token only, and of the
 *                     previous one while unconfirmed: prev_token_hash, version 5)
 *   live_messages     the replay buffer, (live_id, seq)
 *   live_checkpoints  (live_id, id), oldest first by the identity column n
 *   live_calls        (live_id, call_id) -> gen, outcome (JSON text, null while running), until
 *
 * Every write is one transaction with its audit event in `events`. `commit` locks the rows of the
 * whole batch in id order (no deadlock between two batches), works out every commit in memory,
 * then writes the batch with a fixed handful of statements over arrays, whatever its size.
 */
import type pg from 'pg'
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
import { eventParams, toInt } from './codec.ts'
import { configError, type Query, runQuery, runTransaction } from './connection.ts'
import { LIVE_MIGRATIONS, MIGRATIONS, migrate } from './migrations.ts'
import { isValidSchemaName, statements } from './sql.ts'

export interface PostgresLiveStoreOptions {
  /** The pool to share (a PostgresStore's); the live store never ends it. */
  pool: pg.Pool
  /** The schema holding the tables, as the session store's. Default `parley`. */
  schema?: string
}

type Int = string | number

interface LiveRow {
  id: string
  session_id: string
  principal: string
  token_hash: string
  gen: Int
  mode: string
  turn: string | null
  state: string
  created_at: Int
  suspended_at: Int | null
  expires_at: Int
  end_reason: string | null
  ended_at: Int | null
  out_seq: Int
  out_acked: Int
  out_lost_to: Int
  out_lost_reason: string | null
  in_last: Int
  prev_token_hash: string | null
}

const COLUMNS = LIVE_COLUMNS
const TYPES =
  'text text text text integer text text text bigint bigint bigint text bigint bigint bigint bigint text bigint text'.split(
    ' ',
  )
const VALUES = TYPES.map((t, i) => `$${i + 1}::${t}`).join(', ')

const orNull = (v: Int | null): number | null => (v === null ? null : toInt(v))

function toLive(row: LiveRow): LiveRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    principal: row.principal,
    tokenHash: row.token_hash,
    gen: toInt(row.gen),
    mode: row.mode as LiveRecord['mode'],
    turn: row.turn as LiveRecord['turn'],
    state: row.state as LiveRecord['state'],
    createdAt: toInt(row.created_at),
    suspendedAt: orNull(row.suspended_at),
    expiresAt: toInt(row.expires_at),
    endReason: row.end_reason as EndReason | null,
    endedAt: orNull(row.ended_at),
    outSeq: toInt(row.out_seq),
    outAcked: toInt(row.out_acked),
    outLostTo: toInt(row.out_lost_to),
    outLostReason: row.out_lost_reason as LiveRecord['outLostReason'],
    inLast: toInt(row.in_last),
    prevTokenHash: row.prev_token_hash ?? null,
  }
}

function sql(q: string) {
  return {
    insert: `INSERT INTO ${q}.live_sessions (${COLUMNS}) VALUES (${VALUES})
ON CONFLICT (id) DO UPDATE SET ${COLUMNS.split(', ')
      .slice(1)
      .map((c) => `${c} = EXCLUDED.${c}`)
      .join(', ')}`,
    get: `SELECT ${COLUMNS} FROM ${q}.live_sessions WHERE id = $1::text`,
    lock: `SELECT ${COLUMNS} FROM ${q}.live_sessions WHERE id = $1::text FOR UPDATE`,
    lockMany: `SELECT ${COLUMNS} FROM ${q}.live_sessions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
    /** Every column but id from $2.., where id = $1. */
    write: `UPDATE ${q}.live_sessions SET ${COLUMNS.split(', ')
      .slice(1)
      .map((c, i) => `${c} = $${i + 2}::${TYPES[i + 1]}`)
      .join(', ')} WHERE id = $1::text`,
    /** The commit fields of many rows at once. */
    writeMany: `UPDATE ${q}.live_sessions s
   SET out_seq = u.out_seq, out_acked = u.out_acked, out_lost_to = u.out_lost_to,
       out_lost_reason = u.out_lost_reason, in_last = u.in_last, turn = u.turn, state = u.state,
       suspended_at = u.suspended_at, expires_at = u.expires_at, prev_token_hash = u.prev_token_hash
  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
              $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[])
       AS u(id, out_seq, out_acked, out_lost_to, out_lost_reason, in_last, turn, state, suspended_at,
            expires_at, prev_token_hash)
 WHERE s.id = u.id`,
    trim: `DELETE FROM ${q}.live_messages m USING unnest($1::text[], $2::bigint[]) AS t(id, acked)
 WHERE m.live_id = t.id AND m.seq <= t.acked`,
    append: `INSERT INTO ${q}.live_messages (live_id, seq, json, bytes, at)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::integer[], $5::bigint[])
ON CONFLICT DO NOTHING`,
    dropCheckpoints: `DELETE FROM ${q}.live_checkpoints c USING unnest($1::text[], $2::text[]) AS d(live_id, id)
 WHERE c.live_id = d.live_id AND c.id = d.id`,
    addCheckpoints: `INSERT INTO ${q}.live_checkpoints (live_id, id, by_side, out_seq, in_seq, state, at)
SELECT live_id, id, by_side, out_seq, in_seq, state, at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::bigint[])
       WITH ORDINALITY AS c(live_id, id, by_side, out_seq, in_seq, state, at, ord)
 ORDER BY ord
ON CONFLICT DO NOTHING`,
    messages: `SELECT seq, json, bytes, at FROM ${q}.live_messages
 WHERE live_id = $1::text AND seq > $2::bigint ORDER BY seq LIMIT $3::integer`,
    checkpoints: `SELECT id, by_side, out_seq, in_seq, state, at FROM ${q}.live_checkpoints
 WHERE live_id = $1::text ORDER BY n`,
    liveState: `SELECT state, gen FROM ${q}.live_sessions WHERE id = $1::text FOR SHARE`,
    claim: `INSERT INTO ${q}.live_calls (live_id, call_id, gen, outcome, until)
VALUES ($1::text, $2::text, $3::integer, NULL, $4::bigint) ON CONFLICT DO NOTHING RETURNING 1`,
    call: `SELECT gen, outcome FROM ${q}.live_calls WHERE live_id = $1::text AND call_id = $2::text`,
    finish: `INSERT INTO ${q}.live_calls (live_id, call_id, gen, outcome, until)
VALUES ($1::text, $2::text, $3::integer, $4::text, $5::bigint)
ON CONFLICT (live_id, call_id) DO UPDATE SET outcome = EXCLUDED.outcome, until = EXCLUDED.until`,
    dropChildren: [
      `DELETE FROM ${q}.live_messages WHERE live_id = ANY($1::text[])`,
      `DELETE FROM ${q}.live_checkpoints WHERE live_id = ANY($1::text[])`,
      `DELETE FROM ${q}.live_calls WHERE live_id = ANY($1::text[])`,
    ],
    bySession: `SELECT ${COLUMNS} FROM ${q}.live_sessions
 WHERE session_id = $1::text AND state <> 'ended' ORDER BY created_at, id`,
    countByPrincipal: `SELECT count(*)::integer AS n FROM ${q}.live_sessions
 WHERE principal = $1::text AND state <> 'ended'`,
    purge: `DELETE FROM ${q}.live_sessions WHERE id IN (
  SELECT id FROM ${q}.live_sessions WHERE state = 'ended' AND ended_at < $1::bigint
   ORDER BY ended_at LIMIT $2::integer FOR UPDATE SKIP LOCKED
) RETURNING id`,
    dropCalls: `DELETE FROM ${q}.live_calls WHERE (live_id, call_id) IN (
  SELECT live_id, call_id FROM ${q}.live_calls WHERE until <= $1::bigint
   ORDER BY until LIMIT $2::integer FOR UPDATE SKIP LOCKED
)`,
    due: `SELECT ${COLUMNS} FROM ${q}.live_sessions
 WHERE state <> 'ended' AND expires_at <= $1::bigint
 ORDER BY expires_at LIMIT $2::integer FOR UPDATE SKIP LOCKED`,
  } as const
}

/** A commit worked out in memory: what the batch writes for one live session. */
interface Pending {
  record: LiveRecord
  ackedBefore: number
  messages: BufferedMessage[]
  added: Map<string, Checkpoint>
  dropped: Set<string>
}

/**
 * Live sessions in the schema of a {@link PostgresStore}, on its pool: get one with
 * `store.live()`. Each write is one transaction (with its audit event); `commit` is one
 * transaction for the whole batch. The tables (and the session store's, for the events) are
 * created on first use, or by `init()`.
 *
 * @example
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL })
 * const live = store.live()
 * await live.init()
 */
export class PostgresLiveStore implements LiveStore {
  readonly kind = 'postgres'
  readonly schema: string
  readonly #pool: pg.Pool
  readonly #q: string
  readonly #sql: ReturnType<typeof sql>
  readonly #appendEvent: string
  #ready: Promise<void> | null = null

  constructor(options: PostgresLiveStoreOptions) {
    const schema = options.schema ?? 'parley'
    if (typeof schema !== 'string' || !isValidSchemaName(schema)) {
      throw configError('schema must match ^[a-z_][a-z0-9_]{0,62}$')
    }
    this.schema = schema
    this.#q = `"${schema}"`
    this.#sql = sql(this.#q)
    this.#appendEvent = statements(this.#q).appendEvent
    this.#pool = options.pool
  }

  /** Creates the schema when missing, applies the session and live migrations; safe to repeat. */
  async init(): Promise<void> {
    await runTransaction(this.#pool, async (_query, client) => {
      await migrate(client, this.schema, this.#q, [...MIGRATIONS, ...LIVE_MIGRATIONS])
    })
  }

  /** Nothing to release: the pool belongs to the session store (or whoever made it). */
  async close(): Promise<void> {
    this.#ready = null
  }

  #open(): Promise<void> {
    if (this.#ready === null) {
      this.#ready = this.init().catch((err: unknown) => {
        this.#ready = null
        throw err
      })
    }
    return this.#ready
  }

  async #query(text: string, values: unknown[]): Promise<pg.QueryResult> {
    await this.#open()
    return runQuery(this.#pool, { text, values })
  }

  async #transaction<T>(work: (query: Query) => Promise<T>): Promise<T> {
    await this.#open()
    return runTransaction(this.#pool, (query) => work(query))
  }

  #event(query: Query, event: AuditEventInput): Promise<pg.QueryResult> {
    return query(this.#appendEvent, eventParams(event))
  }

  async create(record: LiveRecord, context: ActionContext): Promise<void> {
    for (const text of [record.id, record.sessionId, record.principal]) {
      if (!storableId(text)) {
        throw new ParleyError('ERR_VALIDATION', 'live session ids must be well-formed, without NUL')
      }
    }
    await this.#transaction(async (query) => {
      await query(this.#sql.insert, liveParams({ ...record, prevTokenHash: null }))
      await query(this.#sql.dropChildren[0], [[record.id]])
      await query(this.#sql.dropChildren[1], [[record.id]])
      await query(this.#sql.dropChildren[2], [[record.id]])
      await this.#event(query, liveEvent('live.started', record, context))
    })
  }

  async get(id: string): Promise<LiveRecord | null> {
    if (!storableId(id)) return null
    const result = await this.#query(this.#sql.get, [id])
    const row = result.rows[0] as LiveRow | undefined
    return row === undefined ? null : toLive(row)
  }

  /**
   * Locks the row, compares the hashes in constant time (SEC-48), then ends an expired record or
   * rotates the token, writes and records, all in one transaction.
   */
  async resume(
    id: string,
    input: { tokenHash: string; newTokenHash: string; expiresAt: number; at: number },
  ): Promise<ResumeOutcome> {
    if (!storableId(id)) return { ok: false, reason: 'invalid' }
    return this.#transaction(async (query): Promise<ResumeOutcome> => {
      const row = (await query(this.#sql.lock, [id])).rows[0] as LiveRow | undefined
      const r = row === undefined ? null : toLive(row)
      const match = r === null ? null : matchToken(r, input.tokenHash)
      if (r === null || match === null) return { ok: false, reason: 'invalid' }
      if (r.state === 'ended') return { ok: false, reason: 'ended', endReason: r.endReason! }
      if (expiredAt(r, input.at)) {
        await this.#end(query, r, SWEEP_REASON, expiryContext(r))
        return { ok: false, reason: 'ended', endReason: SWEEP_REASON }
      }
      applyResume(r, match, input)
      await query(this.#sql.write, liveParams(r))
      await this.#event(query, liveEvent('live.resumed', r, { at: input.at, actor: RESUME_ACTOR }))
      return { ok: true, record: r }
    })
  }

  /** One transaction for the batch (see the module comment). */
  async commit(commits: LiveCommit[]): Promise<boolean[]> {
    if (commits.length === 0) return []
    const ids = [...new Set(commits.map((c) => c.id).filter(storableId))]
    return this.#transaction(async (query) => {
      const rows = ids.length === 0 ? [] : (await query(this.#sql.lockMany, [ids])).rows
      const pending = new Map<string, Pending>()
      for (const row of rows as LiveRow[]) {
        const record = toLive(row)
        pending.set(record.id, {
          record,
          ackedBefore: record.outAcked,
          messages: [],
          added: new Map(),
          dropped: new Set(),
        })
      }
      const results = commits.map((c) => {
        const p = pending.get(c.id)
        if (p === undefined || p.record.gen !== c.gen || p.record.state === 'ended') return false
        const r = p.record
        for (const m of c.append ?? []) {
          if (m.seq <= r.outSeq) continue // already stored (a retried commit)
          p.messages.push(m)
          r.outSeq = m.seq
        }
        applyFields(r, c)
        for (const ck of c.checkpoints ?? []) if (!p.added.has(ck.id)) p.added.set(ck.id, ck)
        for (const ckId of c.dropCheckpoints ?? []) {
          p.added.delete(ckId)
          p.dropped.add(ckId)
        }
        return true
      })
      await this.#writeBatch(query, [...pending.values()])
      return results
    })
  }

  async #writeBatch(query: Query, batch: Pending[]): Promise<void> {
    if (batch.length === 0) return
    const trimmed = batch.filter((p) => p.record.outAcked > p.ackedBefore)
    if (trimmed.length > 0) {
      await query(this.#sql.trim, [
        trimmed.map((p) => p.record.id),
        trimmed.map((p) => p.record.outAcked),
      ])
    }
    const msgs = batch.flatMap((p) =>
      p.messages.filter((m) => m.seq > p.record.outAcked).map((m) => [p.record.id, m] as const),
    )
    if (msgs.length > 0) {
      await query(this.#sql.append, [
        msgs.map(([id]) => id),
        msgs.map(([, m]) => m.seq),
        msgs.map(([, m]) => m.json),
        msgs.map(([, m]) => m.bytes),
        msgs.map(([, m]) => m.at),
      ])
    }
    const drops = batch.flatMap((p) => [...p.dropped].map((ck) => [p.record.id, ck] as const))
    if (drops.length > 0) {
      await query(this.#sql.dropCheckpoints, [drops.map(([id]) => id), drops.map(([, ck]) => ck)])
    }
    const adds = batch.flatMap((p) => [...p.added.values()].map((ck) => [p.record.id, ck] as const))
    if (adds.length > 0) {
      await query(this.#sql.addCheckpoints, [
        adds.map(([id]) => id),
        adds.map(([, c]) => c.id),
        adds.map(([, c]) => c.by),
        adds.map(([, c]) => c.outSeq),
        adds.map(([, c]) => c.inSeq),
        adds.map(([, c]) => c.state),
        adds.map(([, c]) => c.at),
      ])
    }
    const rs = batch.map((p) => p.record)
    await query(this.#sql.writeMany, [
      rs.map((r) => r.id),
      rs.map((r) => r.outSeq),
      rs.map((r) => r.outAcked),
      rs.map((r) => r.outLostTo),
      rs.map((r) => r.outLostReason),
      rs.map((r) => r.inLast),
      rs.map((r) => r.turn),
      rs.map((r) => r.state),
      rs.map((r) => r.suspendedAt),
      rs.map((r) => r.expiresAt),
      rs.map((r) => r.prevTokenHash),
    ])
  }

  async messages(id: string, after: number, limit: number): Promise<BufferedMessage[]> {
    const n = toBatch(limit)
    if (n === 0 || !storableId(id)) return []
    const result = await this.#query(this.#sql.messages, [id, after, n])
    return result.rows.map((row) => ({
      seq: toInt(row.seq),
      json: row.json as string,
      bytes: toInt(row.bytes),
      at: toInt(row.at),
    }))
  }

  async checkpoints(id: string): Promise<Checkpoint[]> {
    if (!storableId(id)) return []
    const result = await this.#query(this.#sql.checkpoints, [id])
    return result.rows.map((row) => ({
      id: row.id as string,
      by: row.by_side as Checkpoint['by'],
      outSeq: toInt(row.out_seq),
      inSeq: toInt(row.in_seq),
      state: row.state as string | null,
      at: toInt(row.at),
    }))
  }

  /**
   * Insert-if-absent under a share lock on the live session (an end waits for it, or it sees the
   * end). On an unknown or ended live session nothing is recorded and the claim reads `running`
   * under gen 0 (older than any): never run it.
   */
  async claimCall(id: string, callId: string, gen: number, until: number): Promise<CallClaim> {
    if (!storableId(id) || !storableId(callId)) return { state: 'running', gen: 0 }
    return this.#transaction(async (query): Promise<CallClaim> => {
      const live = (await query(this.#sql.liveState, [id])).rows[0]
      if (live === undefined || live.state === 'ended') return { state: 'running', gen: 0 }
      if ((await query(this.#sql.claim, [id, callId, gen, until])).rowCount === 1) {
        return { state: 'new' }
      }
      const row = (await query(this.#sql.call, [id, callId])).rows[0]
      if (row === undefined) return { state: 'running', gen: 0 }
      return row.outcome === null
        ? { state: 'running', gen: toInt(row.gen) }
        : { state: 'done', outcome: JSON.parse(row.outcome as string) as CallOutcome }
    })
  }

  async finishCall(id: string, callId: string, outcome: CallOutcome, until: number): Promise<void> {
    if (!storableId(id) || !storableId(callId)) return
    await this.#transaction(async (query) => {
      const live = (await query(this.#sql.liveState, [id])).rows[0]
      if (live === undefined || live.state === 'ended') return
      const call = (await query(this.#sql.call, [id, callId])).rows[0]
      const gen = call === undefined ? toInt(live.gen) : toInt(call.gen)
      await query(this.#sql.finish, [id, callId, gen, JSON.stringify(outcome), until])
    })
  }

  async end(id: string, reason: EndReason, context: ActionContext): Promise<LiveRecord | null> {
    if (!storableId(id)) return null
    return this.#transaction(async (query) => {
      const row = (await query(this.#sql.lock, [id])).rows[0] as LiveRow | undefined
      if (row === undefined || row.state === 'ended') return null
      return this.#end(query, toLive(row), reason, context)
    })
  }

  async #end(
    query: Query,
    r: LiveRecord,
    reason: EndReason,
    context: ActionContext,
  ): Promise<LiveRecord> {
    const ended: LiveRecord = { ...r, state: 'ended', endReason: reason, endedAt: context.at }
    await query(this.#sql.write, liveParams(ended))
    for (const statement of this.#sql.dropChildren) await query(statement, [[r.id]])
    await this.#event(query, liveEvent('live.ended', ended, context, reason))
    return ended
  }

  async listBySession(sessionId: string): Promise<LiveRecord[]> {
    if (!storableId(sessionId)) return []
    const result = await this.#query(this.#sql.bySession, [sessionId])
    return (result.rows as LiveRow[]).map(toLive)
  }

  async countByPrincipal(principal: string): Promise<number> {
    if (!storableId(principal)) return 0
    const result = await this.#query(this.#sql.countByPrincipal, [principal])
    return toInt(result.rows[0].n)
  }

  /** One transaction; rows another sweeper holds are skipped (SKIP LOCKED), never waited for. */
  async sweep(now: number, limit: number, purgeBefore: number): Promise<LiveRecord[]> {
    const n = toBatch(limit)
    if (n === 0) return []
    const bound = (v: number): number | string =>
      Number.isFinite(v) ? v : v < 0 ? '-9223372036854775808' : '9223372036854775807'
    return this.#transaction(async (query) => {
      const purged = (await query(this.#sql.purge, [bound(purgeBefore), n])).rows.map(
        (row) => row.id as string,
      )
      if (purged.length > 0) {
        for (const statement of this.#sql.dropChildren) await query(statement, [purged])
      }
      await query(this.#sql.dropCalls, [bound(now), n])
      const due = (await query(this.#sql.due, [bound(now), n])).rows as LiveRow[]
      const out: LiveRecord[] = []
      for (const row of due) {
        const r = toLive(row)
        out.push(await this.#end(query, r, SWEEP_REASON, expiryContext(r)))
      }
      return out
    })
  }
}
