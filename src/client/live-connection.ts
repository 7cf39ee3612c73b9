/**
 * @module One WebSocket of the live client: offers `parley.v1` and checks it was selected, decodes
 * and encodes frames, notes the server's `err` and `bye`, and reports the close once.
 */
import { CLOSE_CODES, closeCodeName } from '../live/protocol/close-codes.ts'
import { decodeFrame, encodeFrame } from '../live/protocol/codec.ts'
import type { ErrFrame, Frame } from '../live/protocol/frames.ts'
import { SUBPROTOCOL } from '../live/protocol/frames.ts'
import { DEFAULT_LIMITS, type DecodeLimits } from '../live/protocol/limits.ts'

/** What the client needs of a WebSocket (the browser's, Node's global one, or `ws`). */
export interface WebSocketLike {
  readonly protocol: string
  readonly readyState: number
  binaryType: string
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
}

/** A WebSocket constructor: `new WebSocket(url, protocols)`. */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike

/** The platform's WebSocket (browsers, Node 22+), or null. */
export function globalWebSocket(): WebSocketConstructor | null {
  const ctor = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  return typeof ctor === 'function' ? ctor : null
}

/** How a connection ended. */
export interface ConnectionClose {
  /** The close code (the server's, or the one this side closed with). */
  code: number
  /** The last `err` frame the server sent, if any (its `retryMs` steers the backoff). */
  err: ErrFrame | null
  /** Closed by this side (a protocol error of the server, a dead transport, ...). */
  local: boolean
}

export interface ConnectionHandlers {
  /** The upgrade succeeded with `parley.v1`: send `hello`. */
  onOpen(): void
  /** A decoded frame (`err` frames are kept for the close and not passed on). */
  onFrame(frame: Frame): void
  /** Called exactly once, after which no handler is called again. */
  onClose(close: ConnectionClose): void
}

const OPEN = 1
const UNSUPPORTED = CLOSE_CODES.unsupported_protocol.code

/**
 * @example
 * const connection = new LiveConnection(WebSocket, 'wss://example.com/live', {
 *   onOpen: () => connection.send({ t: 'hello', cred }), onFrame, onClose,
 * })
 */
export class LiveConnection {
  readonly #socket: WebSocketLike | null
  readonly #handlers: ConnectionHandlers
  readonly #limits: DecodeLimits
  #err: ErrFrame | null = null
  #closed = false

  constructor(
    ctor: WebSocketConstructor,
    url: string,
    handlers: ConnectionHandlers,
    limits: DecodeLimits = DEFAULT_LIMITS,
  ) {
    this.#handlers = handlers
    this.#limits = limits
    let socket: WebSocketLike | null = null
    try {
      socket = new ctor(url, [SUBPROTOCOL])
    } catch {
      // a bad URL or a blocked port: report it like a failed connection, asynchronously
      queueMicrotask(() => this.#report({ code: 1006, err: null, local: true }))
    }
    this.#socket = socket
    if (socket === null) return
    socket.binaryType = 'arraybuffer'
    socket.onopen = () => this.#opened()
    socket.onmessage = (event) => this.#message(event.data)
    socket.onclose = (event) => this.#report({ code: event.code, err: this.#err, local: false })
    socket.onerror = () => undefined // the close event follows
  }

  /** Whether frames can be written. */
  get open(): boolean {
    return !this.#closed && this.#socket?.readyState === OPEN
  }

  /** Writes one frame; false when the socket is not open (the frame is not sent). */
  send(frame: Frame): boolean {
    if (!this.open) return false
    this.#socket?.send(encodeFrame(frame))
    return true
  }

  /** Closes with `code` and reports the close at once (a dead peer may never answer it). */
  close(code: number): void {
    if (this.#closed) return
    try {
      this.#socket?.close(code, closeCodeName(code) ?? '')
    } catch {
      // already closing
    }
    this.#report({ code, err: null, local: true })
  }

  /** Sends `err` with `code`, then closes with it: the server broke the protocol. */
  fail(code: number, message: string): void {
    this.send({ t: 'err', code, message: message.slice(0, 1024) })
    this.close(code)
  }

  #opened(): void {
    if (this.#closed) return
    if (this.#socket?.protocol !== SUBPROTOCOL) {
      this.close(UNSUPPORTED)
      return
    }
    this.#handlers.onOpen()
  }

  #message(data: unknown): void {
    if (this.#closed) return
    const input = typeof data === 'string' ? data : bytesOf(data)
    if (input === null) {
      this.fail(CLOSE_CODES.malformed_frame.code, 'not a text frame')
      return
    }
    const decoded = decodeFrame(input, this.#limits)
    if (!decoded.ok) {
      this.fail(decoded.code, decoded.reason)
      return
    }
    if (decoded.frame.t === 'err') {
      this.#err = decoded.frame
      return
    }
    this.#handlers.onFrame(decoded.frame)
  }

  #report(close: ConnectionClose): void {
    if (this.#closed) return
    this.#closed = true
    const socket = this.#socket
    if (socket !== null) socket.onopen = socket.onmessage = socket.onclose = null
    this.#handlers.onClose(close)
  }
}

function bytesOf(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (data instanceof Uint8Array) return data
  return null
}
