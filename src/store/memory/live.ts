/** @module MemoryLiveStore: the LiveStore in one process's memory, for tests and embedding. */
import { ParleyError } from '../../core/errors.ts'
import type { ActionContext, AuditEventInput, EndReason } from '../../core/session.ts'
import { isNone, none } from '../../live/engine/empty.ts'
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
  liveEvent,
  matchToken,
  RESUME_ACTOR,
  SWEEP_REASON,
  storableId,
  toBatch,
} from '../live-common.ts'

interface CallEntry {
  gen: number
  outcome: CallOutcome | null
  until: number
}

/**
 * A live session's record with everything kept beside it. The collections are created at their
 * first entry (null, or the shared empty list, until then): an idle session holds none.
 */
interface Entry {
  record: LiveRecord
  /** Ascending by seq, all > outAcked. */
  buffer: BufferedMessage[]
  /** Insertion order is oldest first. */
  checkpoints: Map<string, Checkpoint> | null
  calls: Map<string, CallEntry> | null
}

const copyMessage = (m: BufferedMessage): BufferedMessage => ({ ...m })
const copyCheckpoint = (c: Checkpoint): Checkpoint => ({ ...c })

/** Ids under one key of an index: the one id, or a set when there are several (rarer). */
type Ids = string | Set<string>

function addTo(index: Map<string, Ids>, key: string, id: string): void {
  const ids = index.get(key)
  if (ids === undefined) index.set(key, id)
  else if (typeof ids !== 'string') ids.add(id)
  else if (ids !== id) index.set(key, new Set([ids, id]))
}

function removeFrom(index: Map<string, Ids>, key: string, id: string): void {
  const ids = index.get(key)
  if (ids === id) index.delete(key)
  else if (ids !== undefined && typeof ids !== 'string') {
    ids.delete(id)
    if (ids.size === 0) index.delete(key)
  }
}

function idsOf(ids: Ids | undefined): string[] {
  return ids === undefined ? [] : typeof ids === 'string' ? [ids] : [...ids]
}

function countOf(ids: Ids | undefined): number {
  return ids === undefined ? 0 : typeof ids === 'string' ? 1 : ids.size
}

