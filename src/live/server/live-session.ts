/**
 * @module One live session held by this process: its engine `Peer`, its current connection (if
 * any), the application handle, and the dispatch of engine events to the application's handlers.
 */

import type { EndReason } from '../../core/session.ts'
import type { PeerContract, PeerEvent, Violation } from '../engine/types.ts'
import type { LiveCommit } from '../live-store.ts'
import type { DialogMode, JsonValue, ResyncKind, Side } from '../protocol/index.ts'
import type { Connection } from './connection.ts'
import { LiveRpcError, LiveSendError } from './errors.ts'
import type { WheelTimer } from './timer-wheel.ts'
import type { LiveHandlers, LiveLogger, LiveSessionHandle, LiveSessionState } from './types.ts'

/** What a live session needs from its gateway. */
export interface SessionHost {
  readonly handlers: LiveHandlers
  readonly logger: LiveLogger | undefined
  readonly maxPayloadBytes: number
  markDirty(live: LiveSession): void
  handleCall(live: LiveSession, id: string, method: string, params: JsonValue | undefined): void
  endLive(live: LiveSession, reason: EndReason): Promise<void>
  violate(live: LiveSession, violation: Violation): void
}

interface Deferred<T> {
  resolve(value: T): void
  reject(err: unknown): void
}

