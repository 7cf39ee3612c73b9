/**
 * @module `LiveClient`: a `parley.v1` live session that survives disconnects and page reloads.
 * The state machine (idle -> connecting -> open -> reconnecting -> open ... -> ended) over the
 * transport (`LiveLink`), the engine (`LiveSession`) and the stored resume info (`ResumeInfo`).
 */
import type { PeerState, Violation } from '../live/engine/types.ts'
import { CLOSE_CODES, closeCodeName, mayResume } from '../live/protocol/close-codes.ts'
import type {
  Frame,
  HelloFrame,
  JsonValue,
  ResyncKind,
  WelcomeFrame,
} from '../live/protocol/frames.ts'
import { DEFAULT_LIMITS } from '../live/protocol/limits.ts'
import { Emitter } from './events.ts'
import type { ConnectionClose } from './live-connection.ts'
import { LiveError } from './live-errors.ts'
import type { LiveEvents, LiveState } from './live-events.ts'
import { LiveLink } from './live-link.ts'
import {
  type LiveClientOptions,
  peerOptions,
  type ResolvedOptions,
  resolveOptions,
} from './live-options.ts'
import { Outbox } from './live-outbox.ts'
import { ResumeInfo } from './live-resume.ts'
import { type CallHandler, CallHandlers } from './live-rpc.ts'
import type { Cancel } from './live-scheduler.ts'
import { LiveSession } from './live-session.ts'

const OUT_OF_STATE = CLOSE_CODES.frame_out_of_state.code
const SESSION_ENDED = CLOSE_CODES.session_ended.code

interface Waiting {
  run: (session: LiveSession) => void
  fail: (error: unknown) => void
}

/**
 * @example
 * const live = new LiveClient({ url: 'wss://example.com/live', credential: () => token })
 * live.on('message', ({ seq, data }) => render(data))
 * live.on('ended', ({ reason }) => showEnded(reason))
 * live.connect()
 * const seq = await live.send({ text: 'hi' }) // persisted: a reload will not lose it
 */
export class LiveClient {
  readonly #o: ResolvedOptions
  readonly #events = new Emitter<LiveEvents>()
  readonly #handlers = new CallHandlers()
  readonly #resume: ResumeInfo
  readonly #link: LiveLink
  #state: LiveState = 'idle'
  #session: LiveSession | null = null
  #closing = false
  #window: Cancel | null = null
  #waiting: Waiting[] = []

