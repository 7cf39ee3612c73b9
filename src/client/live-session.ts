/**
 * @module One live session as the client holds it: the engine `Peer`, the application's requests
 * to it (sends in order, calls, checkpoints, resyncs, turns), its events turned into client
 * events, and the flush that persists the snapshot before the frames go out.
 */
import type { PeerContract, PeerEvent, PeerState, Violation } from '../live/engine/types.ts'
import type { Frame, JsonValue, ResyncKind, Side } from '../live/protocol/frames.ts'
import { DEFAULT_LIMITS } from '../live/protocol/limits.ts'
import { payloadProblem, utf8Length } from '../live/protocol/payload.ts'
import type { Emitter } from './events.ts'
import { LiveCallError, LiveError, type LiveErrorCode } from './live-errors.ts'
import type { LiveEvents, LostEvent } from './live-events.ts'
import { CallBook, type CallHandlers } from './live-rpc.ts'
import type { Cancel, LiveScheduler } from './live-scheduler.ts'

/**
 * A standalone `ack` goes out once this many messages are unacknowledged, or ACK_DELAY_MS after
 * the first one (docs/protocol.md section 5): never one per message, since every frame counts
 * against the server's rate limit (a browser delivers each message in its own task, so a fast
 * server stream would otherwise be answered with as many acks and closed with 4207).
 */
export const ACK_EVERY = 64
export const ACK_DELAY_MS = 1_000

export interface SessionHooks {
  events: Emitter<LiveEvents>
  handlers: CallHandlers
  /** Persists the snapshot; runs before the frames of the same flush are written. */
  save(state: PeerState): void
  /** Writes frames to the transport, if there is one (the engine replays what matters). */
  write(frames: Frame[]): void
  /** The engine found a protocol violation (or overflowed under `disconnect`): close with it. */
  violation(violation: Violation): void
  manualCheckpoints: boolean
  manualResyncs: boolean
  /** Timers for the delayed ack (default: none; a held ack then waits for the next flush). */
  scheduler?: LiveScheduler
}

interface PendingSend {
  data: JsonValue
  resolve: (seq: number) => void
  reject: (error: unknown) => void
}

interface Waiter {
  resolve: () => void
  reject: (error: unknown) => void
}

const refusal = (code: LiveErrorCode) => new LiveError(code, code.replaceAll('_', ' '))

/**
 * Requests of the application and events of the engine, serialised: engine events are queued and
 * dispatched after the engine call that raised them returns, so a listener may call back in.
 */
export class LiveSession {
  readonly peer: PeerContract
  readonly #h: SessionHooks
  readonly #calls = new CallBook()
  readonly #sends: PendingSend[] = []
  readonly #checkpoints = new Map<string, Waiter>()
  readonly #resyncs = new Map<number, Waiter>()
  readonly #queue: PeerEvent[] = []
  #afterFlush: Array<() => void> = []
  #flushing: Promise<void> | null = null
  #dispatching = false
  #ended = false
  /** Highest ack the server heard from us on this connection (any frame carrying one). */
  #ackWritten = 0
  /** A standalone ack held back until it is due, and the timer that sends it. */
  #ackHeld: number | null = null
  #ackTimer: Cancel | null = null
  /** The server's bound on a payload (welcome.maxPayloadBytes). */
  maxPayloadBytes: number = DEFAULT_LIMITS.maxPayloadBytes