function deferred<T>(): Deferred<T> & { promise: Promise<T> } {
  let resolve!: (value: T) => void
  let reject!: (err: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Runs an application handler; a throw or a rejection is logged, never propagated. */
export function runHandler(
  logger: LiveLogger | undefined,
  name: string,
  liveId: string,
  fn: () => unknown,
): Promise<boolean> {
  try {
    return Promise.resolve(fn()).then(
      () => true,
      (err: unknown) => {
        logger?.error?.({ liveId, handler: name, err }, 'live handler failed')
        return false
      },
    )
  } catch (err) {
    logger?.error?.({ liveId, handler: name, err }, 'live handler failed')
    return Promise.resolve(false)
  }
}

export interface LiveSessionInit {
  id: string
  sessionId: string
  principal: string
  gen: number
  expiresAt: number
  credentialExp: number | null
}

/**
 * A live session of this process. Engine events are queued and dispatched in a microtask, after
 * the engine call that raised them returned (handlers may then call back into the engine).
 */
export class LiveSession {
  readonly id: string
  readonly sessionId: string
  readonly principal: string
  readonly handle: LiveSessionHandle
  /** Fencing generation of the store record this process holds. */
  gen: number
  peer!: PeerContract
  conn: Connection | null = null
  state: LiveSessionState = 'open'
  /** The store's expiresAt (lease while open, end of the resume window while suspended). */
  expiresAt: number
  /** When the credential expires (epoch ms), or null. */
  credentialExp: number | null
  /** A state change to commit with the next flush. */
  pendingState: 'suspended' | null = null
  /** Resumed, and no frame from the client yet: its previous resume token still works. */
  tokenUnconfirmed = false
  /** The next commit clears the previous resume token (`LiveCommit.confirmToken`). */
  confirmToken = false
  /** A commit the store failed to take: merged into the next one, so the store has no hole. */
  unsaved: LiveCommit | null = null
  /** A resume is in progress: the flusher leaves this session alone. */
  resuming = false
  /** The resume-window timer while suspended. */
  expiryTimer: WheelTimer | null = null
  /** Inbound call ids running here (a re-sent call is then not run again). */
  readonly runningCalls = new Set<string>()
  readonly #calls = new Map<string, Deferred<JsonValue | undefined>>()
  readonly #checkpoints = new Map<string, Deferred<void>>()
  readonly #resyncs = new Map<number, Deferred<void>>()
  /** Run once the next flush of this session is committed (promises that promise durability). */
  afterCommit: (() => void)[] = []
  #waiters: (() => void)[] = []
  #events: PeerEvent[] = []
  readonly #host: SessionHost

  constructor(init: LiveSessionInit, host: SessionHost) {
    this.id = init.id
    this.sessionId = init.sessionId
    this.principal = init.principal
    this.gen = init.gen
    this.expiresAt = init.expiresAt
    this.credentialExp = init.credentialExp
    this.#host = host
    this.handle = new Handle(this, host)
  }

  /** The engine's `onEvent`: queue, dispatch after the engine call returned. */
  readonly onEvent = (event: PeerEvent): void => {
    this.#events.push(event)
    if (this.#events.length === 1) queueMicrotask(() => this.#dispatch())
  }

  /** Resolves every `send` waiting for credit, the turn or a resync to finish (they retry). */
  wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }

  waitForChange(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  track(map: 'call', id: string): Promise<JsonValue | undefined>
  track(map: 'checkpoint', id: string): Promise<void>
  track(map: 'resync', id: number): Promise<void>
  track(map: 'call' | 'checkpoint' | 'resync', id: string | number): Promise<unknown> {
    const d = deferred<never>()
    if (map === 'call') this.#calls.set(id as string, d)
    else if (map === 'checkpoint') this.#checkpoints.set(id as string, d)
    else this.#resyncs.set(id as number, d)
    return d.promise
  }

  /** The session ended: every pending promise rejects, every waiting send retries and fails. */
  failPending(): void {
    const err = new LiveSendError('ended', 'the live session has ended')
    for (const map of [this.#calls, this.#checkpoints, this.#resyncs] as Map<
      unknown,
      Deferred<never>
    >[]) {
      for (const d of map.values()) d.reject(err)
      map.clear()
    }
    this.wake()
  }

  #whenCommitted(fn: () => void): void {
    this.afterCommit.push(fn)
    this.#host.markDirty(this)
  }

  #dispatch(): void {
    const events = this.#events
    this.#events = []
    for (const event of events) this.#one(event)
  }

  #one(event: PeerEvent): void {
    const h = this.#host.handlers
    const log = this.#host.logger
    const handle = this.handle
    switch (event.type) {
      case 'message':
        if (h.onMessage)
          void runHandler(log, 'onMessage', this.id, () =>
            h.onMessage?.(handle, event.data, event.seq),
          )
        return
      case 'gap':
        if (h.onGap) void runHandler(log, 'onGap', this.id, () => h.onGap?.(handle, event))
        return
      case 'purged':
      case 'acked':
        return
      case 'call':
        this.#host.handleCall(this, event.id, event.method, event.params)
        return
      case 'result': {
        const d = this.#calls.get(event.id)
        this.#calls.delete(event.id)
        const o = event.outcome
        if (o.ok) d?.resolve(o.data)
        else d?.reject(new LiveRpcError(o.code, o.message ?? '', o.data))
        return
      }
      case 'checkpoint':
        void runHandler(log, 'onCheckpoint', this.id, () =>
          h.onCheckpoint?.(handle, event.id, event.state),
        ).then((ok) => {
          if (!ok || this.state === 'ended') return
          this.peer.confirmCheckpoint(event.id)
          this.#host.markDirty(this)
        })
        return
      case 'checkpoint_confirmed': {
        // Resolved once it is in the store: a confirmed checkpoint is durable (protocol 9).
        const id = event.checkpoint.id
        if (!this.#checkpoints.has(id)) return
        this.#whenCommitted(() => {
          this.#checkpoints.get(id)?.resolve()
          this.#checkpoints.delete(id)
        })
        return
      }
      case 'resync': {
        const { n, kind, to, state, checkpoint } = event
        void runHandler(log, 'onResync', this.id, () =>
          h.onResync?.(handle, { kind, to, state, checkpoint }),
        ).then((ok) => {
          if (!ok || this.state === 'ended') return
          this.peer.resyncDone(n)
          this.#host.markDirty(this)
        })
        return
      }
      case 'resynced': {
        const n = event.n
        this.#whenCommitted(() => {
          this.#resyncs.get(n)?.resolve()
          this.#resyncs.delete(n)
        })
        this.wake()
        return
      }
      case 'turn':
        if (h.onTurn)
          void runHandler(log, 'onTurn', this.id, () => h.onTurn?.(handle, event.holder))
        this.wake()
        return
      case 'turn_requested':
        if (h.onTurnRequest)
          void runHandler(log, 'onTurnRequest', this.id, () => h.onTurnRequest?.(handle))
        return
      case 'drain':
        this.wake()
        return
    }
  }
}

