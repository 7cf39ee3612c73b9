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

/** Corked frames are released (and the 4003 bound checked) at least every this many characters. */
const CORK_BYTES = 16 * 1024

/** Who is told when a connection ends (the gateway; one for every connection, no closure each). */
export interface ConnectionHost {
  gone(conn: Connection, code: number): void
}

interface Corkable {
  cork(): void
  uncork(): void
}

/**
 * A connection. It is bookkeeping and writes only: the gateway decides; `close()` reports the
 * end to the gateway at once (`host.gone`), without waiting for the WebSocket closing handshake.
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
  readonly #host: ConnectionHost

  constructor(
    ws: WebSocket,
    init: {
      address: string
      cookieToken: string | null
      bucket: TokenBucket
      now: number
      maxBufferedBytes: number
    },
    host: ConnectionHost,
  ) {
    this.ws = ws
    this.address = init.address
    this.cookieToken = init.cookieToken
    this.bucket = init.bucket
    this.lastSeen = init.now
    this.#maxBuffered = init.maxBufferedBytes
    this.#host = host
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

  /**
   * Writes several frames in order. While the socket has nothing pending, frames are written
   * corked, up to {@link CORK_BYTES} at a time: one write (one syscall) for many small frames. The
   * 4003 bound is checked once each corked run is released: what the kernel did not take, as after
   * each frame otherwise (with a write pending the frames would only queue behind it, so they are
   * written one by one, checked after each).
   */
  sendAll(frames: readonly Frame[]): void {
    const n = frames.length
    let i = 0
    while (i < n) {
      const socket = n - i > 1 && this.ws.bufferedAmount === 0 ? this.#corkable() : null
      if (socket === null) {
        if (!this.send(frames[i++]!)) return
        continue
      }
      if (!this.open) return
      let held = 0
      let bounded = false
      socket.cork()
      try {
        do {
          const frame = frames[i++]!
          const text = encodeFrame(frame)
          this.ws.send(text)
          held += text.length
          if (frame.t !== 'err' && frame.t !== 'bye') bounded = true
        } while (i < n && held < CORK_BYTES)
      } finally {
        socket.uncork() // also when encoding threw: the socket is never left corked
      }
      if (bounded && this.ws.bufferedAmount > this.#maxBuffered) {
        this.fail(4003, 'the client does not read fast enough')
        return
      }
    }
  }

  /** The `ws` socket's transport, when it can be corked. */
  #corkable(): Corkable | null {
    const socket = (this.ws as unknown as { _socket?: Partial<Corkable> | null })._socket
    return socket != null &&
      typeof socket.cork === 'function' &&
      typeof socket.uncork === 'function'
      ? (socket as Corkable)
      : null
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
    try {
      this.ws.close(code, closeCodeName(code))
    } catch {
      this.ws.terminate()
    }
    this.#host.gone(this, code)
  }

  /** The transport went away (the `close` or `error` event of the socket). */
  lost(code: number): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.#host.gone(this, code)
  }

  /** Cancels every timer of the connection. */
  clearTimers(): void {
    this.timer?.cancel()
    this.timer = null
    this.expTimer?.cancel()
    this.expTimer = null
  }
}
