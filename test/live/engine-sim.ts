/** @module Test support: a simulated link between a client and a server Peer, with durable models. */

import { ManualClock } from '../../src/core/clock.ts'
import type {
  CallOutcome,
  Checkpoint,
  PeerDelta,
  PeerEvent,
  PeerLimits,
  PeerState,
  PendingCall,
  SlowConsumerPolicy,
} from '../../src/live/engine/index.ts'
import { Peer } from '../../src/live/engine/index.ts'
import type { Frame, GapReason, Side } from '../../src/live/protocol/frames.ts'

/** What one side's application has durably seen (committed at each flush). */
export interface AppLog {
  /** Delivered stream: a message seq, or a gap range. */
  received: Array<{ seq: number; json: string } | { from: number; to: number; reason: GapReason }>
  /** What this side sent, by seq (from the flushed deltas). */
  sent: Map<number, string>
  /** Calls made, results received, calls executed. */
  calls: string[]
  results: string[]
  executed: string[]
}

const emptyLog = (): AppLog => ({
  received: [],
  sent: new Map(),
  calls: [],
  results: [],
  executed: [],
})

function cloneLog(l: AppLog): AppLog {
  return {
    received: [...l.received],
    sent: new Map(l.sent),
    calls: [...l.calls],
    results: [...l.results],
    executed: [...l.executed],
  }
}

/** The server's store, as a gateway would keep it from the flushed deltas. */
interface Store {
  messages: Map<number, { seq: number; json: string; bytes: number; at: number }>
  outSeq: number
  outAcked: number
  outLostTo: number
  outLostReason: GapReason | null
  inLast: number
  turn: Side | null
  checkpoints: Checkpoint[]
  pendingCalls: PendingCall[]
  nextCallId: number
  nextResync: number
  /** The callee outcome table. */
  outcomes: Map<string, CallOutcome>
}

export interface SimOptions {
  limits: PeerLimits
  policy: SlowConsumerPolicy
  helloCredit: number
  welcomeCredit: number
}

/** One side in the simulation: its Peer, volatile and durable app logs, running inbound calls. */
class Side_ {
  peer!: Peer
  log: AppLog = emptyLog()
  durable: AppLog = emptyLog()
  running: string[] = []
  pendingCkpt: string[] = []
  snapshot: PeerState | null = null
  readonly side: Side
  constructor(side: Side) {
    this.side = side
  }
}

export class Sim {
  readonly clock = new ManualClock(1_000)
  readonly c = new Side_('client')
  readonly s = new Side_('server')
  /** Frames in flight: client to server, server to client. */
  c2s: Frame[] = []
  s2c: Frame[] = []
  connected = false
  store: Store
  violations: string[] = []
  creditNegative = false
  #k = 0
  #ckpt = 0

  readonly opts: SimOptions
  constructor(opts: SimOptions) {
    this.opts = opts
    this.store = {
      messages: new Map(),
      outSeq: 0,
      outAcked: 0,
      outLostTo: 0,
      outLostReason: null,
      inLast: 0,
      turn: null,
      checkpoints: [],
      pendingCalls: [],
      nextCallId: 1,
      nextResync: 1,
      outcomes: new Map(),
    }
    this.c.peer = this.#make(this.c)
    this.s.peer = this.#make(this.s)
    this.c.snapshot = this.c.peer.snapshot()
    this.connect()
  }

