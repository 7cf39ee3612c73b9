/**
 * @module API keys for the service API (SEC-52): `plyk_<id>.<secret>`, stored as SHA-256, scoped
 * `read` or `manage`, checked with a short cache so that a hot key costs no store round trip.
 */
import { timingSafeEqual } from 'node:crypto'
import type { Clock } from '../core/clock.ts'
import { ParleyError } from '../core/errors.ts'
import type { ApiKeyRecord, SessionStore } from '../core/store.ts'
import { issueToken, parseToken, secretMatches, TOKEN_PREFIXES } from '../core/token.ts'

export type Scope = ApiKeyRecord['scope']

/** Creates an API key; the token is returned once and never stored. */
export async function createApiKey(
  store: SessionStore,
  clock: Clock,
  input: { name: string; scope: Scope; actor?: string },
): Promise<{ key: Omit<ApiKeyRecord, 'secretHash'>; token: string }> {
  if (!/^[\w .:@-]{1,64}$/.test(input.name)) {
    throw new ParleyError(
      'ERR_VALIDATION',
      'name must be 1 to 64 letters, digits, spaces or . : @ - _',
    )
  }
  if (input.scope !== 'read' && input.scope !== 'manage')
    throw new ParleyError('ERR_VALIDATION', 'scope must be read or manage')
  const issued = issueToken('apiKey')
  const record: ApiKeyRecord = {
    id: issued.id,
    secretHash: issued.secretHash,
    name: input.name,
    scope: input.scope,
    createdAt: clock.now(),
    revokedAt: null,
  }
  await store.createApiKey(record, { at: record.createdAt, actor: input.actor ?? 'cli' })
  const { secretHash: _omit, ...key } = record
  return { key, token: issued.token }
}

/** The display form of a key: its prefix and id, never its secret. */
export function keyLabel(id: string): string {
  return `${TOKEN_PREFIXES.apiKey}${id}`
}

interface CacheEntry {
  record: ApiKeyRecord | null
  until: number
  /** The secret that last matched the stored hash, so a hot key is not hashed again on every call. */
  verified: Buffer | null
}

/**
 * Checks presented API keys. A key read from the store is trusted for `cacheMs`; revoking through
 * this checker takes effect at once, revoking elsewhere within `cacheMs` (documented bound).
 */
export class ApiKeyChecker {
  #store: SessionStore
  #clock: Clock
  #cacheMs: number
  #cache = new Map<string, CacheEntry>()
  #maxEntries = 10_000

  constructor(store: SessionStore, clock: Clock, cacheMs: number) {
    this.#store = store
    this.#clock = clock
    this.#cacheMs = cacheMs
  }

  /** Returns the key's record, or throws ERR_API_KEY_INVALID (unknown, revoked, malformed, wrong secret). */
  async check(authorization: string | undefined): Promise<ApiKeyRecord> {
    const raw = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined
    const parsed = parseToken('apiKey', raw)
    if (parsed === null) throw new ParleyError('ERR_API_KEY_INVALID')
    const now = this.#clock.now()
    let entry = this.#cache.get(parsed.id)
    if (entry === undefined || entry.until <= now) {
      const record = await this.#store.getApiKey(parsed.id)
      entry = { record, until: now + this.#cacheMs, verified: null }
      if (this.#cacheMs > 0) {
        if (this.#cache.size >= this.#maxEntries) this.#cache.clear()
        this.#cache.set(parsed.id, entry)
      }
    }
    const record = entry.record
    if (record === null || record.revokedAt !== null) {
      secretMatches(null, parsed.secret) // the same work as a wrong secret
      throw new ParleyError('ERR_API_KEY_INVALID')
    }
    const presented = Buffer.from(parsed.secret)
    const known = entry.verified !== null && entry.verified.length === presented.length
    if (!(known && timingSafeEqual(entry.verified!, presented))) {
      if (!secretMatches(record.secretHash, parsed.secret))
        throw new ParleyError('ERR_API_KEY_INVALID')
      entry.verified = presented
    }
    return record
  }

  /** Forgets a key at once (after it was revoked through this process). */
  forget(id: string): void {
    this.#cache.delete(id)
  }
}

export function requireScope(key: ApiKeyRecord, scope: Scope): void {
  if (scope === 'manage' && key.scope !== 'manage') throw new ParleyError('ERR_API_KEY_SCOPE')
}
