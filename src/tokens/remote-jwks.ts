/**
 * @module RemoteJwks: verification keys fetched from Parley's JWKS URL, cached, and refetched for an
 * unknown `kid` at most once per `minRefetchMs` (SEC-39).
 */
import type { Clock } from '../core/clock.ts'
import { ParleyError } from '../core/errors.ts'
import { checkMs, TOKEN_DEFAULTS } from './defaults.ts'
import { SingleFlight } from './flight.ts'
import { parseJwks } from './jwks.ts'
import type { KeyResolver } from './key-ring.ts'
import { importVerificationKey, type VerificationKey } from './keys.ts'

/** A `fetch` (the global one by default; tests pass a fake). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>

export interface RemoteJwksOptions {
  /** The JWKS endpoint; only keys served here are ever trusted. */
  jwksUrl: string
  fetch?: FetchLike
  /** Keys are fetched again after this long. Default 5 minutes. */
  cacheMs?: number
  /** At most one fetch per this interval, whatever asks for it. Default 30 s. */
  minRefetchMs?: number
  /** Timeout of one fetch. Default 5 s. */
  timeoutMs?: number
}

/**
 * The keys of a remote JWKS. While the endpoint cannot be reached the keys already known stay in
 * use; with none known yet, lookups fail with ERR_STORE_UNAVAILABLE (503).
 *
 * @example
 * const keys = new RemoteJwks({ jwksUrl: 'https://auth.example/jwks' }, ['EdDSA'], systemClock)
 * await keys.key(header.kid) // a VerificationKey or null
 */
export class RemoteJwks implements KeyResolver {
  readonly url: string
  readonly cacheMs: number
  readonly minRefetchMs: number
  readonly timeoutMs: number
  readonly #fetch: FetchLike
  readonly #algorithms: readonly string[]
  readonly #clock: Clock
  #keys = new Map<string, VerificationKey>()
  #fetchedAt = Number.NEGATIVE_INFINITY
  #lastAttempt = Number.NEGATIVE_INFINITY
  #fetches = 0
  #flight = new SingleFlight<void>()

  constructor(options: RemoteJwksOptions, algorithms: readonly string[], clock: Clock) {
    this.url = new URL(options.jwksUrl).href
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init))
    this.#algorithms = algorithms
    this.#clock = clock
    this.cacheMs = checkMs('cacheMs', options.cacheMs ?? TOKEN_DEFAULTS.jwksCacheMs, 0)
    this.minRefetchMs = checkMs(
      'minRefetchMs',
      options.minRefetchMs ?? TOKEN_DEFAULTS.jwksMinRefetchMs,
      0,
    )
    this.timeoutMs = checkMs('timeoutMs', options.timeoutMs ?? TOKEN_DEFAULTS.jwksTimeoutMs, 1)
  }

  /** How many fetches were started (for metrics and tests). */
  get fetches(): number {
    return this.#fetches
  }

  async key(kid: string): Promise<VerificationKey | null> {
    const now = this.#clock.now()
    if (now - this.#fetchedAt >= this.cacheMs && this.#mayFetch(now)) {
      try {
        await this.#flight.run(() => this.#load())
      } catch (err) {
        if (this.#fetchedAt === Number.NEGATIVE_INFINITY) throw err
      }
    }
    if (this.#fetchedAt === Number.NEGATIVE_INFINITY) {
      throw new ParleyError('ERR_STORE_UNAVAILABLE', 'the JWKS has not been fetched yet')
    }
    const known = this.#keys.get(kid)
    if (known !== undefined) return known
    // An unknown kid may be a key published since the last fetch: one rate-limited look (SEC-39).
    if (!this.#mayFetch(this.#clock.now())) return null
    await this.#flight.run(() => this.#load())
    return this.#keys.get(kid) ?? null
  }

  #mayFetch(now: number): boolean {
    return this.#flight.busy || now - this.#lastAttempt >= this.minRefetchMs
  }

  async #load(): Promise<void> {
    this.#lastAttempt = this.#clock.now()
    this.#fetches++
    let doc: unknown
    try {
      const res = await this.#fetch(this.url, {
        headers: { accept: 'application/jwk-set+json, application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      if (!res.ok) throw new Error(`JWKS answered ${res.status}`)
      const text = await res.text()
      if (text.length > TOKEN_DEFAULTS.jwksMaxBytes) throw new Error('JWKS too large')
      doc = JSON.parse(text)
    } catch (cause) {
      throw new ParleyError('ERR_STORE_UNAVAILABLE', 'the JWKS could not be fetched', { cause })
    }
    const entries = parseJwks(doc, this.#algorithms)
    if (entries === null) {
      throw new ParleyError('ERR_STORE_UNAVAILABLE', 'the JWKS endpoint did not serve a JWKS')
    }
    const keys = new Map<string, VerificationKey>()
    for (const e of entries) {
      try {
        keys.set(e.kid, await importVerificationKey(e.kid, e.alg, e.jwk))
      } catch {
        // a key that does not import is not trusted
      }
    }
    this.#keys = keys
    this.#fetchedAt = this.#lastAttempt
  }
}
