/** @module `Peer`: one side of a `parley.v1` live session, sans I/O; dispatch and legality. */

import type { Clock } from '../../core/clock.ts'
import { CLOSE_CODES } from '../protocol/close-codes.ts'
import type {
  DialogMode,
  Frame,
  JsonValue,
  MsgFrame,
  ResyncKind,
  Side,
} from '../protocol/frames.ts'
import { Checkpoints } from './checkpoints.ts'
import { Dialog, outOfState } from './dialog.ts'
import { isNone, none } from './empty.ts'
import { Inbound } from './inbound.ts'
import { Outbound } from './outbound.ts'
import { DeltaTracker, snapshotOf } from './persist.ts'
import { answerFrame, Rpc } from './rpc.ts'
import type {
  CallOutcome,
  FlushResult,
  PeerContract,
  PeerEvent,
  PeerOptions,
  PeerState,
  SendResult,
  SlowConsumerPolicy,
  Violation,
} from './types.ts'

const SEQUENCE_ERROR = CLOSE_CODES.sequence_error.code
const OVER_CREDIT = CLOSE_CODES.over_credit.code
const SLOW_CONSUMER = CLOSE_CODES.slow_consumer.code
const DEFAULT_OUTCOME_TTL_MS = 120_000

/** A frame that must keep its place after our messages (`after`: the last seq before it). */
interface Ordered {
  frame: Frame
  after: number
}

/**
 * One side of a live session: see `PeerContract` in `./types.ts` for the lifecycle.
 *
 * @example
 * const peer = new Peer({ side: 'server', clock, limits, policy: 'wait', onEvent })
 * peer.attach(0, 256, 256)
 * peer.send({ op: 'joined' })
 * const { frames, delta } = peer.flush() // persist delta, then write frames
 */
export { ENGINE_FRAMES } from './legality.ts'

export class Peer implements PeerContract {
  readonly #clock: Clock
  readonly #policy: SlowConsumerPolicy
  readonly #emit: (event: PeerEvent) => void
  readonly #dialog: Dialog
  readonly #out: Outbound
  readonly #in: Inbound
  readonly #ck: Checkpoints
  readonly #rpc: Rpc
  #attached = false
  /** Frames with no place in the stream (answers, confirmations, turn_please). */
  #immediate: Frame[] = none()
  /** Frames that follow our messages in order (calls, ckpt, turn_give, resync). */
  #ordered: Ordered[] = none()
  readonly #tracker: DeltaTracker

