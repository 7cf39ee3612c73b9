/** @module Bookkeeping of one gateway: live sessions by id and by Parley session, connection counts. */

/** Counts per key, dropping a key when it reaches zero (no unbounded map of stale keys). */
export class Counter {
  readonly #counts = new Map<string, number>()

  get(key: string): number {
    return this.#counts.get(key) ?? 0
  }

  add(key: string): number {
    const n = this.get(key) + 1
    this.#counts.set(key, n)
    return n
  }

  remove(key: string): void {
    const n = this.get(key) - 1
    if (n <= 0) this.#counts.delete(key)
    else this.#counts.set(key, n)
  }

  get size(): number {
    return this.#counts.size
  }
}

/** What the registry needs to know of a live session. */
export interface Registered {
  readonly id: string
  readonly sessionId: string
}

/**
 * Live sessions this process holds (open or suspended), indexed by live id and by Parley session
 * id, plus the connection counts the limits of SEC-49 apply to.
 *
 * @example
 * registry.add(live); registry.bySession('sess-id') // [live]
 */
export class Registry<T extends Registered> {
  readonly #byId = new Map<string, T>()
  /** The one live session of a Parley session, or a set when it has several (rarer). */
  readonly #bySession = new Map<string, T | Set<T>>()
  /** Open connections (welcomed) per principal. */
  readonly principals = new Counter()
  /** Connections per client address, handshakes included. */
  readonly addresses = new Counter()
  /** Connections that have not been welcomed yet. */
  handshakes = 0

  get(id: string): T | undefined {
    return this.#byId.get(id)
  }

  add(live: T): void {
    this.#byId.set(live.id, live)
    const held = this.#bySession.get(live.sessionId)
    if (held === undefined) this.#bySession.set(live.sessionId, live)
    else if (held instanceof Set) held.add(live)
    else if (held !== live) this.#bySession.set(live.sessionId, new Set([held, live]))
  }

  delete(live: T): void {
    if (this.#byId.get(live.id) !== live) return
    this.#byId.delete(live.id)
    const held = this.#bySession.get(live.sessionId)
    if (held === live) this.#bySession.delete(live.sessionId)
    else if (held instanceof Set) {
      held.delete(live)
      if (held.size === 0) this.#bySession.delete(live.sessionId)
    }
  }

  /** Live sessions of a Parley session held here. */
  bySession(sessionId: string): T[] {
    const held = this.#bySession.get(sessionId)
    if (held === undefined) return []
    return held instanceof Set ? [...held] : [held]
  }

  /** Parley session ids that have live sessions here. */
  sessionIds(): string[] {
    return [...this.#bySession.keys()]
  }

  all(): IterableIterator<T> {
    return this.#byId.values()
  }

  get size(): number {
    return this.#byId.size
  }
}