/** Index of the first message with seq > after (the buffer is ascending). */
function firstAfter(buffer: BufferedMessage[], after: number): number {
  let lo = 0
  let hi = buffer.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (buffer[mid]!.seq <= after) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Live sessions in memory. Every method completes in one synchronous step, so each is atomic, and
 * its audit event is appended in that same step through the owning {@link MemoryStore}.
 *
 * @example
 * const live = new MemoryStore().live()
 * await live.create(record, { at: clock.now() })
 */
export class MemoryLiveStore implements LiveStore {
  readonly kind = 'memory'
  readonly #append: (event: AuditEventInput) => void
  #live = new Map<string, Entry>()
  /** Not-ended live session ids per principal and per Parley session. */
  #byPrincipal = new Map<string, Ids>()
  #bySession = new Map<string, Ids>()

  /** `append` records an audit event in the owning store (synchronously). */
  constructor(append: (event: AuditEventInput) => void) {
    this.#append = append
  }

  async init(): Promise<void> {}
  async close(): Promise<void> {}

  async create(record: LiveRecord, context: ActionContext): Promise<void> {
    if (!storableId(record.id)) {
      throw new ParleyError('ERR_VALIDATION', 'a live session id must be well-formed, without NUL')
    }
    const old = this.#live.get(record.id)
    if (old !== undefined) this.#unindex(old.record)
    const r: LiveRecord = { ...record, prevTokenHash: null }
    this.#live.set(r.id, { record: r, buffer: none(), checkpoints: null, calls: null })
    if (r.state !== 'ended') this.#index(r)
    this.#append(liveEvent('live.started', r, context))
  }

  async get(id: string): Promise<LiveRecord | null> {
    const e = this.#live.get(id)
    return e === undefined ? null : { ...e.record }
  }

  async resume(
    id: string,
    input: { tokenHash: string; newTokenHash: string; expiresAt: number; at: number },
  ): Promise<ResumeOutcome> {
    const e = this.#live.get(id)
    const match = e === undefined ? null : matchToken(e.record, input.tokenHash)
    if (e === undefined || match === null) return { ok: false, reason: 'invalid' }
    const r = e.record
    if (r.state === 'ended') return { ok: false, reason: 'ended', endReason: r.endReason! }
    if (expiredAt(r, input.at)) {
      this.#end(e, SWEEP_REASON, expiryContext(r))
      return { ok: false, reason: 'ended', endReason: SWEEP_REASON }
    }
    applyResume(r, match, input)
    this.#append(liveEvent('live.resumed', r, { at: input.at, actor: RESUME_ACTOR }))
    return { ok: true, record: { ...r } }
  }

  async commit(commits: LiveCommit[]): Promise<boolean[]> {
    return commits.map((c) => this.#commit(c))
  }

  #commit(c: LiveCommit): boolean {
    const e = this.#live.get(c.id)
    if (e === undefined || e.record.gen !== c.gen || e.record.state === 'ended') return false
    const r = e.record
    const acked = c.outAcked ?? r.outAcked
    for (const m of c.append ?? []) {
      if (m.seq <= r.outSeq) continue // already stored (a retried commit)
      if (m.seq > acked) {
        if (isNone(e.buffer)) e.buffer = []
        e.buffer.push(copyMessage(m))
      } // else trimmed below at once
      r.outSeq = m.seq
    }
    applyFields(r, c)
    const trim = firstAfter(e.buffer, r.outAcked)
    if (trim > 0) e.buffer.splice(0, trim)
    for (const ck of c.checkpoints ?? []) {
      e.checkpoints ??= new Map()
      if (!e.checkpoints.has(ck.id)) e.checkpoints.set(ck.id, copyCheckpoint(ck))
    }
    for (const ckId of c.dropCheckpoints ?? []) e.checkpoints?.delete(ckId)
    return true
  }

  async messages(id: string, after: number, limit: number): Promise<BufferedMessage[]> {
    const e = this.#live.get(id)
    const n = toBatch(limit)
    if (e === undefined || n === 0) return []
    const from = firstAfter(e.buffer, after)
    return e.buffer.slice(from, from + n).map(copyMessage)
  }

  async checkpoints(id: string): Promise<Checkpoint[]> {
    const e = this.#live.get(id)
    return e?.checkpoints == null ? [] : [...e.checkpoints.values()].map(copyCheckpoint)
  }

  async claimCall(id: string, callId: string, gen: number, until: number): Promise<CallClaim> {
    const e = this.#live.get(id)
    // An unknown or ended live session has nothing to run a call on: report it as running under
    // gen 0, which is older than any, so the caller treats it as interrupted and never runs it.
    if (e === undefined || e.record.state === 'ended') return { state: 'running', gen: 0 }
    const call = e.calls?.get(callId)
    if (call === undefined) {
      e.calls ??= new Map()
      e.calls.set(callId, { gen, outcome: null, until })
      return { state: 'new' }
    }
    if (call.outcome !== null) return { state: 'done', outcome: structuredClone(call.outcome) }
    return { state: 'running', gen: call.gen }
  }

  async finishCall(id: string, callId: string, outcome: CallOutcome, until: number): Promise<void> {
    const e = this.#live.get(id)
    if (e === undefined || e.record.state === 'ended') return
    const gen = e.calls?.get(callId)?.gen ?? e.record.gen
    e.calls ??= new Map()
    e.calls.set(callId, { gen, outcome: structuredClone(outcome), until })
  }

  async end(id: string, reason: EndReason, context: ActionContext): Promise<LiveRecord | null> {
    const e = this.#live.get(id)
    if (e === undefined || e.record.state === 'ended') return null
    return this.#end(e, reason, context)
  }

  async listBySession(sessionId: string): Promise<LiveRecord[]> {
    return idsOf(this.#bySession.get(sessionId))
      .map((id) => ({ ...this.#live.get(id)!.record }))
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
  }

  async countByPrincipal(principal: string): Promise<number> {
    return countOf(this.#byPrincipal.get(principal))
  }

  async sweep(now: number, limit: number, purgeBefore: number): Promise<LiveRecord[]> {
    const n = toBatch(limit)
    if (n === 0) return []
    // Purge first: what this sweep ends is reported and kept, however old its deadline.
    let purged = 0
    for (const [id, e] of this.#live) {
      if (purged >= n) break
      const r = e.record
      if (r.state === 'ended' && r.endedAt !== null && r.endedAt < purgeBefore) {
        this.#live.delete(id)
        purged++
      }
    }
    let dropped = 0
    for (const e of this.#live.values()) {
      if (e.calls === null) continue
      for (const [callId, call] of e.calls) {
        if (dropped >= n) break
        if (call.until <= now) {
          e.calls.delete(callId)
          dropped++
        }
      }
    }
    const due: Entry[] = []
    for (const e of this.#live.values()) {
      if (e.record.state !== 'ended' && e.record.expiresAt <= now) due.push(e)
    }
    due.sort((a, b) => a.record.expiresAt - b.record.expiresAt)
    return due.slice(0, n).map((e) => this.#end(e, SWEEP_REASON, expiryContext(e.record)))
  }

  #end(e: Entry, reason: EndReason, context: ActionContext): LiveRecord {
    const r = e.record
    this.#unindex(r)
    r.state = 'ended'
    r.endReason = reason
    r.endedAt = context.at
    e.buffer = none()
    e.checkpoints = null
    e.calls = null
    this.#append(liveEvent('live.ended', r, context, reason))
    return { ...r }
  }

  #index(r: LiveRecord): void {
    addTo(this.#byPrincipal, r.principal, r.id)
    addTo(this.#bySession, r.sessionId, r.id)
  }

  #unindex(r: LiveRecord): void {
    removeFrom(this.#byPrincipal, r.principal, r.id)
    removeFrom(this.#bySession, r.sessionId, r.id)
  }
}
