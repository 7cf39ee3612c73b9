/**
 * @module The transport side of the live client: one `LiveConnection` at a time, the hello and
 * welcome exchange, pings, the liveness watchdog, credential refresh and the reconnect backoff.
 * What the frames mean to the session is the client's business (`LinkHandlers`).
 */
import type { Violation } from '../live/engine/types.ts'
import { CLOSE_CODES } from '../live/protocol/close-codes.ts'
import type { Frame, HelloFrame, WelcomeFrame } from '../live/protocol/frames.ts'
import { Backoff } from './live-backoff.ts'
import { type ConnectionClose, LiveConnection } from './live-connection.ts'
import { heartbeatTimeout, Watchdog } from './live-heartbeat.ts'
import type { ResolvedOptions } from './live-options.ts'
import { CredentialRefresh } from './live-refresh.ts'
import type { Cancel } from './live-scheduler.ts'

export interface LinkHandlers {
  /** The hello to send on a new connection, or null to send none (the client gave up). */
  hello(): Promise<HelloFrame | null>
  /** A welcome: a violation refuses it (the link fails the connection with its code). */
  welcome(welcome: WelcomeFrame): Violation | null
  /** Every frame after the welcome except ping, refreshed and err. */
  frame(frame: Frame): void
  /** The connection is gone (reported once per connection; not after `drop()`). */
  closed(close: ConnectionClose): void
}

const OUT_OF_STATE = CLOSE_CODES.frame_out_of_state.code
const HEARTBEAT_TIMEOUT = CLOSE_CODES.heartbeat_timeout.code

/**
 * @example
 * const link = new LiveLink(options, { hello, welcome, frame, closed })
 * link.open() // and, after a resumable close: link.retry(close.err?.retryMs)
 */
export class LiveLink {
  readonly #o: ResolvedOptions
  readonly #h: LinkHandlers
  readonly #backoff: Backoff
  readonly #watchdog: Watchdog
  readonly #refresh: CredentialRefresh
  #conn: LiveConnection | null = null
  #welcomed = false
  #redial: Cancel | null = null

  constructor(options: ResolvedOptions, handlers: LinkHandlers) {
    this.#o = options
    this.#h = handlers
    this.#backoff = new Backoff(options.random)
    this.#watchdog = new Watchdog({
      ...options,
      onDead: () => this.#conn?.close(HEARTBEAT_TIMEOUT),
    })
    this.#refresh = new CredentialRefresh({
      ...options,
      leewayMs: options.refreshLeewayMs,
      send: (cred) => this.send({ t: 'refresh', cred }),
    })
  }

  /** Whether a connection is open and welcomed. */
  get ready(): boolean {
    return this.#welcomed && this.#conn?.open === true
  }

  /** Opens a connection now (a planned retry is cancelled). */
  open(): void {
    this.#cancelRedial()
    this.drop()
    const conn: LiveConnection = new LiveConnection(this.#o.WebSocket, this.#o.url, {
      onOpen: () => void this.#hello(conn),
      onFrame: (frame) => this.#frame(conn, frame),
      onClose: (close) => this.#closed(conn, close),
    })
    this.#conn = conn
    this.#watchdog.arm(this.#o.connectTimeoutMs)
  }

  /** Opens a connection after the backoff delay (or `retryMs`, when the server named one). */
  retry(retryMs?: number | null): void {
    this.#cancelRedial()
    this.#redial = this.#o.scheduler.schedule(() => this.open(), this.#backoff.next(retryMs))
  }

  /** Writes a frame on the welcomed connection; false when there is none. */
  send(frame: Frame): boolean {
    return this.ready && this.#conn?.send(frame) === true
  }

  /** Sends `err` and closes with `code` (reported through `closed`). */
  fail(code: number, message: string): void {
    this.#conn?.fail(code, message)
  }

  /** Closes the connection with `code`, reported through `closed` like a failure. */
  close(code: number): void {
    this.#conn?.close(code)
  }

  /** Closes the connection without reporting it, and stops any planned retry. */
  drop(): void {
    this.#cancelRedial()
    const conn = this.#conn
    this.#lost()
    conn?.close(1000)
  }

  async #hello(conn: LiveConnection): Promise<void> {
    const hello = await this.#h.hello()
    if (hello !== null && conn === this.#conn) conn.send(hello)
  }

  #frame(conn: LiveConnection, frame: Frame): void {
    if (conn !== this.#conn) return
    this.#watchdog.seen()
    if (frame.t === 'welcome') {
      if (this.#welcomed) {
        conn.fail(OUT_OF_STATE, 'a second welcome')
        return
      }
      this.#welcomed = true
      const refused = this.#h.welcome(frame)
      if (refused !== null) {
        conn.fail(refused.code, refused.message)
        return
      }
      this.#backoff.reset()
      this.#watchdog.arm(heartbeatTimeout(frame.heartbeatMs))
      this.#refresh.plan(frame.exp)
      return
    }
    if (!this.#welcomed) {
      conn.fail(OUT_OF_STATE, `${frame.t} before welcome`)
      return
    }
    if (frame.t === 'ping') conn.send({ t: 'pong', n: frame.n })
    else if (frame.t === 'refreshed') this.#refresh.plan(frame.exp)
    else if (frame.t === 'hello' || frame.t === 'pong' || frame.t === 'refresh')
      conn.fail(OUT_OF_STATE, `${frame.t} from the server`)
    else this.#h.frame(frame)
  }

  #closed(conn: LiveConnection, close: ConnectionClose): void {
    if (conn !== this.#conn) return
    this.#lost()
    this.#h.closed(close)
  }

  #lost(): void {
    this.#conn = null
    this.#welcomed = false
    this.#watchdog.stop()
    this.#refresh.stop()
  }

  #cancelRedial(): void {
    this.#redial?.()
    this.#redial = null
  }
}
