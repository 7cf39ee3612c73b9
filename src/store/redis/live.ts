/** @module RedisLiveStore: the LiveStore under the Redis store's prefix, on its client. */

/*
 * Key layout (under the session store's prefix). `<h>` is base64url(SHA-256(live session id)): no
 * caller's id ever becomes key syntax (SEC-54), and the braces make it the hash tag, so the keys
 * of one live session sit in one slot.
 *
 *   <prefix>live:{<h>}:r    hash    the record: one field per LiveRecord field (null ones absent,
 *                                    so prevTokenHash only while unconfirmed), plus pk and sk (the
 *                                    principal's and session's keys) and ckn (the checkpoint counter)
 *   <prefix>live:{<h>}:m    zset    the replay buffer: member '<seq>:<at>:<bytes>:<json>', score seq
 *   <prefix>live:{<h>}:c    hash    checkpoints: id -> JSON
 *   <prefix>live:{<h>}:co   zset    checkpoint ids, scored by insertion (oldest first)
 *   <prefix>live:{<h>}:k    hash    calls: call id -> '<gen>:<until>:<outcome JSON, empty while running>'
 *   <prefix>live:exp        zset    <h> of live sessions not ended, scored by expiresAt (sweep)
 *   <prefix>live:ended      zset    <h> of ended records, scored by endedAt (purge)
 *   <prefix>live:cx         zset    '<h>:<call id>', scored by until (sweep)
 *   <prefix>live:p:<pk>     zset    <h> not ended of a principal (pk: SHA-256 of the principal)
 *   <prefix>live:s:<sk>     zset    <h> not ended of a Parley session (sk: SHA-256 of its id)
 *
 * Audit events go to the session store's streams (ev:s:<sessionId>, ev:p:<pk>) from inside the
 * same script. Expiry: while not ended, the per-session keys expire LIVE_EXPIRY_MARGIN_MS after
 * expiresAt (a duration on the caller's clock, set with PEXPIRE, so Redis's clock never matters);
 * an ended record keeps the store's endedTtlMs. The principal and session indexes live at least as
 * long as their members; members whose record has gone are dropped when read. No KEYS or SCAN.
 */
import { ParleyError } from '../../core/errors.ts'
import type { ActionContext, EndReason } from '../../core/session.ts'
import type { BufferedMessage, CallOutcome, Checkpoint } from '../../live/engine/types.ts'
import type {
  CallClaim,
  LiveCommit,
  LiveRecord,
  LiveStore,
  ResumeOutcome,
} from '../../live/live-store.ts'
import { storableId, toBatch } from '../live-common.ts'
import { hash, num, opt, pairs, principalKey } from './codec.ts'
import {
  LIVE_CHECKPOINTS,
  LIVE_CLAIM_CALL,
  LIVE_COMMIT,
  LIVE_CREATE,
  LIVE_END,
  LIVE_FINISH_CALL,
  LIVE_LIST,
  LIVE_RESUME,
  LIVE_SCRIPTS,
  LIVE_SWEEP,
} from './live-scripts.ts'
import { type RedisConnection, SharedRedis } from './shared.ts'

/** What a live store needs of the session store whose connection it shares. */
export interface RedisLiveConnection extends RedisConnection {
  /** How long an ended record is kept when purge never runs, in ms, as a string ('0': for ever). */
  readonly endedTtl: string
}

/**
 * How long Redis keeps a live session's keys after its expiresAt (on the caller's clock) when the
 * sweeper has not ended it: room for a sweeper that is late or down, and for clock drift. 1 hour.
 */
export const LIVE_EXPIRY_MARGIN_MS = 60 * 60_000

function malformed(): ParleyError {
  return new ParleyError('ERR_INTERNAL', 'The store returned a malformed reply')
}

/** The key of a live session (or of anything else named by caller text): fixed length, no syntax. */
const keyOf: (id: string) => string = principalKey

/** Milliseconds from `at` to `until` on the caller's clock, at least 1, plus the margin. */
const ttl = (at: number, until: number): string =>
  num(Math.max(1, Math.ceil(until - at)) + LIVE_EXPIRY_MARGIN_MS)

/** A score bound Redis reads: a number, or ±inf. */
const score = (n: number): string => (Number.isFinite(n) ? num(n) : n < 0 ? '-inf' : '+inf')

