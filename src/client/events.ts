/** @module A tiny typed event emitter and the client's event map (`tokens`, `signedout`). */

/** New tokens are in use: after sign-in, after a refresh here, or after one in another tab. */
export interface TokensEvent {
  accessToken: string
  /** When the access token expires, in ms since the epoch, by the client's clock. */
  expiresAt: number
  source: 'sign-in' | 'refresh' | 'other-tab'
}

/** The client holds no tokens any more. */
export interface SignedOutEvent {
  /** The server's end reason (`logout`, `revoked`, `refresh_reuse`, ...), when it gave one. */
  reason: string | null
  /** The error code that ended it (`ERR_TOKEN_REVOKED`, `ERR_REFRESH_INVALID`, ...); null for `signOut()`. */
  code: string | null
}

export interface ClientEvents {
  tokens: TokensEvent
  signedout: SignedOutEvent
}

type Listener<T> = (event: T) => void

/**
 * Listeners by event name. A listener that throws does not stop the others or the client: its
 * error is rethrown in a microtask, where the platform reports it.
 *
 * @example
 * const events = new Emitter<ClientEvents>()
 * const off = events.on('signedout', (e) => console.log(e.reason))
 * off()
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>()

  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    const set = this.#listeners.get(name) ?? new Set()
    this.#listeners.set(name, set)
    const entry = listener as Listener<never>
    set.add(entry)
    return () => {
      set.delete(entry)
    }
  }

  emit<K extends keyof Events>(name: K, event: Events[K]): void {
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      try {
        ;(listener as Listener<Events[K]>)(event)
      } catch (err) {
        queueMicrotask(() => {
          throw err
        })
      }
    }
  }
}
