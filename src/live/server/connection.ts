/** @module One WebSocket connection of the gateway: its phase, timers, rate bucket and writes. */

import type { WebSocket } from 'ws'
import { type CloseCode, closeCodeName, encodeFrame, type Frame } from '../protocol/index.ts'
import type { LiveSession } from './live-session.ts'
import type { TokenBucket } from './rate-limiter.ts'
import type { WheelTimer } from './timer-wheel.ts'

/**
 * `handshaking`: upgraded, waiting for `hello`; `hello`: authenticating it (any other frame now
 * is 4202, SEC-47); `open`: welcomed; `closing`: the client said `bye` (its later frames are ignored); `closed`: closed by either side (later frames are ignored).
 */
export type ConnectionPhase = 'handshaking' | 'hello' | 'open' | 'closing' | 'closed'

const OPEN = 1

/**
 * A connection. It is bookkeeping and writes only: the gateway decides; `close()` reports the
 * end to the gateway at once (`onGone`), without waiting for the WebSocket closing handshake.
 */
export class Connection {
  readonly ws: WebSocket
  readonly address: string
  /** The session cookie of the upgrade when its Origin was allowed (SEC-26), else null. */
  readonly cookieToken: string | null
  readonly bucket: TokenBucket
  readonly #maxBuffered: number
  phase: ConnectionPhase = 'handshaking'
  live: LiveSession | null = null
  /** The principal counted against maxConnectionsPerPrincipal, once welcomed. */
  principal: string | null = null
  /** The handshake timer, then the heartbeat timer. */
  timer: WheelTimer | null = null
  /** The credential-expiry timer. */
  expTimer: WheelTimer | null = null
  /** Number of the last ping sent (0: none yet). */
  pingN = 0
  /** When the last ping was sent. */
  pingAt = 0
  /** When the last frame arrived. */
  lastSeen: number
  /** A refresh is being checked (a second one is 4202). */
  refreshing = false
  /** The close code, once closed. */
  code: number | null = null
  readonly #onGone: (conn: Connection, code: number) => void

  constructor(
    ws: WebSocket,
    init: {
      address: string
      cookieToken: string | null
      bucket: TokenBucket
      now: number
      maxBufferedBytes: number
    },
    onGone: (conn: Connection, code: number) => void,
  ) {
    this.ws = ws
    this.address = init.address
    this.cookieToken = init.cookieToken
    this.bucket = init.bucket
    this.lastSeen = init.now
    this.#maxBuffered = init.maxBufferedBytes
    this.#onGone = onGone
  }

  get open(): boolean {
    return this.phase !== 'closed' && this.ws.readyState === OPEN
  }

  /** Writes one frame; false when the socket can no longer take it (or is too far behind: 4003). */
  send(frame: Frame): boolean {
    if (!this.open) return false
    this.ws.send(encodeFrame(frame))
    if (this.ws.bufferedAmount > this.#maxBuffered && frame.t !== 'err' && frame.t !== 'bye') {
      this.fail(4003, 'the client does not read fast enough')
      return false
    }
    return true
  }

  /** Writes several frames in order. */
  sendAll(frames: readonly Frame[]): void {
    for (const frame of frames) if (!this.send(frame)) return
  }

  /** Sends `err` with the code and a safe message, then closes with the same code. */
  fail(code: CloseCode, message: string, retryMs?: number): void {
    if (this.phase === 'closed') return
    this.send(
      retryMs === undefined ? { t: 'err', code, message } : { t: 'err', code, message, retryMs },
    )
    this.close(code)
  }

  /** Closes with `code` (reason: the code's name) and reports the end to the gateway. */
  close(code: CloseCode): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.code = code
    try {
      this.ws.close(code, closeCodeName(code))
    } catch {
      this.ws.terminate()
    }
    this.#onGone(this, code)
  }

  /** The transport went away (the `close` or `error` event of the socket). */
  lost(code: number): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.code = code
    this.#onGone(this, code)
  }

  /** Cancels every timer of the connection. */
  clearTimers(): void {
    this.timer?.cancel()
    this.timer = null
    this.expTimer?.cancel()
    this.expTimer = null
  }
}