/** '' when not given, '-' for null, '=value' otherwise (the scripts' nullable argument). */
const maybe = (v: string | number | null | undefined): string =>
  v === undefined ? '' : v === null ? '-' : `=${v}`

function encodeRecord(r: LiveRecord, pk: string, sk: string): string[] {
  const f = [
    'id',
    r.id,
    'sessionId',
    r.sessionId,
    'principal',
    r.principal,
    'pk',
    pk,
    'sk',
    sk,
    'tokenHash',
    r.tokenHash,
    'gen',
    num(r.gen),
    'mode',
    r.mode,
    'state',
    r.state,
    'createdAt',
    num(r.createdAt),
    'expiresAt',
    num(r.expiresAt),
    'outSeq',
    num(r.outSeq),
    'outAcked',
    num(r.outAcked),
    'outLostTo',
    num(r.outLostTo),
    'inLast',
    num(r.inLast),
    'ckn',
    '0',
  ]
  if (r.turn !== null) f.push('turn', r.turn)
  if (r.suspendedAt !== null) f.push('suspendedAt', num(r.suspendedAt))
  if (r.endReason !== null) f.push('endReason', r.endReason)
  if (r.endedAt !== null) f.push('endedAt', num(r.endedAt))
  if (r.outLostReason !== null) f.push('outLostReason', r.outLostReason)
  if (r.prevTokenHash !== null) f.push('prevTokenHash', r.prevTokenHash)
  return f
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

const numberOrNull = (h: Record<string, string>, name: string): number | null =>
  h[name] === undefined ? null : number(h, name)

function decodeRecord(h: Record<string, string>): LiveRecord {
  return {
    id: text(h, 'id'),
    sessionId: text(h, 'sessionId'),
    principal: text(h, 'principal'),
    tokenHash: text(h, 'tokenHash'),
    gen: number(h, 'gen'),
    mode: text(h, 'mode') as LiveRecord['mode'],
    turn: (h.turn ?? null) as LiveRecord['turn'],
    state: text(h, 'state') as LiveRecord['state'],
    createdAt: number(h, 'createdAt'),
    suspendedAt: numberOrNull(h, 'suspendedAt'),
    expiresAt: number(h, 'expiresAt'),
    endReason: (h.endReason ?? null) as EndReason | null,
    endedAt: numberOrNull(h, 'endedAt'),
    outSeq: number(h, 'outSeq'),
    outAcked: number(h, 'outAcked'),
    outLostTo: number(h, 'outLostTo'),
    outLostReason: (h.outLostReason ?? null) as LiveRecord['outLostReason'],
    inLast: number(h, 'inLast'),
    prevTokenHash: h.prevTokenHash ?? null,
  }
}

function decodeRecords(reply: unknown): LiveRecord[] {
  if (!Array.isArray(reply)) throw malformed()
  return reply.map((item) => decodeRecord(pairs(item)))
}

const encodeMessage = (m: BufferedMessage): string => `${m.seq}:${m.at}:${m.bytes}:${m.json}`

function decodeMessage(member: unknown): BufferedMessage {
  if (typeof member !== 'string') throw malformed()
  const a = member.indexOf(':')
  const b = member.indexOf(':', a + 1)
  const c = member.indexOf(':', b + 1)
  if (a < 0 || b < 0 || c < 0) throw malformed()
  return {
    seq: Number(member.slice(0, a)),
    at: Number(member.slice(a + 1, b)),
    bytes: Number(member.slice(b + 1, c)),
    json: member.slice(c + 1),
  }
}

const encodeCheckpoint = (c: Checkpoint): string =>
  JSON.stringify({
    id: c.id,
    by: c.by,
    outSeq: c.outSeq,
    inSeq: c.inSeq,
    state: c.state,
    at: c.at,
  })

/** A stored call, '<gen>:<until>:<outcome JSON or empty>', as a claim. */
function decodeCall(value: unknown): CallClaim {
  if (typeof value !== 'string') throw malformed()
  const a = value.indexOf(':')
  const b = value.indexOf(':', a + 1)
  if (a < 0 || b < 0) throw malformed()
  const outcome = value.slice(b + 1)
  if (outcome === '') return { state: 'running', gen: Number(value.slice(0, a)) }
  return { state: 'done', outcome: JSON.parse(outcome) as CallOutcome }
}

function contextArgs(ctx: ActionContext): string[] {
  return [opt(ctx.actor), opt(ctx.ip), opt(ctx.userAgent)]
}

/**
 * Live sessions under the prefix of a {@link RedisStore}, on its client: get one with
 * `store.live()`. Each write is one atomic Lua script with its audit event; `commit` sends one
 * script per commit, all at once (node-redis pipelines them: one round trip for the batch).
 * `init()` opens the session store's connection when needed and loads the scripts (EVALSHA falls
 * back to EVAL anyway).
 *
 * @example
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379' })
 * const live = store.live()
 * await live.init()
 */
export class RedisLiveStore implements LiveStore {
  readonly kind = 'redis'
  readonly prefix: string
  readonly #redis: SharedRedis
  readonly #endedTtl: string

  constructor(connection: RedisLiveConnection) {
    this.#redis = new SharedRedis(connection)
    this.prefix = connection.prefix
    this.#endedTtl = connection.endedTtl
  }

  /** Opens the shared connection when needed and loads the scripts; safe to call again. */
  async init(): Promise<void> {
    await this.#redis.load(LIVE_SCRIPTS)
  }

  /** Nothing to release: the connection belongs to the session store. */
  async close(): Promise<void> {}

  /** The key of a live session's record (for tests and tools). */
  recordKey(id: string): string {
    return `${this.prefix}live:{${keyOf(id)}}:r`
  }

  #eval(script: Parameters<SharedRedis['eval']>[0], h: string, args: string[]) {
    return this.#redis.eval(script, [this.#endedTtl, h, ...args])
  }

  async create(record: LiveRecord, context: ActionContext): Promise<void> {
    for (const text of [record.id, record.sessionId, record.principal]) {
      if (!storableId(text)) {
        throw new ParleyError('ERR_VALIDATION', 'live session ids must be well-formed, without NUL')
      }
    }
    const pk = principalKey(record.principal)
    const sk = keyOf(record.sessionId)
    await this.#eval(LIVE_CREATE, keyOf(record.id), [
      pk,
      sk,
      ttl(context.at, record.expiresAt),
      num(context.at),
      ...contextArgs(context),
      record.state,
      num(record.state === 'ended' ? (record.endedAt ?? context.at) : record.expiresAt),
      num(record.createdAt),
      ...encodeRecord({ ...record, prevTokenHash: null }, pk, sk),
    ])
  }

  /** One HGETALL. */
  async get(id: string): Promise<LiveRecord | null> {
    if (!storableId(id)) return null
    const h = hash(await this.#redis.send(['HGETALL', this.recordKey(id)]))
    return h.id === undefined ? null : decodeRecord(h)
  }

  /**
   * Compares the token hashes (current, then the unconfirmed previous one) inside the script
   * (hashes, never the token: SEC-48); the same script ends a record whose expiresAt has passed.
   */
  async resume(
    id: string,
    input: { tokenHash: string; newTokenHash: string; expiresAt: number; at: number },
  ): Promise<ResumeOutcome> {
    if (!storableId(id) || !storableId(input.tokenHash)) return { ok: false, reason: 'invalid' }
    const reply = await this.#eval(LIVE_RESUME, keyOf(id), [
      input.tokenHash,
      input.newTokenHash,
      num(input.expiresAt),
      num(input.at),
      ttl(input.at, input.expiresAt),
    ])
    if (!Array.isArray(reply)) throw malformed()
    const [status, detail] = reply as [unknown, unknown]
    if (status === 'ok') return { ok: true, record: decodeRecord(pairs(detail)) }
    if (status === 'ended') return { ok: false, reason: 'ended', endReason: detail as EndReason }
    return { ok: false, reason: 'invalid' }
  }

  /** One script per commit, sent together: node-redis writes them in one go (a pipeline). */
  async commit(commits: LiveCommit[]): Promise<boolean[]> {
    const replies = await Promise.all(
      commits.map((c) => (storableId(c.id) ? this.#commit(c) : Promise.resolve(0))),
    )
    return replies.map((reply) => Number(reply) === 1)
  }

  #commit(c: LiveCommit): Promise<unknown> {
    const append = c.append ?? []
    const checkpoints = c.checkpoints ?? []
    const drop = c.dropCheckpoints ?? []
    const args = [
      num(c.gen),
      num(c.at),
      c.expiresAt === undefined ? '' : `=${ttl(c.at, c.expiresAt)}`,
      maybe(c.outAcked),
      maybe(c.outLostTo),
      maybe(c.outLostReason),
      maybe(c.inLast),
      maybe(c.turn),
      maybe(c.state),
      maybe(c.expiresAt),
      num(append.length),
      num(checkpoints.length),
      num(drop.length),
      c.confirmToken === true ? '1' : '',
    ]
    for (const m of append) args.push(num(m.seq), encodeMessage(m))
    for (const ck of checkpoints) args.push(ck.id, encodeCheckpoint(ck))
    for (const id of drop) args.push(id)
    return this.#eval(LIVE_COMMIT, keyOf(c.id), args)
  }

  /** One ZRANGE BYSCORE. */
  async messages(id: string, after: number, limit: number): Promise<BufferedMessage[]> {
    const n = toBatch(limit)
    if (n === 0 || !storableId(id)) return []
    const reply = await this.#redis.send([
      'ZRANGE',
      `${this.prefix}live:{${keyOf(id)}}:m`,
      `(${score(after)}`,
      '+inf',
      'BYSCORE',
      'LIMIT',
      '0',
      num(n),
    ])
    if (!Array.isArray(reply)) throw malformed()
    return reply.map(decodeMessage)
  }

  async checkpoints(id: string): Promise<Checkpoint[]> {
    if (!storableId(id)) return []
    const reply = await this.#eval(LIVE_CHECKPOINTS, keyOf(id), [])
    if (!Array.isArray(reply)) throw malformed()
    return reply.map((json) => JSON.parse(String(json)) as Checkpoint)
  }

  /**
   * Insert-if-absent in one script. On an unknown or ended live session nothing is recorded and
   * the claim reads `running` under gen 0 (older than any): never run it.
   */
  async claimCall(id: string, callId: string, gen: number, until: number): Promise<CallClaim> {
    if (!storableId(id) || !storableId(callId)) return { state: 'running', gen: 0 }
    const reply = await this.#eval(LIVE_CLAIM_CALL, keyOf(id), [callId, num(gen), num(until)])
    if (!Array.isArray(reply)) throw malformed()
    const [status, value] = reply as [unknown, unknown]
    if (status === 'new') return { state: 'new' }
    if (status === 'gone') return { state: 'running', gen: 0 }
    return decodeCall(value)
  }

  async finishCall(id: string, callId: string, outcome: CallOutcome, until: number): Promise<void> {
    if (!storableId(id) || !storableId(callId)) return
    await this.#eval(LIVE_FINISH_CALL, keyOf(id), [callId, num(until), JSON.stringify(outcome)])
  }

  async end(id: string, reason: EndReason, context: ActionContext): Promise<LiveRecord | null> {
    if (!storableId(id)) return null
    const reply = await this.#eval(LIVE_END, keyOf(id), [
      reason,
      num(context.at),
      ...contextArgs(context),
    ])
    if (!Array.isArray(reply)) throw malformed()
    return reply.length === 0 ? null : decodeRecord(pairs(reply))
  }

  async listBySession(sessionId: string): Promise<LiveRecord[]> {
    if (!storableId(sessionId)) return []
    const reply = await this.#eval(LIVE_LIST, '-', [`s:${keyOf(sessionId)}`, '1'])
    return decodeRecords(reply).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
  }

  async countByPrincipal(principal: string): Promise<number> {
    if (!storableId(principal)) return 0
    return Number(await this.#eval(LIVE_LIST, '-', [`p:${principalKey(principal)}`, '0']))
  }

  async sweep(now: number, limit: number, purgeBefore: number): Promise<LiveRecord[]> {
    const n = toBatch(limit)
    if (n === 0 || Number.isNaN(now) || Number.isNaN(purgeBefore)) return []
    const reply = await this.#eval(LIVE_SWEEP, '-', [score(now), num(n), score(purgeBefore)])
    return decodeRecords(reply)
  }
}
