/**
 * @module The verified-token cache: a hot access token costs a hash and a Map lookup, not a
 * signature check. Bounded; an entry lapses when its token does.
 */
import { hash } from 'node:crypto'
import type { AccessTokenClaims } from './access.ts'

interface Entry {
  claims: Readonly<AccessTokenClaims>
  /** When the token stops verifying (exp plus the tolerated skew), in ms. */
  until: number
}

/**
 * Verified claims by SHA-256 of the token. The least recently used entry goes first when full.
 * Only signature and claim checks are cached: revocation and DPoP are checked at every use.
 *
 * @example
 * const cache = new VerifiedCache(10_000)
 * cache.set(token, claims, claims.exp * 1000 + skewMs)
 * cache.get(token, clock.now()) // the claims, until then
 */
export class VerifiedCache {
  readonly maxEntries: number
  #entries = new Map<string, Entry>()

  constructor(maxEntries: number) {
    this.maxEntries = Math.max(1, Math.floor(maxEntries))
  }

  get size(): number {
    return this.#entries.size
  }

  /** The claims of `token` when it was verified and has not lapsed at `now`; else undefined. */
  get(token: string, now: number): Readonly<AccessTokenClaims> | undefined {
    const key = keyOf(token)
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    this.#entries.delete(key)
    if (entry.until <= now) return undefined
    this.#entries.set(key, entry) // most recently used last
    return entry.claims
  }

  set(token: string, claims: Readonly<AccessTokenClaims>, until: number): void {
    const key = keyOf(token)
    this.#entries.delete(key)
    while (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done) break
      this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { claims, until })
  }

  clear(): void {
    this.#entries.clear()
  }
}

function keyOf(token: string): string {
  return hash('sha256', token, 'base64url')
}
