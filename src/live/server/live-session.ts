/**
 * @module One live session held by this process: its engine `Peer`, its current connection (if
 * any), the application handle, and the dispatch of engine events to the application's handlers.
 */

import type { EndReason } from '../../core/session.ts'
import { isNone, none } from '../engine/empty.ts'
import type { PeerContract, PeerEvent, Violation } from '../engine/types.ts'
import type { LiveCommit } from '../live-store.ts'
import type { DialogMode, JsonValue, ResyncKind, Side } from '../protocol/index.ts'
import { fitsUtf8 } from '../protocol/payload.ts'
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
  // What follows is created at first use: an idle session holds none of it.
  /** The application's handle, made at its first use (one per session). */
  #handle: Handle | null = null
  /** Inbound call ids running here (a re-sent call is then not run again). */
  #runningCalls: Set<string> | null = null
  #calls: Map<string, Deferred<JsonValue | undefined>> | null = null
  #checkpoints: Map<string, Deferred<void>> | null = null
  #resyncs: Map<number, Deferred<void>> | null = null
  /** Run once the next flush of this session is committed (promises that promise durability). */
  #afterCommit: (() => void)[] = none()
  #waiters: (() => void)[] | null = null
  /** Engine events not dispatched yet (null: none queued, no dispatch pending). */
  #events: PeerEvent[] | null = null
  readonly #host: SessionHost

  constructor(init: LiveSessionInit, host: SessionHost) {
    this.id = init.id
    this.sessionId = init.sessionId
    this.principal = init.principal
    this.gen = init.gen
    this.expiresAt = init.expiresAt
    this.credentialExp = init.credentialExp
    this.#host = host
  }

  /** The application's handle on this session (always the same object). */
  get handle(): LiveSessionHandle {
    this.#handle ??= new Handle(this, this.#host)
    return this.#handle
  }

  /** The engine's `onEvent`: queue, dispatch after the engine call returned. */
  readonly onEvent = (event: PeerEvent): void => {
    const events = this.#events
    if (events !== null) {
      events.push(event)
      return
    }
    this.#events = [event]
    queueMicrotask(() => this.#dispatch())
  }

  /** Marks an inbound call id as running here; false when it already runs. */
  startCall(id: string): boolean {
    if (this.#runningCalls?.has(id) === true) return false
    this.#runningCalls ??= new Set()
    this.#runningCalls.add(id)
    return true
  }

  /** The inbound call `id` no longer runs here. */
  endCall(id: string): void {
    this.#runningCalls?.delete(id)
  }

  /** Takes the callbacks waiting for the next commit (the flusher runs them once it is durable). */
  takeAfterCommit(): (() => void)[] {
    const after = this.#afterCommit
    if (after.length > 0) this.#afterCommit = none()
    return after
  }

  /** A commit failed: its callbacks wait for a later one again, ahead of those added since. */
  putBackAfterCommit(after: readonly (() => void)[]): void {
    if (after.length === 0) return
    this.#afterCommit = [...after, ...this.#afterCommit]
  }

  /** Resolves every `send` waiting for credit, the turn or a resync to finish (they retry). */
  wake(): void {
    const waiters = this.#waiters
    if (waiters === null) return
    this.#waiters = null
    for (const w of waiters) w()
  }

  waitForChange(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#waiters === null) this.#waiters = [resolve]
      else this.#waiters.push(resolve)
    })
  }

  track(map: 'call', id: string): Promise<JsonValue | undefined>
  track(map: 'checkpoint', id: string): Promise<void>
  track(map: 'resync', id: number): Promise<void>
  track(map: 'call' | 'checkpoint' | 'resync', id: string | number): Promise<unknown> {
    const d = deferred<never>()
    if (map === 'call') {
      this.#calls ??= new Map()
      this.#calls.set(id as string, d)
    } else if (map === 'checkpoint') {
      this.#checkpoints ??= new Map()
      this.#checkpoints.set(id as string, d)
    } else {
      this.#resyncs ??= new Map()
      this.#resyncs.set(id as number, d)
    }
    return d.promise
  }

  /** The session ended: every pending promise rejects, every waiting send retries and fails. */
  failPending(): void {
    const err = new LiveSendError('ended', 'the live session has ended')
    for (const map of [this.#calls, this.#checkpoints, this.#resyncs] as (Map<
      unknown,
      Deferred<never>
    > | null)[]) {
      if (map === null) continue
      for (const d of map.values()) d.reject(err)
      map.clear()
    }
    this.wake()
  }

  #whenCommitted(fn: () => void): void {
    if (isNone(this.#afterCommit)) this.#afterCommit = []
    this.#afterCommit.push(fn)
    this.#host.markDirty(this)
  }

  #dispatch(): void {
    const events = this.#events
    this.#events = null
    if (events !== null) for (const event of events) this.#one(event)
  }

  #one(event: PeerEvent): void {
    const h = this.#host.handlers
    const log = this.#host.logger
    const handle = this.handle
    switch (event.type) {
      case 'message':
        if (h.onMessage) runOnMessage(h, log, this.id, handle, event.data, event.seq)
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
        const d = this.#calls?.get(event.id)
        this.#calls?.delete(event.id)
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
        if (this.#checkpoints?.has(id) !== true) return
        this.#whenCommitted(() => {
          this.#checkpoints?.get(id)?.resolve()
          this.#checkpoints?.delete(id)
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
          this.#resyncs?.get(n)?.resolve()
          this.#resyncs?.delete(n)
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

/**
 * `runHandler` for `onMessage`, the per-message path: the same calls and logging, without a
 * closure and two promises per message when the handler returns no promise.
 */
function runOnMessage(
  h: LiveHandlers,
  log: LiveLogger | undefined,
  liveId: string,
  handle: LiveSessionHandle,
  data: JsonValue,
  seq: number,
): void {
  let result: unknown
  try {
    result = h.onMessage?.(handle, data, seq)
  } catch (err) {
    log?.error?.({ liveId, handler: 'onMessage', err }, 'live handler failed')
    return
  }
  if (typeof result !== 'object' && typeof result !== 'function') return
  if (result === null || typeof (result as { then?: unknown }).then !== 'function') return
  Promise.resolve(result).then(undefined, (err: unknown) => {
    log?.error?.({ liveId, handler: 'onMessage', err }, 'live handler failed')
  })
}

/** The payload as JSON text (throws `not_json` when it has none). */
function payloadJson(data: unknown): string {
  const json = JSON.stringify(data)
  if (typeof json !== 'string') throw new LiveSendError('not_json', 'the payload is not JSON')
  return json
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

  /** Checks a payload; returns its JSON text (undefined for no payload). */
  #check(data: unknown): string | undefined {
    if (this.#live.state === 'ended') throw new LiveSendError('ended', 'the live session has ended')
    if (data === undefined) return undefined
    const json = payloadJson(data)
    if (!fitsUtf8(json, this.#host.maxPayloadBytes))
      throw new LiveSendError('too_large', 'the payload is over maxPayloadBytes')
    return json
  }

  async send(data: JsonValue): Promise<number> {
    // The text checked now is what the engine buffers; after a wait it serialises `data` afresh.
    let json = this.#check(data)
    const live = this.#live
    for (;;) {
      if (live.state === 'ended') throw new LiveSendError('ended', 'the live session has ended')
      const r = live.peer.send(data, json)
      json = undefined
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