  constructor(options: PeerOptions) {
    const { state, limits } = options
    this.#clock = options.clock
    this.#policy = options.policy
    this.#emit = options.onEvent
    const side = state?.side ?? options.side
    this.#dialog = state
      ? new Dialog(side, state.mode, state.turn)
      : new Dialog(side, options.mode ?? 'full', options.turn ?? null)
    this.#out = new Outbound(limits, options.clock, state)
    this.#in = new Inbound(limits.maxCredit, options.autoCredit ?? true, state)
    this.#ck = new Checkpoints(side, state, options.limits.maxCheckpoints)
    const ttl = limits.callOutcomeTtlMs ?? DEFAULT_OUTCOME_TTL_MS
    this.#rpc = new Rpc(limits.maxPendingCalls, ttl, state)
    this.#tracker = new DeltaTracker({
      dialog: this.#dialog,
      out: this.#out,
      in: this.#in,
      ck: this.#ck,
      rpc: this.#rpc,
    })
  }

  get attached(): boolean {
    return this.#attached
  }
  get mode(): DialogMode {
    return this.#dialog.mode
  }
  get turn(): Side | null {
    return this.#dialog.turn
  }
  get credit(): number {
    return this.#out.credit
  }
  get unacked(): number {
    return this.#out.count
  }
  get pendingCalls(): number {
    return this.#rpc.pendingCount
  }

  attach(
    peerLast: number,
    creditFromPeer: number,
    creditToPeer: number,
    turn?: Side | null,
  ): Violation | null {
    if (peerLast > this.#out.seq) {
      return { code: SEQUENCE_ERROR, message: `peer last ${peerLast} beyond our last seq` }
    }
    if (turn !== undefined && this.#dialog.mode !== 'full' && turn !== null) {
      this.#dialog.turn = turn
    }
    const ackedBefore = this.#out.acked
    this.#out.attach(peerLast, creditFromPeer)
    this.#in.attach(creditToPeer)
    this.#attached = true
    this.#ck.theirsStale = this.#ck.theirs !== null
    this.#immediate = none()
    const ordered: Ordered[] = []
    const mine = this.#ck.mine
    if (mine) ordered.push({ frame: mine.frame, after: mine.frame.seq })
    this.#rpc.resend(ordered)
    const r = this.#ck.ourResync
    if (r) ordered.push({ frame: r.frame, after: r.at })
    this.#ordered = ordered.length > 0 ? ordered : none()
    if (this.#out.acked > ackedBefore) this.#emit({ type: 'acked', upTo: this.#out.acked })
    return null
  }

  detach(): void {
    this.#attached = false
    this.#immediate = none()
    this.#ordered = none()
  }

  receive(frame: Frame): Violation | null {
    switch (frame.t) {
      case 'msg':
        return this.#onMsg(frame)
      case 'ack':
        return this.#onAck(frame.ack)
      case 'gap': {
        const v = this.#in.onGap(frame)
        if (v) return v
        this.#emit({ type: 'gap', from: frame.from, to: frame.to, reason: frame.reason })
        return null
      }
      case 'credit': {
        if (this.#out.credit + frame.n > this.#limitsMaxCredit()) {
          return { code: OVER_CREDIT, message: 'credit grant over maxCredit' }
        }
        this.#out.credit += frame.n
        if (this.#out.wantDrain) {
          this.#out.wantDrain = false
          this.#emit({ type: 'drain' })
        }
        return null
      }
      case 'call':
        return this.#onCall(frame.id, frame.method, frame.params)
      case 'result':
      case 'error': {
        const outcome = this.#rpc.onAnswer(frame)
        if (outcome) this.#emit({ type: 'result', id: frame.id, outcome })
        return null
      }
      case 'ckpt':
        return this.#onCkpt(frame)
      case 'ckpt_ok': {
        const c = this.#ck.onCkptOk(frame.id)
        if (c) this.#emit({ type: 'checkpoint_confirmed', checkpoint: c })
        return null
      }
      case 'resync':
        return this.#onResync(frame)
      case 'resync_ok': {
        const r = this.#ck.onResyncOk(frame.n, this.#in.last, this.#clock.now())
        if (!r) return null
        if (r.created) this.#emit({ type: 'checkpoint_confirmed', checkpoint: r.created })
        this.#emit({ type: 'resynced', n: frame.n })
        return null
      }
      case 'turn_please': {
        const v = this.#dialog.onPlease()
        if (v === 'ignore') return null
        if (v) return v
        this.#emit({ type: 'turn_requested' })
        return null
      }
      case 'turn_give': {
        const v = this.#dialog.onGive()
        if (v) return v
        this.#emit({ type: 'turn', holder: this.#dialog.side })
        return null
      }
      default:
        return outOfState(`${frame.t} is not handled by the session engine`)
    }
  }

  send(data: JsonValue, json?: string): SendResult {
    if (!this.#dialog.may(this.#dialog.side)) return NOT_YOUR_TURN
    if (this.#ck.ourResync) return RESYNC_PENDING
    const r = this.#out.enqueue(data, this.#policy, this.#attached, json)
    if (r === 'queue_full') {
      this.#out.wantDrain = true
      return QUEUE_FULL
    }
    if (r === 'disconnect') {
      return {
        ok: false,
        reason: 'disconnect',
        violation: { code: SLOW_CONSUMER, message: 'outbound queue full' },
      }
    }
    const queued = this.#out.waiting(this.#attached) > 0
    if (queued) this.#out.wantDrain = true
    return { ok: true, seq: r, queued }
  }

  call(
    method: string,
    params?: JsonValue,
  ):
    | { ok: true; id: string }
    | { ok: false; reason: 'too_many_calls' | 'not_your_turn' | 'resync_pending' } {
    if (!this.#dialog.may(this.#dialog.side)) return { ok: false, reason: 'not_your_turn' }
    if (this.#ck.ourResync) return { ok: false, reason: 'resync_pending' }
    const frame = this.#rpc.call(method, params)
    if (!frame) return { ok: false, reason: 'too_many_calls' }
    this.#later({ frame, after: 0 })
    return { ok: true, id: frame.id }
  }

  answer(id: string, outcome: CallOutcome): void {
    const frame = this.#rpc.answer(id, outcome, this.#clock.now())
    if (frame) this.#now(frame)
  }

  abandonCall(id: string): void {
    this.#rpc.abandon(id)
  }

  checkpoint(
    id: string,
    state?: JsonValue,
  ):
    | { ok: true }
    | { ok: false; reason: 'not_your_turn' | 'pending' | 'duplicate_id' | 'resync_pending' } {
    if (!this.#dialog.may(this.#dialog.side)) return { ok: false, reason: 'not_your_turn' }
    if (this.#ck.ourResync) return { ok: false, reason: 'resync_pending' }
    const now = this.#clock.now()
    const r = this.#ck.mark(id, state, this.#out.seq, this.#in.last, now)
    if (typeof r === 'string') return { ok: false, reason: r }
    this.#later({ frame: r, after: r.seq })
    return { ok: true }
  }

  confirmCheckpoint(id: string): void {
    const c = this.#ck.confirm(id, this.#clock.now())
    if (!c) return
    this.#now({ t: 'ckpt_ok', id })
    this.#emit({ type: 'checkpoint_confirmed', checkpoint: c })
  }

  resync(
    kind: ResyncKind,
    to: string,
    state?: JsonValue,
  ): { ok: true; n: number } | { ok: false; reason: 'unknown_checkpoint' | 'pending' } {
    const r = this.#ck.startResync(kind, to, state, this.#out.seq)
    if (typeof r === 'string') return { ok: false, reason: r }
    this.#later({ frame: r, after: this.#out.seq })
    return { ok: true, n: r.n }
  }

  resyncDone(n: number): void {
    const r = this.#ck.resyncDone(n, this.#out.seq, this.#clock.now())
    if (!r) return
    this.#now(r.ok)
    if (r.created) this.#emit({ type: 'checkpoint_confirmed', checkpoint: r.created })
  }

  requestTurn(): boolean {
    const d = this.#dialog
    if (d.mode !== 'half' || d.turn === d.side) return false
    this.#now({ t: 'turn_please' })
    return true
  }

  giveTurn(): boolean {
    const d = this.#dialog
    if (d.mode !== 'half' || d.turn !== d.side) return false
    d.give()
    this.#later({ frame: { t: 'turn_give' }, after: this.#out.seq })
    this.#emit({ type: 'turn', holder: d.peer })
    return true
  }

  grant(n: number): void {
    const given = this.#in.grant(n)
    if (given > 0) this.#in.setWindow(given)
  }

  flush(): FlushResult {
    const frames: Frame[] = []
    this.#out.evict()
    if (this.#attached) {
      if (this.#immediate.length > 0) {
        for (const f of this.#immediate) frames.push(f)
        this.#immediate = none()
      }
      const waitingBefore = this.#out.queued
      this.#out.pump(frames, this.#in)
      // Queued messages went out (credit from a handshake, or granted earlier): room again.
      if (this.#out.wantDrain && this.#out.queued < waitingBefore) {
        this.#out.wantDrain = false
        this.#emit({ type: 'drain' })
      }
      const ordered = this.#ordered
      const written = this.#out.written
      let i = 0
      while (i < ordered.length && ordered[i]!.after <= written) frames.push(ordered[i++]!.frame)
      if (i > 0) this.#ordered = i < ordered.length ? ordered.slice(i) : none()
      if (this.#in.grantPending > 0) {
        frames.push({ t: 'credit', n: this.#in.grantPending })
        this.#in.grantPending = 0
      }
      const ack = this.#in.takeAck()
      if (ack !== undefined) frames.push({ t: 'ack', ack })
    }
    return { frames, delta: this.#tracker.delta() }
  }

  snapshot(): PeerState {
    return snapshotOf(this.#tracker.parts, this.#clock.now())
  }

  /** Queues a frame with no place in the stream. */
  #now(frame: Frame): void {
    if (isNone(this.#immediate)) this.#immediate = []
    this.#immediate.push(frame)
  }

  /** Queues a frame that must follow our messages up to `o.after`. */
  #later(o: Ordered): void {
    if (isNone(this.#ordered)) this.#ordered = []
    this.#ordered.push(o)
  }

  #limitsMaxCredit(): number {
    return this.#in.maxCredit
  }

  #onMsg(frame: MsgFrame): Violation | null {
    const v = this.#dialog.checkPeer('msg') ?? this.#checkAck(frame.ack) ?? this.#in.onMsg(frame)
    if (v) return v
    if (frame.ack !== undefined) this.#applyAck(frame.ack)
    if (this.#ck.ourResync) this.#emit({ type: 'purged', seq: frame.seq })
    else this.#emit({ type: 'message', seq: frame.seq, data: frame.data })
    return null
  }

  #onAck(n: number): Violation | null {
    const v = this.#checkAck(n)
    if (v) return v
    this.#applyAck(n)
    return null
  }

  #checkAck(n: number | undefined): Violation | null {
    if (n === undefined) return null
    if (n < this.#out.acked) return { code: SEQUENCE_ERROR, message: 'ack decreased' }
    if (n > this.#out.ackable) return { code: SEQUENCE_ERROR, message: 'ack beyond what was sent' }
    return null
  }

  #applyAck(n: number): void {
    if (!this.#out.ack(n)) return
    this.#emit({ type: 'acked', upTo: n })
    // An ack frees replay-buffer room: a send refused for a full buffer may go now.
    if (this.#out.wantDrain) {
      this.#out.wantDrain = false
      this.#emit({ type: 'drain' })
    }
  }

  #onCall(id: string, method: string, params: JsonValue | undefined): Violation | null {
    // A known id is a retransmission (after a resume): no turn needed, never run twice.
    if (!this.#rpc.knows(id)) {
      const v = this.#dialog.checkPeer('call')
      if (v) return v
    }
    switch (this.#rpc.onCall(id, this.#clock.now())) {
      case 'answered':
        this.#now(this.#rpc.recorded(id)!)
        return null
      case 'running':
        return null
      case 'too_many':
        this.#now(answerFrame(id, TOO_MANY_CALLS))
        return null
      case 'run':
        this.#emit({ type: 'call', id, method, params })
        return null
    }
  }

  #onCkpt(frame: Extract<Frame, { t: 'ckpt' }>): Violation | null {
    const ck = this.#ck
    if (!ck.get(frame.id) && ck.theirs?.id !== frame.id) {
      const v = this.#dialog.checkPeer('ckpt')
      if (v) return v
    }
    const action = ck.onCkpt(frame, this.#in.last, this.#out.ackable)
    if (action === 'reconfirm') this.#now({ t: 'ckpt_ok', id: frame.id })
    else if (action === 'event') {
      this.#emit({ type: 'checkpoint', id: frame.id, state: frame.state })
    } else if (action !== 'ignore') return action
    return null
  }

  #onResync(frame: Extract<Frame, { t: 'resync' }>): Violation | null {
    const action = this.#ck.onResync(frame, this.#in.last)
    if (action === 'reanswer') this.#now({ t: 'resync_ok', n: frame.n })
    else if (action === 'event') {
      const target = this.#ck.get(frame.to) ?? null
      this.#emit({
        type: 'resync',
        n: frame.n,
        kind: frame.kind,
        to: frame.to,
        state: frame.state,
        checkpoint: target,
      })
    } else if (action !== 'ignore') return action
    return null
  }
}

const NOT_YOUR_TURN: SendResult = { ok: false, reason: 'not_your_turn' }
const RESYNC_PENDING: SendResult = { ok: false, reason: 'resync_pending' }
const QUEUE_FULL: SendResult = { ok: false, reason: 'queue_full' }
const TOO_MANY_CALLS: CallOutcome = {
  ok: false,
  code: 'too_many_calls',
  message: 'too many unanswered calls',
}
