/**
 * @module What a live session keeps across a page reload: the engine's `PeerState` snapshot (its
 * unacknowledged messages, acks, checkpoints and pending calls) and the resume info, one record
 * per live session name, in a `LiveStorage` (memory, or `localStorage` in browsers).
 */
import type { PeerState } from '../live/engine/types.ts'
import type { StorageLike } from './dom.ts'
import { browserStorage } from './dom.ts'

/** The record of one live session. */
export interface SavedLive {
  v: 1
  /** Session id and the next resume token, from the last `welcome`. */
  sid: string
  token: string
  /** Highest contiguous server seq received (= `peer.inLast`, kept for the resume hello). */
  last: number
  /** The resume window the server announced, and when the transport was lost (null: open). */
  resumeWindowMs: number
  lostAt: number | null
  peer: PeerState
}

/** Where live sessions persist. Implementations store each name's record as a whole. */
export interface LiveStorage {
  load(name: string): SavedLive | null
  save(name: string, record: SavedLive): void
  remove(name: string): void
}

/** Records in a Map (copied in and out as JSON): for Node, tests, and pages with no storage. */
export class MemoryLiveStorage implements LiveStorage {
  readonly #items = new Map<string, string>()
  load(name: string): SavedLive | null {
    return parseSaved(this.#items.get(name) ?? null)
  }
  save(name: string, record: SavedLive): void {
    this.#items.set(name, JSON.stringify(record))
  }
  remove(name: string): void {
    this.#items.delete(name)
  }
}

/**
 * Records in a Storage (`localStorage` by default), under `parley:live:<name>`. A storage that
 * throws (quota, private mode) leaves the session working for this page only.
 *
 * @example
 * const live = new LiveClient({ url, credential, storage: new BrowserLiveStorage() })
 */
export class BrowserLiveStorage implements LiveStorage {
  readonly #storage: StorageLike
  readonly #prefix: string

  constructor(storage?: StorageLike, prefix = 'parley:live:') {
    const found = storage ?? browserStorage()
    if (found === null) throw new TypeError('no localStorage here: pass a storage')
    this.#storage = found
    this.#prefix = prefix
  }

  load(name: string): SavedLive | null {
    try {
      return parseSaved(this.#storage.getItem(this.#prefix + name))
    } catch {
      return null
    }
  }

  save(name: string, record: SavedLive): void {
    this.#storage.setItem(this.#prefix + name, JSON.stringify(record))
  }

  remove(name: string): void {
    try {
      this.#storage.removeItem(this.#prefix + name)
    } catch {
      // nothing more to do
    }
  }
}

/** The default: `localStorage` in a browser window, else memory (which a restart loses). */
export function defaultLiveStorage(): LiveStorage {
  return browserStorage() === null ? new MemoryLiveStorage() : new BrowserLiveStorage()
}

/** A stored record, checked for its shape, or null. */
export function parseSaved(text: string | null): SavedLive | null {
  if (text === null) return null
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return null
  }
  const r = (raw ?? {}) as Partial<SavedLive>
  const peer = (r.peer ?? null) as Partial<PeerState> | null
  const ok =
    r.v === 1 &&
    typeof r.sid === 'string' &&
    typeof r.token === 'string' &&
    typeof r.last === 'number' &&
    typeof r.resumeWindowMs === 'number' &&
    (r.lostAt === null || typeof r.lostAt === 'number') &&
    peer !== null &&
    peer.side === 'client' &&
    Array.isArray(peer.outBuffer) &&
    Array.isArray(peer.pendingCalls)
  return ok ? (r as SavedLive) : null
}

/**
 * The record of one name, written through: `write()` after each flush that changed something,
 * before its frames go out, so a reload finds every message `send()` accepted.
 */
export class Outbox {
  readonly #storage: LiveStorage
  readonly #name: string
  #failed = false

  constructor(storage: LiveStorage, name: string) {
    this.#storage = storage
    this.#name = name
  }

  /** Whether the last write failed (quota, ...): a reload would lose what changed since. */
  get failed(): boolean {
    return this.#failed
  }

  read(): SavedLive | null {
    return this.#storage.load(this.#name)
  }

  write(record: SavedLive): void {
    try {
      this.#storage.save(this.#name, record)
      this.#failed = false
    } catch {
      this.#failed = true
    }
  }

  clear(): void {
    this.#storage.remove(this.#name)
  }
}