  #make(side: Side_, state?: PeerState): Peer {
    return new Peer({
      side: side.side,
      clock: this.clock,
      limits: this.opts.limits,
      policy: this.opts.policy,
      mode: 'full',
      onEvent: (e) => this.#onEvent(side, e),
      ...(state ? { state } : {}),
    })
  }

  #onEvent(side: Side_, e: PeerEvent): void {
    switch (e.type) {
      case 'message':
        side.log.received.push({ seq: e.seq, json: JSON.stringify(e.data) })
        break
      case 'gap':
        side.log.received.push({ from: e.from, to: e.to, reason: e.reason })
        break
      case 'call': {
        const known = side === this.s ? this.store.outcomes.get(e.id) : undefined
        if (known) side.peer.answer(e.id, known)
        else side.running.push(e.id)
        break
      }
      case 'result':
        side.log.results.push(e.id)
        break
      case 'checkpoint':
        side.pendingCkpt.push(e.id)
        break
      default:
        break
    }
  }

  /**
   * A handshake. The client persists before `hello` (its `last` must survive a reload); the
   * server attaches, flushes (persisting its delta) and only then writes `welcome` and the replay.
   */
  connect(): void {
    if (this.connected) return
    this.flush(this.c)
    const cl = this.c.snapshot!.inLast
    const { helloCredit, welcomeCredit } = this.opts
    const vs = this.s.peer.attach(cl, helloCredit, welcomeCredit)
    if (vs) this.violations.push(`server attach ${vs.code} ${vs.message}`)
    this.connected = true
    this.flush(this.s)
    const vc = this.c.peer.attach(this.store.inLast, welcomeCredit, helloCredit, this.s.peer.turn)
    if (vc) this.violations.push(`client attach ${vc.code} ${vc.message}`)
  }

  disconnect(): void {
    this.c2s = []
    this.s2c = []
    if (!this.connected) return
    this.connected = false
    this.c.peer.detach()
    this.s.peer.detach()
  }

  send(side: Side_): void {
    const data = { from: side.side, k: ++this.#k }
    const r = side.peer.send(data)
    if (!r.ok && r.reason === 'disconnect') this.disconnect()
  }

  call(side: Side_): void {
    const r = side.peer.call('m', { k: ++this.#k })
    if (r.ok) side.log.calls.push(r.id)
  }

  answer(side: Side_): void {
    const id = side.running.shift()
    if (id === undefined) return
    const outcome: CallOutcome = { ok: true, data: id }
    side.log.executed.push(id)
    if (side === this.s) this.store.outcomes.set(id, outcome)
    side.peer.answer(id, outcome)
  }

  checkpoint(side: Side_): void {
    side.peer.checkpoint(`k${++this.#ckpt}`, { at: this.#ckpt })
  }

  confirm(side: Side_): void {
    const id = side.pendingCkpt.shift()
    if (id !== undefined) side.peer.confirmCheckpoint(id)
  }

  flush(side: Side_): void {
    const { frames, delta } = side.peer.flush()
    for (const m of delta.appended) side.log.sent.set(m.seq, m.json)
    if (side === this.s) this.#persist(delta)
    else side.snapshot = side.peer.snapshot()
    side.durable = cloneLog(side.log)
    if (side.peer.credit < 0) this.creditNegative = true
    if (this.connected) (side === this.c ? this.c2s : this.s2c).push(...frames)
  }

  /** Delivers up to n frames in flight to `to`. */
  deliver(to: Side_, n: number): void {
    const q = to === this.s ? this.c2s : this.s2c
    for (let i = 0; i < n && q.length > 0 && this.connected; i++) {
      const f = q.shift()!
      const v = to.peer.receive(f)
      if (v) {
        this.violations.push(`${to.side} ${v.code} ${v.message} on ${JSON.stringify(f)}`)
        this.disconnect()
      }
    }
  }

  /** The server process dies: rebuild its Peer from the store only. */
  restartServer(): void {
    this.disconnect()
    const st = this.store
    const floor = Math.max(st.outAcked, st.outLostTo)
    const state: PeerState = {
      side: 'server',
      mode: 'full',
      turn: st.turn,
      outSeq: st.outSeq,
      outAcked: st.outAcked,
      outLostTo: st.outLostTo,
      outLostReason: st.outLostReason,
      outBuffer: [...st.messages.values()]
        .filter((m) => m.seq > floor)
        .sort((a, b) => a.seq - b.seq),
      inLast: st.inLast,
      checkpoints: st.checkpoints.map((c) => ({ ...c })),
      pendingCalls: st.pendingCalls.map((c) => ({ ...c })),
      nextCallId: st.nextCallId,
      nextResync: st.nextResync,
    }
    this.#restart(this.s, state)
  }

  /** The client page reloads: rebuild from its last snapshot. */
  restartClient(): void {
    this.disconnect()
    this.#restart(this.c, JSON.parse(JSON.stringify(this.c.snapshot)) as PeerState)
  }

  #restart(side: Side_, state: PeerState): void {
    side.log = cloneLog(side.durable)
    side.running = []
    side.pendingCkpt = []
    side.peer = this.#make(side, state)
  }

  #persist(d: PeerDelta): void {
    const st = this.store
    for (const m of d.appended) {
      st.messages.set(m.seq, { ...m })
      if (m.seq > st.outSeq) st.outSeq = m.seq
    }
    st.outAcked = d.outAcked
    st.outLostTo = d.outLostTo
    st.outLostReason = d.outLostReason
    for (const seq of st.messages.keys()) if (seq <= d.outAcked) st.messages.delete(seq)
    st.inLast = d.inLast
    st.turn = d.turn
    st.checkpoints = st.checkpoints.filter((c) => !d.droppedCheckpoints.includes(c.id))
    st.checkpoints.push(...d.checkpoints.map((c) => ({ ...c })))
    if (d.pendingCalls) st.pendingCalls = d.pendingCalls
    if (d.nextCallId !== undefined) st.nextCallId = d.nextCallId
    if (d.nextResync !== undefined) st.nextResync = d.nextResync
  }

  /** No more faults: run until nothing moves. */
  settle(): void {
    this.connect()
    for (let i = 0; i < 500; i++) {
      while (this.c.running.length > 0) this.answer(this.c)
      while (this.s.running.length > 0) this.answer(this.s)
      while (this.c.pendingCkpt.length > 0) this.confirm(this.c)
      while (this.s.pendingCkpt.length > 0) this.confirm(this.s)
      this.flush(this.c)
      this.flush(this.s)
      if (this.c2s.length === 0 && this.s2c.length === 0) {
        if (this.#quiet()) return
      }
      this.deliver(this.s, Number.POSITIVE_INFINITY)
      this.deliver(this.c, Number.POSITIVE_INFINITY)
      if (!this.connected) return
    }
  }

  #quiet(): boolean {
    return (
      this.c.running.length === 0 &&
      this.s.running.length === 0 &&
      this.c.pendingCkpt.length === 0 &&
      this.s.pendingCkpt.length === 0
    )
  }
}
