/**
 * @module The client's current tokens and their expiry, kept in memory and persisted in a
 * Storage-like object (`localStorage` in browsers, a {@link MemoryStorage} elsewhere).
 */
import type { StorageLike } from './dom.ts'
import { ParleyClientError } from './errors.ts'

/** The pair the client holds. `expiresAt` is the access token's expiry by the client's clock. */
export interface Tokens {
  accessToken: string
  refreshToken: string
  expiresAt: number
}

/** A Storage in a Map: the default outside browsers, and per-process. */
export class MemoryStorage implements StorageLike {
  readonly #items = new Map<string, string>()
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null
  }
  setItem(key: string, value: string): void {
    this.#items.set(key, String(value))
  }
  removeItem(key: string): void {
    this.#items.delete(key)
  }
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0

/**
 * Tokens from an RFC 6749 token response received at `now`; throws ERR_BAD_RESPONSE for anything
 * else (and for DPoP-bound tokens, which this client does not sign proofs for).
 */
export function tokensFromResponse(body: unknown, now: number): Tokens {
  const b = (body ?? {}) as Record<string, unknown>
  const type = typeof b.token_type === 'string' ? b.token_type.toLowerCase() : ''
  if (!isText(b.access_token) || !isText(b.refresh_token) || type !== 'bearer')
    throw new ParleyClientError('ERR_BAD_RESPONSE', 'the token response is not a Bearer token pair')
  const seconds = typeof b.expires_in === 'number' && b.expires_in > 0 ? b.expires_in : 0
  return {
    accessToken: b.access_token,
    refreshToken: b.refresh_token,
    expiresAt: now + seconds * 1000,
  }
}

/** Tokens as stored, or null when `value` is not a stored pair. */
export function parseTokens(value: unknown): Tokens | null {
  const t = (value ?? {}) as Record<string, unknown>
  if (!isText(t.accessToken) || !isText(t.refreshToken) || typeof t.expiresAt !== 'number')
    return null
  return { accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: t.expiresAt }
}

/**
 * The tokens in memory, mirrored to storage under one key. A storage that throws (quota, private
 * mode) leaves the memory state working for this page.
 *
 * @example
 * const state = new TokenState(new MemoryStorage(), 'parley:web:tokens')
 * state.save({ accessToken, refreshToken, expiresAt })
 */
export class TokenState {
  readonly #storage: StorageLike
  readonly #key: string
  #current: Tokens | null
  #epoch = 0

  constructor(storage: StorageLike, key: string) {
    this.#storage = storage
    this.#key = key
    this.#current = this.stored()
  }

  /** The tokens this client uses now. */
  get current(): Tokens | null {
    return this.#current
  }

  /** Changes at each sign-in and sign-out here (not at a refresh): an answer from before is stale. */
  get epoch(): number {
    return this.#epoch
  }

  /** What the storage holds now (another tab may have written it); memory is left as it is. */
  stored(): Tokens | null {
    try {
      const raw = this.#storage.getItem(this.#key)
      return raw === null ? null : parseTokens(JSON.parse(raw))
    } catch {
      return null
    }
  }

  /** Uses `tokens` here and persists them; `signIn` starts a new epoch. */
  save(tokens: Tokens, signIn = false): void {
    if (signIn) this.#epoch++
    this.#current = tokens
    try {
      this.#storage.setItem(this.#key, JSON.stringify(tokens))
    } catch {
      // memory still holds them; another tab will not see them
    }
  }

  /** Uses `tokens` here, already persisted by whoever got them (another tab). */
  adopt(tokens: Tokens): void {
    this.#current = tokens
  }

  /** Forgets the tokens here and in storage; true when this client held some. */
  clear(): boolean {
    const had = this.#current !== null
    this.#current = null
    this.#epoch++
    try {
      this.#storage.removeItem(this.#key)
    } catch {
      // nothing more to do
    }
    return had
  }

  /** Forgets the tokens here only (another tab cleared the storage); true when it held some. */
  forget(): boolean {
    const had = this.#current !== null
    this.#current = null
    this.#epoch++
    return had
  }
}