  constructor(options: LiveClientOptions) {
    const o = resolveOptions(options)
    this.#o = o
    this.#resume = new ResumeInfo(new Outbox(o.storage, o.name), o.clock)
    this.#link = new LiveLink(o, {
      hello: () => this.#hello(),
      welcome: (w) => this.#welcome(w),
      frame: (frame) => this.#frame(frame),
      closed: (close) => this.#closed(close),
    })
    const restored = this.#resume.load()
    if (restored !== null) this.#session = this.#newSession(restored, null)
  }

  get state(): LiveState {
    return this.#state
  }

  /** The live session id, once a `welcome` named one (or restored from storage). */
  get sid(): string | null {
    return this.#resume.sid
  }

  on<K extends keyof LiveEvents>(name: K, listener: (event: LiveEvents[K]) => void): () => void {
    return this.#events.on(name, listener)
  }

  /** Answers the server's calls of `method`; returns the function that removes the handler. */
  handle(method: string, handler: CallHandler): () => void {
    return this.#handlers.set(method, handler)
  }

  /** Opens (or resumes) the session; after `ended`, starts a new one. */
  connect(): void {
    if (this.#state === 'idle' || this.#state === 'ended') this.#dial('connecting')
  }

  /** Sends a message; resolves with its seq once it is in the (persisted) outbox. */
  send(data: unknown): Promise<number> {
    return this.#with((s) => s.send(data))
  }

  /** Calls a server method; rejects with a `LiveCallError`. Survives reconnects. */
  call(method: string, params?: JsonValue): Promise<unknown> {
    return this.#with((s) => s.call(method, params))
  }

  /** Marks a checkpoint; resolves when the server confirmed it. */
  checkpoint(id: string, state?: JsonValue): Promise<void> {
    return this.#with((s) => s.checkpoint(id, state))
  }

  /** Starts a resync; resolves when the server confirmed it. */
  resync(kind: ResyncKind, to: string, state?: JsonValue): Promise<void> {
    return this.#with((s) => s.resync(kind, to, state))
  }

  /** Half duplex: asks for the turn (false when not possible now). */
  requestTurn(): boolean {
    return this.#session?.act((p) => p.requestTurn()) ?? false
  }

  /** Half duplex: hands the turn over (false when it is not ours). */
  giveTurn(): boolean {
    return this.#session?.act((p) => p.giveTurn()) ?? false
  }

  /** With `manualCheckpoints`: confirms the server's checkpoint `id`. */
  confirmCheckpoint(id: string): void {
    this.#session?.act((p) => p.confirmCheckpoint(id))
  }

  /** With `manualResyncs`: confirms the server's resync `n` once the state is restored. */
  resyncDone(n: number): void {
    this.#session?.act((p) => p.resyncDone(n))
  }

  /** Ends the session (`bye` with `logout`, once connected); resolves once it has ended. */
  close(): Promise<void> {
    if (this.#state === 'ended') return Promise.resolve()
    const ended = new Promise<void>((resolve) => {
      const off = this.on('ended', () => {
        off()
        resolve()
      })
    })
    this.#closing = true
    if (this.#session === null && this.#state === 'idle') this.#end('logout', null)
    else if (this.#link.ready) this.#bye()
    else if (this.#state === 'idle') this.#dial('connecting')
    return ended
  }

  /**
   * Drops the transport and keeps the session, as a network failure would: it resumes after a
   * backoff, or, with `reconnect: false`, waits in `idle` for `connect()` (as after a reload).
   */
  disconnect(options: { reconnect?: boolean } = {}): void {
    if (options.reconnect !== false) {
      this.#link.close(1000)
      return
    }
    this.#link.drop()
    this.#suspend()
    this.#setState('idle')
  }

  // --- transport events ----------------------------------------------------------------------

  #dial(state: LiveState): void {
    if (this.#resume.windowLeft() <= 0) {
      this.#expire()
      return
    }
    this.#setState(state)
    this.#link.open()
  }

  async #hello(): Promise<HelloFrame | null> {
    const credit = this.#o.credit
    const resume = this.#resume.request(this.#session?.peer.snapshot().inLast ?? 0)
    if (resume !== null) return { t: 'hello', resume, credit }
    try {
      return { t: 'hello', cred: await this.#o.credential(), mode: this.#o.mode, credit }
    } catch {
      this.#end('credential_unavailable', null)
      return null
    }
  }

  #welcome(w: WelcomeFrame): Violation | null {
    const resuming = this.#resume.active
    if (w.resumed !== resuming || (resuming && w.sid !== this.sid))
      return { code: OUT_OF_STATE, message: 'welcome does not answer the hello' }
    const restored = this.#resume.restored
    this.#session ??= this.#newSession(null, w)
    const session = this.#session
    const before = session.peer.snapshot()
    this.#resume.welcomed(w, before) // the presented token is spent: keep the new one first
    session.maxPayloadBytes = w.maxPayloadBytes
    const credit = this.#o.credit ?? DEFAULT_LIMITS.initialCredit
    const violation = session.attach(w.last, w.credit, credit, w.turn ?? null)
    if (violation !== null) return violation
    this.#window?.()
    this.#window = null
    this.#setState('open')
    if (!resuming) this.#events.emit('open', { sid: w.sid })
    else {
      const replayedOut = before.outBuffer.filter((m) => m.seq > w.last).length
      const replayedInAfter = before.inLast
      this.#events.emit('resumed', { sid: w.sid, replayedOut, replayedInAfter, restored })
      // Proves at once that the new resume token arrived: the server then stops accepting the
      // previous one, which it keeps only in case this welcome was lost (protocol.md sec. 4).
      this.#link.send({ t: 'ack', ack: before.inLast })
    }
    for (const op of this.#waiting.splice(0)) op.run(session)
    if (this.#closing) this.#bye()
    return null
  }

  #frame(frame: Frame): void {
    if (frame.t === 'bye') this.#end(frame.reason, SESSION_ENDED)
    else this.#session?.receive(frame)
  }

  #closed(close: ConnectionClose): void {
    this.#suspend()
    if (this.#state === 'ended' || this.#state === 'idle') return
    if (this.#closing) {
      this.#end('logout', close.code)
      return
    }
    if (!mayResume(close.code)) {
      const renew = this.#resume.restored
      this.#end(closeCodeName(close.code) ?? `close_${close.code}`, close.code)
      if (renew) this.#dial('connecting') // the stored session cannot resume: start a new one
      return
    }
    const left = this.#resume.windowLeft()
    if (left <= 0) {
      this.#expire()
      return
    }
    this.#setState('reconnecting')
    this.#link.retry(close.err?.retryMs)
    if (left !== Number.POSITIVE_INFINITY && this.#window === null)
      this.#window = this.#o.scheduler.schedule(() => this.#expire(), left)
  }

  /** The transport is gone: detach the engine and note when (the resume window starts). */
  #suspend(): void {
    const session = this.#session
    if (session === null) return
    session.detach()
    this.#resume.lost(session.peer.snapshot())
  }

  #expire(): void {
    if (this.#state === 'open' || this.#state === 'ended') return
    const renew = this.#resume.restored && !this.#closing
    this.#end('resume_window_expired', null)
    if (renew) this.#dial('connecting')
  }

  #bye(): void {
    this.#session?.flush() // what was sent before close() goes out before the bye
    this.#link.send({ t: 'bye', reason: 'logout' })
    this.#setState('closing')
  }

  /** The session is over: report what the server never confirmed, forget it, emit `ended`. */
  #end(reason: string, code: number | null): void {
    if (this.#state === 'ended') return
    this.#link.drop()
    this.#suspend()
    this.#window?.()
    this.#window = null
    const sid = this.sid
    const lost = this.#session?.end(sid)
    this.#session = null
    this.#resume.clear()
    this.#closing = false
    const error = new LiveError('session_ended', 'the live session ended')
    for (const op of this.#waiting.splice(0)) op.fail(error)
    this.#setState('ended')
    if (lost !== undefined && (lost.seqs.length > 0 || lost.calls.length > 0))
      this.#events.emit('lost', lost)
    this.#events.emit('ended', { sid, reason, code })
  }

  // --- the session -------------------------------------------------------------------------

  #newSession(state: PeerState | null, w: WelcomeFrame | null): LiveSession {
    const o = this.#o
    return new LiveSession((onEvent) => o.createPeer(peerOptions(o, state, w, onEvent)), {
      events: this.#events,
      handlers: this.#handlers,
      manualCheckpoints: o.manualCheckpoints,
      manualResyncs: o.manualResyncs,
      scheduler: o.scheduler,
      save: (peer) => this.#resume.save(peer),
      write: (frames) => {
        for (const frame of frames) this.#link.send(frame)
      },
      violation: (v) => this.#link.fail(v.code, v.message),
    })
  }

  /** Runs `op` on the session now, or once the first `welcome` created it. */
  #with<T>(op: (s: LiveSession) => Promise<T>): Promise<T> {
    if (this.#session !== null) return op(this.#session)
    if (this.#state === 'ended' || (this.#state === 'idle' && this.#closing))
      return Promise.reject(new LiveError('session_ended', 'no live session: call connect()'))
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({ run: (s) => void op(s).then(resolve, reject), fail: reject })
    })
  }

  #setState(state: LiveState): void {
    if (this.#state === state) return
    this.#state = state
    this.#events.emit('state', { state })
  }
}
