/**
 * @module The gateway's state and lifecycle rules: opening, suspending and ending live sessions,
 * heartbeats on the timer wheel, credential expiry, and Parley-session end propagation (SEC-51).
 */

import { randomInt } from 'node:crypto'
import { type Clock, systemClock } from '../../core/clock.ts'
import { isParleyError } from '../../core/errors.ts'
import type { EndReason } from '../../core/session.ts'
import type { Sessions } from '../../core/sessions.ts'
import { Peer } from '../engine/peer.ts'
import type { PeerContract, PeerLimits, PeerOptions, Violation } from '../engine/types.ts'
import type { LiveStore } from '../live-store.ts'
import { DEFAULT_LIMITS, type LiveLimits, type Side, type WelcomeFrame } from '../protocol/index.ts'
import type { Connection } from './connection.ts'
import { Flusher } from './flusher.ts'
import { type LiveSession, runHandler, type SessionHost } from './live-session.ts'
import { Registry } from './registry.ts'
import { handleCall } from './rpc.ts'
import { TimerWheel } from './timer-wheel.ts'
import type { LiveGatewayOptions, LiveHandlers, LiveLogger } from './types.ts'

/** Whether a Parley session may still carry live sessions, and if not, why it ended. */
type SessionStatus = { active: true } | { active: false; reason: EndReason }

/** Least time between two re-checks of every Parley session (after a change-feed flush). */
const RECHECK_ALL_MS = 1000

export class GatewayCore implements SessionHost {
  readonly options: LiveGatewayOptions
  readonly sessions: Sessions
  readonly store: LiveStore
  readonly clock: Clock
  readonly limits: LiveLimits
  readonly peerLimits: PeerLimits
  readonly handlers: LiveHandlers
  readonly logger: LiveLogger | undefined
  readonly turn: Side
  readonly registry = new Registry<LiveSession>()
  readonly connections = new Set<Connection>()
  readonly wheel: TimerWheel
  readonly flusher: Flusher
  closing = false
  /** Whether the store's change feed is up (it reports session ends at once). */
  feedUp = false
  /** When each Parley session with live sessions here was last re-checked at a heartbeat. */
  readonly #checkedAt = new Map<string, number>()
  #recheckAllAt = Number.NEGATIVE_INFINITY
  #recheckQueued = false

  constructor(options: LiveGatewayOptions) {
    this.options = options
    this.sessions = options.sessions
    this.store = options.store
    this.clock = options.clock ?? systemClock
    this.limits = { ...DEFAULT_LIMITS, ...options.limits }
    const l = this.limits
    this.peerLimits = {
      replayMaxCount: l.replayMaxCount,
      replayMaxBytes: l.replayMaxBytes,
      replayMaxAgeMs: l.replayMaxAgeMs,
      maxPendingCalls: l.maxPendingCalls,
      maxCredit: l.maxCredit,
      maxQueued: options.maxQueued ?? 1024,
      callOutcomeTtlMs: l.resumeWindowMs,
    }
    this.handlers = options
    this.logger = options.logger
    this.turn = options.turn ?? 'server'
    this.wheel = new TimerWheel({
      clock: this.clock,
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
      ...(options.tickMs ? { tickMs: options.tickMs } : {}),
      onError: (err) => this.logger?.error?.({ err }, 'live timer failed'),
    })
    this.flusher = new Flusher({
      store: this.store,
      clock: this.clock,
      resumeWindowMs: l.resumeWindowMs,
      leaseMs: openLeaseMs(l),
      superseded: (live, conn) => void this.#superseded(live, conn),
      storeFailed: (live, conn, err) => this.#storeFailed(live, conn, err),
      suspended: (live) => this.#suspended(live),
    })
  }

  get maxPayloadBytes(): number {
    return this.limits.maxPayloadBytes
  }

  createPeer(options: Pick<PeerOptions, 'mode' | 'turn' | 'state' | 'onEvent'>): PeerContract {
    return new Peer({
      side: 'server',
      clock: this.clock,
      limits: this.peerLimits,
      policy: this.options.policy ?? 'wait',
      ...options,
    })
  }

  markDirty(live: LiveSession): void {
    this.flusher.mark(live)
  }

  handleCall(live: LiveSession, id: string, method: string, params: unknown): void {
    void handleCall(this, live, id, method, params as never)
  }

  violate(live: LiveSession, violation: Violation): void {
    live.conn?.fail(violation.code, violation.message)
  }

  /** Refuses a connection over the per-principal bound (4004); true when it may go on. */
  admitPrincipal(conn: Connection, principal: string): boolean {
    if (conn.principal !== null) return conn.principal === principal
    const max = this.options.maxConnectionsPerPrincipal ?? 32
    if (this.registry.principals.get(principal) >= max) {
      conn.fail(4004, 'too many connections for this principal')
      return false
    }
    // The slot is taken now, before any await: concurrent hellos cannot all pass the check.
    this.registry.handshakes--
    conn.principal = principal
    this.registry.principals.add(principal)
    return true
  }

