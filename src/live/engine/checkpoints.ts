/** @module Checkpoints and resynchronisation (protocol section 9): mark, confirm, restart/abandon/set. */

import { CLOSE_CODES } from '../protocol/close-codes.ts'
import type {
  CkptFrame,
  JsonValue,
  ResyncFrame,
  ResyncKind,
  ResyncOkFrame,
  Side,
} from '../protocol/frames.ts'
import { outOfState } from './dialog.ts'
import { isNone, none } from './empty.ts'
import type { Checkpoint, PeerState, Violation } from './types.ts'

const SEQUENCE_ERROR = CLOSE_CODES.sequence_error.code

/** Our checkpoint, marked and not yet confirmed. */
export interface MarkedCheckpoint {
  frame: CkptFrame
  /** Our inLast at the mark. */
  inSeq: number
  at: number
}

/** A resync in progress (ours, or the peer's waiting for `resyncDone`). */
export interface PendingResync {
  frame: ResyncFrame
  /** Our outSeq when it was sent (ours) / our inLast when it arrived (peer's). */
  at: number
}

/** What the peer's `ckpt` calls for. */
export type CkptAction = Violation | 'event' | 'reconfirm' | 'ignore'
/** What the peer's `resync` calls for. */
export type ResyncAction = Violation | 'event' | 'reanswer' | 'ignore'

/** Confirmed checkpoints kept per session unless `PeerLimits.maxCheckpoints` says otherwise. */
export const DEFAULT_MAX_CHECKPOINTS = 16

/** Confirmed checkpoints of the session plus the unconfirmed one per direction. */
export class Checkpoints {
  /** Confirmed checkpoints, oldest first (the shared empty list until the first). */
  list: Checkpoint[] = none()
  /** The same by id; null until the first. */
  #byId: Map<string, Checkpoint> | null = null
  mine: MarkedCheckpoint | null = null
  theirs: CkptFrame | null = null
  /**
   * Set at each handshake while the peer's checkpoint is unconfirmed: the peer re-sends it if it
   * still has it, but a peer rebuilt from its store (a failover) has forgotten it, so its next
   * `ckpt` with another id replaces the stale one instead of being a second unconfirmed one.
   */
  theirsStale = false
  ourResync: PendingResync | null = null
  theirResync: PendingResync | null = null
  nextResync = 1
  /** Highest peer resync number answered. */
  #answered = 0
  /** Index in `list` of the target of the last resync (restart may not go older). */
  #floor = -1
  /** Delta bookkeeping: confirmed and dropped since the last flush. */
  fresh: Checkpoint[] = none()
  dropped: string[] = none()
  readonly #side: Side

  readonly #maxKept: number

  constructor(side: Side, state?: PeerState, maxKept = DEFAULT_MAX_CHECKPOINTS) {
    this.#side = side
    this.#maxKept = Math.max(1, maxKept)
    if (!state) return
    for (const c of state.checkpoints) this.#add({ ...c })
    this.nextResync = state.nextResync
  }

  get(id: string): Checkpoint | undefined {
    return this.#byId?.get(id)
  }

  /** Marks our checkpoint at (outSeq, inLast). */
  mark(
    id: string,
    state: JsonValue | undefined,
    outSeq: number,
    inLast: number,
    now: number,
  ): CkptFrame | 'pending' | 'duplicate_id' {
    if (this.mine) return 'pending'
    if (this.#byId?.has(id) === true || this.theirs?.id === id) return 'duplicate_id'
    const frame: CkptFrame = { t: 'ckpt', id, seq: outSeq, ack: inLast }
    if (state !== undefined) frame.state = state
    this.mine = { frame, inSeq: inLast, at: now }
    return frame
  }

  /** The peer's `ckpt`; `inLast` is what we received, `ackable` the highest seq we sent. */
  onCkpt(frame: CkptFrame, inLast: number, ackable: number): CkptAction {
    if (this.#byId?.has(frame.id) === true) return 'reconfirm'
    if (this.theirs && this.theirsStale && this.theirs.id !== frame.id) this.theirs = null
    this.theirsStale = false
    if (this.theirs) {
      return this.theirs.id === frame.id ? 'ignore' : outOfState('a second unconfirmed ckpt')
    }
    if (this.mine?.frame.id === frame.id) return outOfState('ckpt id already in use')
    if (frame.seq > inLast)
      return { code: SEQUENCE_ERROR, message: 'ckpt seq beyond what was received' }
    if (frame.ack > ackable)
      return { code: SEQUENCE_ERROR, message: 'ckpt ack beyond what was sent' }
    this.theirs = frame
    return 'event'
  }

  /** Our application took the peer's checkpoint `id`: it is confirmed. */
  confirm(id: string, now: number): Checkpoint | null {
    const f = this.theirs
    if (!f || f.id !== id) return null
    this.theirs = null
    const peer: Side = this.#side === 'client' ? 'server' : 'client'
    const json = f.state === undefined ? null : JSON.stringify(f.state)
    return this.#confirmNew({ id, by: peer, outSeq: f.ack, inSeq: f.seq, state: json, at: now })
  }

  /** The peer's `ckpt_ok`: our mark is confirmed (an unknown or repeated id is ignored). */
  onCkptOk(id: string): Checkpoint | null {
    const m = this.mine
    if (!m || m.frame.id !== id) return null
    this.mine = null
    const f = m.frame
    const json = f.state === undefined ? null : JSON.stringify(f.state)
    return this.#confirmNew({
      id,
      by: this.#side,
      outSeq: f.seq,
      inSeq: m.inSeq,
      state: json,
      at: m.at,
    })
  }

