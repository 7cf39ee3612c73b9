/**
 * @module The rotation log of cross-tab refresh: "refresh token X became pair Y", one record per
 * client id in IndexedDB, read and written under the refresh lock. localStorage alone cannot carry
 * this: Chromium hands a write to other tabs' processes asynchronously, so a tab granted the lock
 * may still read the tokens the previous holder just replaced. An IndexedDB transaction begun
 * after another committed sees its data, in every tab.
 */
import type { Tokens } from './token-state.ts'
import { parseTokens } from './token-state.ts'

interface IdbRequest<T> {
  readonly result: T
  onsuccess: (() => void) | null
  onerror: (() => void) | null
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null
}
interface IdbTransaction {
  objectStore(name: string): {
    get(key: string): IdbRequest<unknown>
    put(value: unknown, key: string): IdbRequest<unknown>
    delete(key: string): IdbRequest<unknown>
  }
  oncomplete: (() => void) | null
  onerror: (() => void) | null
  onabort: (() => void) | null
}
interface IdbDatabase {
  createObjectStore(name: string): unknown
  transaction(store: string, mode: 'readonly' | 'readwrite'): IdbTransaction
  close(): void
}
interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest
}

const DB = 'parley-client'
const STORE = 'rotations'

/** One rotation: the refresh token that was used, and the pair it was exchanged for. */
export interface Rotation {
  from: string
  tokens: Tokens
}

function done(tx: IdbTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = tx.onabort = () => reject(new Error('IndexedDB transaction failed'))
  })
}

/**
 * The last rotation of one client id. Every failure (no IndexedDB, private mode, quota) reads as
 * "no record": the caller falls back to the storage, and at worst to the server's grace window.
 *
 * @example
 * const log = RotationLog.open('web')
 * const last = await log?.last() // { from, tokens } | null
 */
export class RotationLog {
  readonly #factory: IdbFactory
  readonly #key: string
  #db: Promise<IdbDatabase> | null = null

  constructor(factory: IdbFactory, clientId: string) {
    this.#factory = factory
    this.#key = clientId
  }

  /** The log of `clientId`, or null where there is no IndexedDB. */
  static open(clientId: string): RotationLog | null {
    const factory = (globalThis as { indexedDB?: IdbFactory }).indexedDB
    return factory === undefined ? null : new RotationLog(factory, clientId)
  }

  /** The last rotation recorded by any tab, or null. */
  async last(): Promise<Rotation | null> {
    try {
      const tx = (await this.#open()).transaction(STORE, 'readonly')
      const request = tx.objectStore(STORE).get(this.#key)
      await done(tx)
      const value = (request.result ?? {}) as { from?: unknown; tokens?: unknown }
      const tokens = parseTokens(value.tokens)
      return typeof value.from === 'string' && tokens !== null ? { from: value.from, tokens } : null
    } catch {
      return null
    }
  }

  /** Records a rotation; resolves once it is committed (before the lock is let go). */
  async record(rotation: Rotation): Promise<void> {
    try {
      const tx = (await this.#open()).transaction(STORE, 'readwrite')
      tx.objectStore(STORE).put(rotation, this.#key)
      await done(tx)
    } catch {
      // other tabs fall back to the storage
    }
  }

  /** Forgets the record (at sign-out: no live token stays behind). */
  async clear(): Promise<void> {
    try {
      const tx = (await this.#open()).transaction(STORE, 'readwrite')
      tx.objectStore(STORE).delete(this.#key)
      await done(tx)
    } catch {
      // nothing more to do
    }
  }

  close(): void {
    const db = this.#db
    this.#db = null
    db?.then((d) => d.close()).catch(() => undefined)
  }

  #open(): Promise<IdbDatabase> {
    if (this.#db !== null) return this.#db
    const db = new Promise<IdbDatabase>((resolve, reject) => {
      const request = this.#factory.open(DB, 1)
      request.onupgradeneeded = () => request.result.createObjectStore(STORE)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(new Error('IndexedDB could not be opened'))
    })
    db.catch(() => {
      if (this.#db === db) this.#db = null // try again next time
    })
    this.#db = db
    return db
  }
}