  /** The handshake succeeded: welcome, then heartbeats and the credential-expiry timer. */
  open(conn: Connection, live: LiveSession, welcome: WelcomeFrame): void {
    const now = this.clock.now()
    conn.timer?.cancel()
    conn.phase = 'open'
    conn.live = live
    if (conn.principal === null) {
      this.registry.handshakes--
      conn.principal = live.principal
      this.registry.principals.add(live.principal)
    }
    live.conn = conn
    live.state = 'open'
    conn.send(welcome)
    const hb = this.limits.heartbeatMs
    // Each connection at its own offset within the interval: no tick handles them all.
    conn.timer = this.wheel.schedule(now + randomInt(Math.max(1, hb)), () => this.#beat(conn))
    this.#armExpiry(conn, live)
    this.markDirty(live)
  }

  /** (Re)arms the credential-expiry timer of a connection: 4102 unless refreshed in time. */
  #armExpiry(conn: Connection, live: LiveSession): void {
    conn.expTimer?.cancel()
    conn.expTimer = null
    const exp = live.credentialExp
    if (exp === null) return
    conn.expTimer = this.wheel.schedule(exp, () => {
      if (live.credentialExp !== null && live.credentialExp <= this.clock.now())
        conn.fail(4102, 'the credential expired without a refresh')
    })
  }

  rearmExpiry(conn: Connection): void {
    if (conn.live !== null) this.#armExpiry(conn, conn.live)
  }

  /** One heartbeat of a connection: liveness check, ping, Parley-session re-check and touch. */
  #beat(conn: Connection): void {
    const live = conn.live
    if (conn.phase !== 'open' || live === null) return
    if (conn.pingN > 0 && conn.lastSeen < conn.pingAt) {
      conn.fail(4001, 'no answer to ping')
      return
    }
    const now = this.clock.now()
    conn.pingN++
    // A frame that arrives later in this same ms counts as the answer.
    conn.pingAt = now
    conn.send({ t: 'ping', n: conn.pingN })
    conn.timer = this.wheel.schedule(now + this.limits.heartbeatMs, () => this.#beat(conn))
    // An idle open session renews its store lease here (the flusher writes it only past half of
    // the window), or the sweeper would end it as if its process had died.
    if (live.expiresAt - now < openLeaseMs(this.limits) / 2) this.markDirty(live)
    // The Parley session is re-checked (and touched) at most once per heartbeat interval for all
    // its live connections; while the store's change feed is up, which reports ends at once, only
    // once per touch interval, as a safety net. A heartbeat is then a ping and nothing else.
    const every = this.feedUp
      ? Math.max(this.limits.heartbeatMs, this.sessions.policy.touchIntervalMs)
      : this.limits.heartbeatMs
    const last = this.#checkedAt.get(live.sessionId) ?? 0
    if (now - last >= every - this.wheel.tickMs) {
      this.#checkedAt.set(live.sessionId, now)
      void this.#checkAndTouch(live)
    }
  }

