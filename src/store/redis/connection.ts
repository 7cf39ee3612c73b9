/** @module Connection of the Redis store: the client it owns, its timeouts and reconnects, failures. */
import { createClient, ErrorReply, type RedisClientType } from 'redis'
import { ParleyError, storeUnavailable } from '../../core/errors.ts'

/** The part of a node-redis v6 client the store uses; `createClient()` returns one. */
export interface RedisClientLike {
  readonly isOpen: boolean
  readonly isReady: boolean
  sendCommand<T = unknown>(
    args: ReadonlyArray<string | Buffer>,
    options?: { timeout?: number },
  ): Promise<T>
  on(event: 'error', listener: (err: Error) => void): unknown
  off(event: 'error', listener: (err: Error) => void): unknown
  /** A new client with the same options (node-redis has it); needed only by `watch`. */
  duplicate?(overrides?: Record<string, unknown>): unknown
}

/** Replies that mean "not now" rather than "wrong": a loading, busy, read-only or full server. */
const UNAVAILABLE_REPLY =
  /^(LOADING|BUSY|READONLY|MASTERDOWN|OOM|MISCONF|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|NOAUTH|WRONGPASS|NOPERM)\b/

/**
 * Any failure of the driver as a ParleyError, never with a key name in its message: connection
 * errors, timeouts, a closed or offline client and "not now" replies become ERR_STORE_UNAVAILABLE;
 * other error replies (a bug, a key of the wrong type) become ERR_INTERNAL.
 */
export function toParleyError(err: unknown): ParleyError {
  if (err instanceof ParleyError) return err
  if (err instanceof ErrorReply && !UNAVAILABLE_REPLY.test(err.message)) {
    return new ParleyError('ERR_INTERNAL', undefined, { cause: err })
  }
  return storeUnavailable(err)
}

export interface OwnedClientOptions {
  url: string
  connectTimeoutMs: number
  commandTimeoutMs: number
}

/**
 * A node-redis client that the store made and therefore opens and closes. Commands fail at once
 * while it is disconnected (no offline queue) and after `commandTimeoutMs` when unanswered; once
 * it has been connected it reconnects for ever, every min(retries × 50, 500) ms. A first
 * connection gives up after three tries, so that opening rejects rather than waits.
 */
export class OwnedClient {
  readonly client: RedisClientType
  readonly #handshakeMs: number
  #connectedOnce = false
  #connecting: Promise<void> | undefined
  #recovering = false
  #closed = false

  constructor(options: OwnedClientOptions) {
    this.#handshakeMs = options.connectTimeoutMs + options.commandTimeoutMs
    this.client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.connectTimeoutMs,
        reconnectStrategy: (retries: number) => {
          if (this.#connectedOnce) return Math.min(retries * 50, 500)
          return retries < 2 ? 100 : false
        },
      },
    })
    this.client.on('ready', () => {
      this.#connectedOnce = true
    })
  }

  /** Connects unless already open or connecting; concurrent calls share one attempt. */
  async open(): Promise<void> {
    this.#closed = false
    if (!this.client.isOpen) this.#connecting = this.#connect()
    if (this.#connecting !== undefined) await this.#connecting
  }

  /**
   * A server that accepts the connection but never answers the handshake would keep `connect()`
   * waiting for ever, so the client is destroyed once the connect and command timeouts have passed.
   */
  async #connect(): Promise<void> {
    this.#connectedOnce = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.client.destroy()
        reject(new Error('The connection handshake timed out'))
      }, this.#handshakeMs)
    })
    const connecting = this.client.connect()
    connecting.catch(() => {})
    try {
      await Promise.race([connecting, timedOut])
    } finally {
      clearTimeout(timer)
      this.#connecting = undefined
    }
  }

  /**
   * A command went unanswered: the connection is presumed dead (a silent network never resets it).
   * Drops it and reconnects in the background until it succeeds or the store closes; meanwhile
   * commands fail at once. Concurrent calls share one recovery.
   */
  stalled(): void {
    if (this.#recovering || this.#closed) return
    this.#recovering = true
    void this.#recover().finally(() => {
      this.#recovering = false
    })
  }

  async #recover(): Promise<void> {
    while (!this.#closed) {
      try {
        if (this.client.isOpen) this.client.destroy()
      } catch {
        // already closed
      }
      try {
        await this.#connect()
        return
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }
  }

  /** Waits for pending replies when connected; otherwise drops the connection at once. */
  async close(): Promise<void> {
    this.#closed = true
    this.#connectedOnce = false
    if (!this.client.isOpen) return
    try {
      if (this.client.isReady) await this.client.close()
      else this.client.destroy()
    } catch {
      this.client.destroy()
    }
  }
}