function payloadBytes(data: unknown): number {
  const json = JSON.stringify(data)
  if (typeof json !== 'string') throw new LiveSendError('not_json', 'the payload is not JSON')
  return Buffer.byteLength(json)
}

/** The application's handle on a live session. */
class Handle implements LiveSessionHandle {
  readonly #live: LiveSession
  readonly #host: SessionHost

  constructor(live: LiveSession, host: SessionHost) {
    this.#live = live
    this.#host = host
  }

  get id(): string {
    return this.#live.id
  }
  get sessionId(): string {
    return this.#live.sessionId
  }
  get principal(): string {
    return this.#live.principal
  }
  get state(): LiveSessionState {
    return this.#live.state
  }
  get mode(): DialogMode {
    return this.#live.peer.mode
  }
  get turn(): Side | null {
    return this.#live.peer.turn
  }

  #check(data: unknown): void {
    if (this.#live.state === 'ended') throw new LiveSendError('ended', 'the live session has ended')
    if (data !== undefined && payloadBytes(data) > this.#host.maxPayloadBytes)
      throw new LiveSendError('too_large', 'the payload is over maxPayloadBytes')
  }

  async send(data: JsonValue): Promise<number> {
    this.#check(data)
    const live = this.#live
    for (;;) {
      if (live.state === 'ended') throw new LiveSendError('ended', 'the live session has ended')
      const r = live.peer.send(data)
      if (r.ok) {
        this.#host.markDirty(live)
        return r.seq
      }
      if (r.reason === 'disconnect') {
        this.#host.violate(live, r.violation)
        throw new LiveSendError('slow_consumer', 'the client does not keep up')
      }
      if (r.reason === 'not_your_turn') throw new LiveSendError('not_your_turn')
      await live.waitForChange()
    }
  }

  call(method: string, params?: JsonValue): Promise<JsonValue | undefined> {
    this.#check(params)
    const r = this.#live.peer.call(method, params)
    if (!r.ok) return Promise.reject(new LiveRpcError(r.reason, r.reason.replaceAll('_', ' ')))
    const promise = this.#live.track('call', r.id)
    this.#host.markDirty(this.#live)
    return promise
  }

  checkpoint(id: string, state?: JsonValue): Promise<void> {
    this.#check(state)
    const r = this.#live.peer.checkpoint(id, state)
    if (!r.ok) return Promise.reject(new LiveSendError(r.reason))
    const promise = this.#live.track('checkpoint', id)
    this.#host.markDirty(this.#live)
    return promise
  }

  resync(kind: ResyncKind, to: string, state?: JsonValue): Promise<void> {
    this.#check(state)
    const r = this.#live.peer.resync(kind, to, state)
    if (!r.ok) return Promise.reject(new LiveSendError(r.reason))
    const promise = this.#live.track('resync', r.n)
    this.#host.markDirty(this.#live)
    return promise
  }

  requestTurn(): boolean {
    if (this.#live.state === 'ended') return false
    const ok = this.#live.peer.requestTurn()
    if (ok) this.#host.markDirty(this.#live)
    return ok
  }

  giveTurn(): boolean {
    if (this.#live.state === 'ended') return false
    const ok = this.#live.peer.giveTurn()
    if (ok) this.#host.markDirty(this.#live)
    return ok
  }

  end(reason: EndReason): Promise<void> {
    return this.#host.endLive(this.#live, reason)
  }
}