  /** `create` builds the engine with the given event sink (new, or from a snapshot). */
  constructor(create: (onEvent: (e: PeerEvent) => void) => PeerContract, hooks: SessionHooks) {
    this.#h = hooks
    this.peer = create((event) => this.#queue.push(event))
  }

  /** A handshake completed: attach, then replay in the next flush. */
  attach(
    peerLast: number,
    creditFromPeer: number,
    creditToPeer: number,
    turn: Side | null,
  ): Violation | null {
    this.#dropHeldAck()
    this.#ackWritten = 0 // what the engine acks from now on is above the hello's `last`
    const violation = this.peer.attach(peerLast, creditFromPeer, creditToPeer, turn)
    this.#dispatch()
    if (violation === null) void this.flushSoon()
    return violation
  }

  detach(): void {
    this.#dropHeldAck()
    if (this.peer.attached) this.peer.detach()
    this.#dispatch()
  }

  /** A frame for the engine (msg, ack, gap, ckpt, ..., result, error). */
  receive(frame: Frame): void {
    if (this.#ended) return
    const violation = this.peer.receive(frame)
    this.#dispatch()
    if (violation !== null) {
      this.#h.violation(violation)
      return
    }
    this.#pumpSends()
    void this.flushSoon()
  }

  send(data: unknown): Promise<number> {
    const checked = this.#payload(data)
    if (checked instanceof LiveError) return Promise.reject(checked)
    return new Promise((resolve, reject) => {
      this.#sends.push({ data: checked, resolve, reject })
      this.#pumpSends()
    })
  }

  call(method: string, params?: unknown): Promise<unknown> {
    const checked = params === undefined ? undefined : this.#payload(params)
    if (checked instanceof LiveError) return Promise.reject(checked)
    if (this.#ended) return Promise.reject(refusal('session_ended'))
    const made = this.peer.call(method, checked)
    this.#dispatch()
    if (!made.ok)
      return Promise.reject(
        made.reason === 'too_many_calls'
          ? new LiveCallError('too_many_calls', 'too many calls wait for an answer')
          : refusal(made.reason),
      )
    const answer = this.#calls.wait(made.id)
    void this.flushSoon()
    return answer
  }

  checkpoint(id: string, state?: unknown): Promise<void> {
    const checked = state === undefined ? undefined : this.#payload(state)
    if (checked instanceof LiveError) return Promise.reject(checked)
    if (this.#ended) return Promise.reject(refusal('session_ended'))
    const marked = this.peer.checkpoint(id, checked)
    this.#dispatch()
    if (!marked.ok)
      return Promise.reject(
        refusal(marked.reason === 'pending' ? 'checkpoint_pending' : marked.reason),
      )
    void this.flushSoon()
    return new Promise((resolve, reject) => this.#checkpoints.set(id, { resolve, reject }))
  }

  resync(kind: ResyncKind, to: string, state?: unknown): Promise<void> {
    const checked = state === undefined ? undefined : this.#payload(state)
    if (checked instanceof LiveError) return Promise.reject(checked)
    if (this.#ended) return Promise.reject(refusal('session_ended'))
    const started = this.peer.resync(kind, to, checked)
    this.#dispatch()
    if (!started.ok)
      return Promise.reject(
        refusal(started.reason === 'pending' ? 'resync_pending' : started.reason),
      )
    void this.flushSoon()
    return new Promise((resolve, reject) => this.#resyncs.set(started.n, { resolve, reject }))
  }

  /** Runs an engine operation that returns a boolean or nothing, then flushes. */
  act<T>(op: (peer: PeerContract) => T): T {
    const result = op(this.peer)
    this.#dispatch()
    void this.flushSoon()
    return result
  }

  /** Flushes in a microtask (one flush for everything done in this turn); resolves after it. */
  flushSoon(): Promise<void> {
    this.#flushing ??= Promise.resolve().then(() => {
      this.#flushing = null
      this.flush()
    })
    return this.#flushing
  }

  /** Takes the engine's frames, persists the snapshot, then writes the frames. */
  flush(): void {
    if (this.#ended) return
    const { frames, delta } = this.peer.flush()
    this.#dispatch()
    if (delta.changed || frames.length > 0 || this.#afterFlush.length > 0)
      this.#h.save(this.peer.snapshot())
    const out = this.#batchAcks(frames)
    if (out.length > 0) this.#h.write(out)
    const after = this.#afterFlush
    this.#afterFlush = []
    for (const fn of after) fn()
    if (this.#sends.length > 0) this.#pumpSends() // credit may have come with the handshake
  }

  /** The session is over: rejects everything waiting; returns what the server never confirmed. */
  end(sid: string | null): LostEvent {
    const state = this.peer.snapshot()
    this.#ended = true
    this.#dropHeldAck()
    const error = refusal('session_ended')
    for (const s of this.#sends.splice(0)) s.reject(error)
    this.#calls.failAll(new LiveCallError('session_ended', 'the live session ended'))
    for (const w of this.#checkpoints.values()) w.reject(error)
    for (const w of this.#resyncs.values()) w.reject(error)
    this.#checkpoints.clear()
    this.#resyncs.clear()
    this.#afterFlush = []
    return { sid, seqs: state.outBuffer.map((m) => m.seq), calls: state.pendingCalls }
  }

  /**
   * Takes the standalone `ack` out of a flush unless it is due (ACK_EVERY messages since the last
   * ack the server heard); a held one goes out with the timer, or is superseded by a later ack.
   */
  #batchAcks(frames: Frame[]): Frame[] {
    let standalone: number | null = null
    for (const f of frames) {
      if (f.t === 'ack') standalone = f.ack
      else if ('ack' in f && typeof f.ack === 'number' && f.ack > this.#ackWritten)
        this.#ackWritten = f.ack
    }
    if (standalone === null) {
      if (this.#ackHeld !== null && this.#ackHeld <= this.#ackWritten) this.#dropHeldAck()
      return frames
    }
    const out = frames.filter((f): boolean => f.t !== 'ack')
    if (standalone <= this.#ackWritten) return out
    if (standalone - this.#ackWritten >= ACK_EVERY || this.#h.scheduler === undefined) {
      this.#dropHeldAck()
      this.#ackWritten = standalone
      out.push({ t: 'ack', ack: standalone })
      return out
    }
    this.#ackHeld = standalone
    this.#ackTimer ??= this.#h.scheduler.schedule(() => {
      this.#ackTimer = null
      const ack = this.#ackHeld
      this.#ackHeld = null
      if (ack === null || this.#ended || !this.peer.attached || ack <= this.#ackWritten) return
      this.#ackWritten = ack
      this.#h.write([{ t: 'ack', ack }])
    }, ACK_DELAY_MS)
    return out
  }

  #dropHeldAck(): void {
    this.#ackTimer?.()
    this.#ackTimer = null
    this.#ackHeld = null
  }

  #payload(data: unknown): JsonValue | LiveError {
    if (this.#ended) return refusal('session_ended')
    const text = JSON.stringify(data)
    if (text === undefined) return new LiveError('too_large', 'the payload is not JSON')
    if (utf8Length(text) > this.maxPayloadBytes)
      return new LiveError('too_large', `the payload is over ${this.maxPayloadBytes} bytes`)
    const value = JSON.parse(text) as JsonValue
    if (payloadProblem(value, DEFAULT_LIMITS.maxDepth) !== null)
      return new LiveError('too_large', 'the payload is nested too deep')
    return value
  }

  #pumpSends(): void {
    while (!this.#ended && this.#sends.length > 0) {
      const next = this.#sends[0]!
      const sent = this.peer.send(next.data)
      if (!sent.ok && sent.reason === 'queue_full') {
        this.#dispatch() // wait for a drain
        return
      }
      this.#sends.shift()
      if (sent.ok) {
        this.#afterFlush.push(() => next.resolve(sent.seq))
        void this.flushSoon()
      } else if (sent.reason === 'disconnect') {
        next.reject(new LiveError('session_ended', 'the outbound queue overflowed'))
        this.#h.violation(sent.violation)
      } else if (sent.reason !== 'queue_full') next.reject(refusal(sent.reason))
      this.#dispatch()
    }
  }

  #dispatch(): void {
    if (this.#dispatching) return
    this.#dispatching = true
    try {
      for (let e = this.#queue.shift(); e !== undefined; e = this.#queue.shift()) this.#handle(e)
    } finally {
      this.#dispatching = false
    }
  }

  #handle(e: PeerEvent): void {
    const { events } = this.#h
    switch (e.type) {
      case 'message':
        events.emit('message', { seq: e.seq, data: e.data })
        return
      case 'gap':
        events.emit('gap', { from: e.from, to: e.to, reason: e.reason })
        return
      case 'purged':
        events.emit('purged', { seq: e.seq })
        return
      case 'call':
        events.emit('call', { id: e.id, method: e.method, params: e.params })
        void this.#h.handlers.run(e.method, e.params, e.id).then((outcome) => {
          if (!this.#ended) this.act((peer) => peer.answer(e.id, outcome))
        })
        return
      case 'result':
        if (!this.#calls.settle(e.id, e.outcome))
          events.emit('result', { id: e.id, outcome: e.outcome })
        return
      case 'checkpoint':
        events.emit('checkpoint', { id: e.id, state: e.state })
        if (!this.#h.manualCheckpoints) this.act((peer) => peer.confirmCheckpoint(e.id))
        return
      case 'checkpoint_confirmed': {
        const mine = this.#checkpoints.get(e.checkpoint.id)
        this.#checkpoints.delete(e.checkpoint.id)
        mine?.resolve()
        events.emit('checkpoint_confirmed', { checkpoint: e.checkpoint })
        return
      }
      case 'resync': {
        const { n, kind, to, state, checkpoint } = e
        events.emit('resync', { n, kind, to, state, checkpoint })
        if (!this.#h.manualResyncs) this.act((peer) => peer.resyncDone(n))
        return
      }
      case 'resynced':
        this.#resyncs.get(e.n)?.resolve()
        this.#resyncs.delete(e.n)
        events.emit('resynced', { n: e.n })
        return
      case 'turn':
        events.emit('turn', { holder: e.holder })
        return
      case 'turn_requested':
        events.emit('turn_requested', {})
        return
      case 'drain':
        queueMicrotask(() => this.#pumpSends())
        events.emit('drain', {})
        return
      case 'acked':
        return
    }
  }
}
