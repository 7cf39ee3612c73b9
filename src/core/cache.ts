/**
 * @module The local session cache of the hot path: bounded, with a hard TTL, invalidated by the
 * store's change notifications, and bypassed entirely while the notification link is down.
 */
import type { SessionRecord } from './session.ts'

/** What a store's change feed reports (see `SessionStore.watch`). */
export type StoreChange =
  | { type: 'invalidate'; id: string }
  | { type: 'flush' }
  | { type: 'link'; up: boolean }

export interface SessionCacheOptions {
  /** The hard TTL of an entry: the revocation bound when a notification is lost. Default 5000. */
  ttlMs?: number
  /** Entries kept at most; the oldest go first. Default 100 000. */
  maxEntries?: number
}

interface Entry {
  record: SessionRecord
  until: number
}

/**
 * Caches active session records. An entry is served only while the link to the store's change
 * feed is up and its TTL has not passed; any invalidation bumps a generation so that a read that
 * raced it is not cached (a store read that started before an end must not be cached after it).
 */
export class SessionCache {
  readonly ttlMs: number
  readonly maxEntries: number
  #entries = new Map<string, Entry>()
  #generation = 0
  #linkUp = false

  constructor(options: SessionCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5000
    this.maxEntries = options.maxEntries ?? 100_000
  }

  get linkUp(): boolean {
    return this.#linkUp
  }

  get size(): number {
    return this.#entries.size
  }

  /** Capture before a store read; pass to {@link set}. */
  generation(): number {
    return this.#generation
  }

  get(id: string, now: number): SessionRecord | undefined {
    if (!this.#linkUp) return undefined
    const entry = this.#entries.get(id)
    if (entry === undefined) return undefined
    if (entry.until <= now) {
      this.#entries.delete(id)
      return undefined
    }
    return entry.record
  }

  /** Caches an active record read at generation `generation`, unless something changed since. */
  set(record: SessionRecord, now: number, generation: number): void {
    if (!this.#linkUp || generation !== this.#generation || record.state !== 'active') return
    if (this.#entries.size >= this.maxEntries && !this.#entries.has(record.id)) {
      const oldest = this.#entries.keys().next()
      if (!oldest.done) this.#entries.delete(oldest.value)
    }
    this.#entries.set(record.id, { record, until: now + this.ttlMs })
  }

  invalidate(id: string): void {
    this.#generation++
    this.#entries.delete(id)
  }

  flush(): void {
    this.#generation++
    this.#entries.clear()
  }

  /** Applies a change from the store's feed. A link going down or up flushes everything. */
  apply(change: StoreChange): void {
    if (change.type === 'invalidate') this.invalidate(change.id)
    else if (change.type === 'flush') this.flush()
    else {
      this.flush()
      this.#linkUp = change.up
    }
  }
}
