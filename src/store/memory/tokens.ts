/** @module MemoryTokenStore: the TokenStore in one process's memory, for tests and embedding. */

import { storeUnavailable } from '../../core/errors.ts'
import type {
  RefreshRecord,
  RotateResult,
  SigningKeyRecord,
  SuccessorAccess,
  TokenStore,
} from '../../tokens/token-store.ts'

/** Single-use values (DPoP `jti`s) held at most: beyond, refuse (503) rather than grow. */
const MAX_SINGLE_USE = 1_000_000
/** Above this many, expired values are dropped from the front (the oldest) at each call. */
const PRUNE_ABOVE = 10_000

const copyKey = (k: SigningKeyRecord): SigningKeyRecord => ({ ...k, publicJwk: { ...k.publicJwk } })
const copyRefresh = (r: RefreshRecord): RefreshRecord => ({
  ...r,
  successorAccess: r.successorAccess === null ? null : { ...r.successorAccess },
})

/**
 * Signing keys, refresh tokens and single-use values in memory. Every method completes in one
 * synchronous step, so each is atomic.
 *
 * @example
 * const tokens = new MemoryStore().tokens()
 */
export class MemoryTokenStore implements TokenStore {
  readonly kind = 'memory'
  #keys: SigningKeyRecord[] = []
  #refresh = new Map<string, RefreshRecord>()
  #once = new Map<string, number>()

  async init(): Promise<void> {}
  async close(): Promise<void> {}

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#keys.map(copyKey)
  }

  async addSigningKey(
    record: SigningKeyRecord,
    expectedNewestKid: string | null,
  ): Promise<boolean> {
    const newest = this.#keys[0]?.kid ?? null
    if (newest !== expectedNewestKid || this.#keys.some((k) => k.kid === record.kid)) return false
    this.#keys.unshift(copyKey(record))
    this.#keys.sort((a, b) => b.createdAt - a.createdAt)
    return true
  }

  async purgeSigningKeys(now: number): Promise<number> {
    const before = this.#keys.length
    this.#keys = this.#keys.filter((k) => k.expiresAt > now)
    return before - this.#keys.length
  }

  async createRefresh(record: RefreshRecord): Promise<void> {
    this.#refresh.set(record.id, copyRefresh(record))
  }

  async getRefresh(id: string): Promise<RefreshRecord | null> {
    const r = this.#refresh.get(id)
    return r === undefined ? null : copyRefresh(r)
  }

  async rotateRefresh(
    id: string,
    successor: RefreshRecord,
    access: SuccessorAccess,
    at: number,
  ): Promise<RotateResult> {
    const r = this.#refresh.get(id)
    if (r === undefined) return { status: 'missing' }
    if (r.rotatedAt !== null) return { status: 'already', record: copyRefresh(r) }
    r.rotatedAt = at
    r.successorId = successor.id
    r.successorAccess = { ...access }
    this.#refresh.set(successor.id, copyRefresh(successor))
    return { status: 'rotated', record: copyRefresh(r) }
  }

  async purgeRefresh(now: number, limit: number): Promise<number> {
    let n = 0
    for (const [id, r] of this.#refresh) {
      if (n >= limit) break
      if (r.expiresAt <= now) {
        this.#refresh.delete(id)
        n++
      }
    }
    return n
  }

  async useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    // Entries arrive in time order with similar lifetimes: expired ones are dropped from the front,
    // so each call costs what expired, never a scan of everything held.
    if (this.#once.size >= PRUNE_ABOVE) {
      for (const [k, until] of this.#once) {
        if (until > now) break
        this.#once.delete(k)
      }
    }
    const until = this.#once.get(key)
    if (until !== undefined && until > now) return false
    if (this.#once.size >= MAX_SINGLE_USE) {
      throw storeUnavailable(new Error('the memory store holds too many single-use values'))
    }
    this.#once.delete(key) // re-inserted at the back, in time order
    this.#once.set(key, expiresAt)
    return true
  }
}
