/** @module RPC bookkeeping (protocol section 12): caller ids and pending calls, callee dedupe. */

import type { CallFrame, ErrorFrame, Frame, JsonValue, ResultFrame } from '../protocol/frames.ts'
import type { CallOutcome, PeerState, PendingCall, RecordedOutcome } from './types.ts'

/** What to do with an inbound `call`. */
export type InboundCall = 'run' | 'running' | 'answered' | 'too_many'

/** Both roles: the calls this side made, and the calls the peer made to it. */
export class Rpc {
  nextId = 1
  /** Set when the pending calls or nextId changed since the last flush. */
  dirty = false
  // The three collections are created at their first entry: most sessions make no call.
  /** Our calls not answered yet. */
  #pending: Map<string, PendingCall> | null = null
  #running: Set<string> | null = null
  /** Insertion-ordered by answer time, so expiry prunes from the front. */
  #outcomes: Map<string, RecordedOutcome> | null = null
  readonly #maxPending: number
  readonly #ttl: number

  constructor(maxPending: number, ttlMs: number, state?: PeerState) {
    this.#maxPending = maxPending
    this.#ttl = ttlMs
    if (!state) return
    this.nextId = state.nextCallId
    if (state.pendingCalls.length > 0) {
      const pending = new Map<string, PendingCall>()
      for (const c of state.pendingCalls) pending.set(c.id, { ...c })
      this.#pending = pending
    }
    if (state.outcomes !== undefined && state.outcomes.length > 0) {
      const outcomes = new Map<string, RecordedOutcome>()
      for (const o of state.outcomes) outcomes.set(o.id, { ...o })
      this.#outcomes = outcomes
    }
  }

  /** How many of our calls are not answered yet. */
  get pendingCount(): number {
    return this.#pending?.size ?? 0
  }

  /** A new outbound call: its frame, or null when too many are unanswered. */
  call(method: string, params: JsonValue | undefined): CallFrame | null {
    if (this.pendingCount >= this.#maxPending) return null
    const id = `c${this.nextId++}`
    const c: PendingCall = params === undefined ? { id, method } : { id, method, params }
    this.#pending ??= new Map()
    this.#pending.set(id, c)
    this.dirty = true
    return callFrame(c)
  }

  /** Every pending call again (after a resume), with the same ids. */
  resend(out: { frame: Frame; after: number }[]): void {
    if (this.#pending === null) return
    for (const c of this.#pending.values()) out.push({ frame: callFrame(c), after: 0 })
  }

  /** An answer arrived: the outcome when we wait for `id`, else null (ignored). */
  onAnswer(frame: ResultFrame | ErrorFrame): CallOutcome | null {
    if (this.#pending?.delete(frame.id) !== true) return null
    this.dirty = true
    if (frame.t === 'result')
      return frame.data === undefined ? { ok: true } : { ok: true, data: frame.data }
    const o: CallOutcome = { ok: false, code: frame.code }
    if (frame.message !== undefined) o.message = frame.message
    if (frame.data !== undefined) o.data = frame.data
    return o
  }

  /** Classifies an inbound call id; 'run' registers it as running. */
  onCall(id: string, now: number): InboundCall {
    this.#prune(now)
    if (this.#outcomes?.has(id) === true) return 'answered'
    if (this.#running?.has(id) === true) return 'running'
    if ((this.#running?.size ?? 0) >= this.#maxPending) return 'too_many'
    this.#running ??= new Set()
    this.#running.add(id)
    return 'run'
  }

  /** The answer frame to re-send for an answered id. */
  recorded(id: string): Frame | null {
    const r = this.#outcomes?.get(id)
    return r ? answerFrame(id, r.outcome) : null
  }

  /** Records the outcome of a running call; its frame, or null when `id` is not running. */
  answer(id: string, outcome: CallOutcome, now: number): Frame | null {
    if (this.#running?.delete(id) !== true) return null
    this.#outcomes ??= new Map()
    this.#outcomes.set(id, { id, outcome, at: now })
    return answerFrame(id, outcome)
  }

  /** Forgets a running call without answering it: when the peer sends it again, it runs anew. */
  abandon(id: string): void {
    this.#running?.delete(id)
  }

  /** Whether the peer's call `id` is known (running or answered): a retransmission. */
  knows(id: string): boolean {
    return this.#running?.has(id) === true || this.#outcomes?.has(id) === true
  }

  /** The recorded outcomes, for snapshots. */
  outcomes(now: number): RecordedOutcome[] {
    this.#prune(now)
    return this.#outcomes === null ? [] : [...this.#outcomes.values()].map((o) => ({ ...o }))
  }

  /** The pending calls, for snapshots and deltas. */
  pendingList(): PendingCall[] {
    return this.#pending === null ? [] : [...this.#pending.values()].map((c) => ({ ...c }))
  }

  #prune(now: number): void {
    if (this.#outcomes === null) return
    const oldest = now - this.#ttl
    for (const [id, r] of this.#outcomes) {
      if (r.at >= oldest) break
      this.#outcomes.delete(id)
    }
  }
}

function callFrame(c: PendingCall): CallFrame {
  return c.params === undefined
    ? { t: 'call', id: c.id, method: c.method }
    : { t: 'call', id: c.id, method: c.method, params: c.params }
}

/** The `result` or `error` frame that carries `outcome`. */
export function answerFrame(id: string, outcome: CallOutcome): ResultFrame | ErrorFrame {
  if (outcome.ok) {
    return outcome.data === undefined
      ? { t: 'result', id }
      : { t: 'result', id, data: outcome.data }
  }
  const f: ErrorFrame = { t: 'error', id, code: outcome.code }
  if (outcome.message !== undefined) f.message = outcome.message
  if (outcome.data !== undefined) f.data = outcome.data
  return f
}