  /** Starts our resync; the frame, or why not. */
  startResync(
    kind: ResyncKind,
    to: string,
    state: JsonValue | undefined,
    outSeq: number,
  ): ResyncFrame | 'pending' | 'unknown_checkpoint' {
    if (this.ourResync || this.theirResync) return 'pending'
    if (this.#targetProblem(kind, to)) return 'unknown_checkpoint'
    const frame: ResyncFrame = { t: 'resync', n: this.nextResync++, kind, to }
    if (state !== undefined) frame.state = state
    this.ourResync = { frame, at: outSeq }
    return frame
  }

  /** The peer's `resync`. */
  onResync(frame: ResyncFrame, inLast: number): ResyncAction {
    if (frame.n <= this.#answered) return 'reanswer'
    if (this.theirResync) {
      return this.theirResync.frame.n === frame.n ? 'ignore' : outOfState('a second resync')
    }
    if (this.ourResync) {
      // Both sent one at once: the server's wins (section 9).
      if (this.#side === 'server') return 'ignore'
      this.ourResync = null
    }
    const problem = this.#targetProblem(frame.kind, frame.to)
    if (problem) return outOfState(problem)
    this.theirResync = { frame, at: inLast }
    return 'event'
  }

  /** Our application restored the peer's resync `n`: apply it, return the `resync_ok`. */
  resyncDone(
    n: number,
    outSeq: number,
    now: number,
  ): { ok: ResyncOkFrame; created: Checkpoint | null } | null {
    const r = this.theirResync
    if (!r || r.frame.n !== n) return null
    this.theirResync = null
    this.#answered = n
    const peer: Side = this.#side === 'client' ? 'server' : 'client'
    const created = this.#apply(r.frame, peer, outSeq, r.at, now)
    return { ok: { t: 'resync_ok', n }, created }
  }

  /** The peer confirmed our resync `n` (another n is ignored). */
  onResyncOk(n: number, inLast: number, now: number): { created: Checkpoint | null } | null {
    const r = this.ourResync
    if (!r || r.frame.n !== n) return null
    this.ourResync = null
    return { created: this.#apply(r.frame, this.#side, r.at, inLast, now) }
  }

  /** The answer to a repeated resync. */
  answered(): number {
    return this.#answered
  }

  #targetProblem(kind: ResyncKind, to: string): string | null {
    const c = this.#byId?.get(to)
    if (kind === 'restart') {
      if (!c) return 'restart to an unknown or unconfirmed checkpoint'
      if (this.list.indexOf(c) < this.#floor) return 'restart older than the last resync target'
      return null
    }
    if (kind === 'abandon' && c) return 'abandon to an existing checkpoint id'
    return null
  }

  /** Applies a resync both sides agreed on; a new checkpoint when `to` is new. */
  #apply(f: ResyncFrame, by: Side, outSeq: number, inSeq: number, now: number): Checkpoint | null {
    const existing = this.#byId?.get(f.to)
    if (existing) {
      const idx = this.list.indexOf(existing)
      if (f.kind === 'set') {
        for (const c of this.list.splice(idx + 1)) {
          this.#byId?.delete(c.id)
          this.#drop(c.id)
        }
      }
      this.#floor = idx
      return null
    }
    const json = f.state === undefined ? null : JSON.stringify(f.state)
    const c = this.#confirmNew({ id: f.to, by, outSeq, inSeq, state: json, at: now })
    this.#floor = this.list.length - 1
    return c
  }

  #confirmNew(c: Checkpoint): Checkpoint {
    this.#add(c)
    if (isNone(this.fresh)) this.fresh = []
    this.fresh.push(c)
    this.#trim()
    return c
  }

  /**
   * Keeps the newest `maxKept` confirmed checkpoints (SEC-49: a peer marking checkpoints in a loop
   * cannot grow memory or the store); older ones are forgotten on both sides' terms: a restart to
   * one of them is refused like a restart to an unknown id.
   */
  #trim(): void {
    const over = this.list.length - this.#maxKept
    if (over <= 0) return
    for (const c of this.list.splice(0, over)) {
      this.#byId?.delete(c.id)
      const fresh = this.fresh.indexOf(c)
      if (fresh >= 0) this.fresh.splice(fresh, 1)
      else this.#drop(c.id)
    }
    this.#floor = Math.max(-1, this.#floor - over)
  }

  #add(c: Checkpoint): void {
    if (isNone(this.list)) this.list = []
    this.list.push(c)
    this.#byId ??= new Map()
    this.#byId.set(c.id, c)
  }

  #drop(id: string): void {
    if (isNone(this.dropped)) this.dropped = []
    this.dropped.push(id)
  }
}