  async #checkAndTouch(live: LiveSession): Promise<void> {
    try {
      const session = await this.sessions.get(live.sessionId)
      if (session.state !== 'active')
        return this.endSession(live.sessionId, session.endReason ?? 'revoked')
      if (this.clock.now() - session.lastSeenAt >= this.sessions.policy.touchIntervalMs)
        await this.sessions.touch(live.sessionId)
    } catch (err) {
      const status = this.#statusOf(err)
      if (status !== null) await this.endSession(live.sessionId, status)
    }
  }

  #statusOf(err: unknown): EndReason | null {
    if (isParleyError(err, 'ERR_SESSION_ENDED'))
      return (err.details?.reason as EndReason | undefined) ?? 'revoked'
    if (isParleyError(err, 'ERR_SESSION_NOT_FOUND')) return 'revoked'
    this.logger?.warn?.({ err }, 'live: session check failed')
    return null
  }

  /** Whether a Parley session is active; throws only when the store is unavailable. */
  async sessionStatus(sessionId: string): Promise<SessionStatus> {
    try {
      const s = await this.sessions.get(sessionId)
      return s.state === 'active'
        ? { active: true }
        : { active: false, reason: s.endReason ?? 'revoked' }
    } catch (err) {
      const reason = this.#statusOf(err)
      if (reason === null) throw err
      return { active: false, reason }
    }
  }

  /** Ends every live session of a Parley session held here (bye + 4100, SEC-51). */
  async endSession(sessionId: string, reason: EndReason): Promise<void> {
    await Promise.all(this.registry.bySession(sessionId).map((live) => this.endLive(live, reason)))
  }

  /** Re-checks one Parley session (a change-feed invalidation). */
  async recheck(sessionId: string): Promise<void> {
    if (this.registry.bySession(sessionId).length === 0) return
    try {
      const status = await this.sessionStatus(sessionId)
      if (!status.active) await this.endSession(sessionId, status.reason)
    } catch (err) {
      this.logger?.warn?.({ err }, 'live: session re-check failed')
    }
  }

  /** Re-checks every Parley session with live sessions here, at most once a second. */
  recheckAll(): void {
    if (this.#recheckQueued) return
    const at = Math.max(this.clock.now(), this.#recheckAllAt + RECHECK_ALL_MS)
    this.#recheckQueued = true
    this.wheel.schedule(at, () => {
      this.#recheckQueued = false
      this.#recheckAllAt = this.clock.now()
      void (async () => {
        for (const id of this.registry.sessionIds()) await this.recheck(id)
      })()
    })
  }

  /** A connection is gone: counts, timers, and the suspension of its live session. */
  gone(conn: Connection, code: number): void {
    conn.clearTimers()
    this.connections.delete(conn)
    this.registry.addresses.remove(conn.address)
    if (conn.principal === null) this.registry.handshakes--
    else this.registry.principals.remove(conn.principal)
    const live = conn.live
    if (live === null || live.conn !== conn) return
    live.conn = null
    if (live.state === 'open' && code !== 4104) this.suspend(live)
  }

  /** The transport is lost: detach, and commit `suspended` before anything else happens. */
  suspend(live: LiveSession): void {
    if (live.state === 'ended') return
    live.state = 'suspended'
    live.conn = null
    if (live.peer.attached) live.peer.detach()
    live.pendingState = 'suspended'
    this.markDirty(live)
  }

  #suspended(live: LiveSession): void {
    if (live.state !== 'suspended') return
    live.expiryTimer?.cancel()
    live.expiryTimer = this.wheel.schedule(live.expiresAt, () => {
      if (live.state === 'suspended') void this.endLive(live, 'resume_window_expired')
    })
    const h = this.handlers
    if (h.onSuspend)
      void runHandler(this.logger, 'onSuspend', live.id, () => h.onSuspend?.(live.handle))
  }

  /** Ends a live session: bye + 4100 on its connection, the reason recorded, onEnd. */
  async endLive(live: LiveSession, reason: EndReason, storeEnded = false): Promise<void> {
    if (live.state === 'ended') return
    live.state = 'ended'
    live.expiryTimer?.cancel()
    live.expiryTimer = null
    this.registry.delete(live)
    if (this.registry.bySession(live.sessionId).length === 0) this.#checkedAt.delete(live.sessionId)
    const conn = live.conn
    live.conn = null
    if (conn !== null) {
      conn.send({ t: 'bye', reason })
      conn.close(4100)
    }
    live.failPending()
    if (!storeEnded) {
      try {
        await this.store.end(live.id, reason, {
          at: this.clock.now(),
          actor: reason === 'logout' ? live.principal : 'system',
        })
      } catch (err) {
        this.logger?.error?.({ liveId: live.id, err }, 'live: store end failed')
      }
    }
    this.logger?.info?.({ liveId: live.id, reason }, 'live session ended')
    const h = this.handlers
    if (h.onEnd)
      void runHandler(this.logger, 'onEnd', live.id, () => h.onEnd?.(live.handle, reason))
  }

  /** The store refused a commit: the session ended, or another connection resumed it. */
  async #superseded(live: LiveSession, conn: Connection | null): Promise<void> {
    let record = null
    try {
      record = await this.store.get(live.id)
    } catch {}
    if (record?.state === 'ended') return this.endLive(live, record.endReason ?? 'revoked', true)
    if (live.state === 'ended') return
    // Resumed elsewhere: this process lets go without onEnd (the session lives on there).
    live.state = 'ended'
    live.expiryTimer?.cancel()
    this.registry.delete(live)
    if (this.registry.bySession(live.sessionId).length === 0) this.#checkedAt.delete(live.sessionId)
    live.conn = null
    conn?.fail(4104, 'the session was resumed by another connection')
    live.failPending()
  }

  #storeFailed(live: LiveSession, conn: Connection | null, err: unknown): void {
    this.logger?.error?.({ liveId: live.id, err }, 'live: store commit failed')
    if (conn !== null && live.conn === conn) conn.fail(4005, 'the session store is unavailable')
    if (live.state === 'suspended' && live.expiryTimer === null) {
      // Never committed: end it locally when its window passes all the same.
      live.expiresAt = this.clock.now() + this.limits.resumeWindowMs
      this.#suspended(live)
    }
  }
}

/**
 * The store lease of an open live session: if its process dies, the sweeper ends it this long
 * after the last renewal (two missed heartbeats, then the resume window).
 */
export function openLeaseMs(limits: Pick<LiveLimits, 'resumeWindowMs' | 'heartbeatMs'>): number {
  return limits.resumeWindowMs + 2 * limits.heartbeatMs
}
