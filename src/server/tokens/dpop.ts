/**
 * @module DPoP proofs (RFC 9449, SEC-46): signature with the embedded public key, `typ`, `alg`,
 * `htm`, normalised `htu`, the `iat` window, `ath`, single-use `jti`, and stateless server nonces.
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { calculateJwkThumbprint, EmbeddedJWK, type JWTPayload, jwtVerify } from 'jose'
import type { Clock } from '../../core/clock.ts'
import { ParleyError } from '../../core/errors.ts'

/** Defaults of the DPoP checks (docs/tokens.md). */
export const DPOP_DEFAULTS = Object.freeze({
  /** A proof's `iat` may differ from now by at most this much, either way. */
  windowMs: 60_000,
  /** One server nonce is issued per window of this length; the previous window's is still taken. */
  nonceWindowMs: 60_000,
  /** Longest proof read, in characters. */
  maxProofLength: 4096,
  /** Algorithms a proof may be signed with. */
  algorithms: ['EdDSA', 'ES256'] as readonly string[],
})

/** Where replayed `jti`s are remembered: the TokenStore's `useOnce`. */
export interface ReplayCache {
  useOnce(key: string, expiresAt: number, now: number): Promise<boolean>
}

export interface DpopCheckerOptions {
  replay: ReplayCache
  clock: Clock
  /** Accepted distance of `iat` from now, in ms (default 60 s). */
  windowMs?: number
  /** Key material for server nonces (derived, never used as is); nonces are off without it. */
  nonceSecret?: string
  /** Length of one nonce window in ms (default 60 s). */
  nonceWindowMs?: number
}

/** What a request offers for checking. */
export interface DpopCheckInput {
  /** The `DPoP` header, if any. */
  proof: string | undefined
  /** The request's method. */
  method: string
  /** The URL(s) the request may have been addressed to; query and fragment are ignored. */
  url: string | readonly string[]
  /** At a resource: the access token the proof must hash into `ath`. */
  accessToken?: string
  /** Require the current server nonce (a missing or stale one throws ERR_DPOP_NONCE). */
  requireNonce?: boolean
}

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what tokens are bound to (`cnf.jkt`). */
  jkt: string
  jti: string
  iat: number
}

const invalid = (detail: string) => new ParleyError('ERR_DPOP_INVALID', detail)

/** `scheme://host[:port]/path`, lower-case scheme and host, default port dropped; null if no URL. */
export function normaliseHtu(url: string): string | null {
  try {
    const u = new URL(url)
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return null
  }
}

/** base64url(SHA-256(access token)): the `ath` a resource request's proof carries. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url')
}

/**
 * Checks DPoP proofs. Every check failure throws ERR_DPOP_INVALID with a detail that says which;
 * a missing or stale nonce (when required) throws ERR_DPOP_NONCE with `details.nonce`.
 *
 * @example
 * const dpop = new DpopChecker({ replay: store.tokens(), clock })
 * const { jkt } = await dpop.check({ proof: req.headers.dpop, method: 'POST', url: 'https://as.example/oauth/token' })
 */
export class DpopChecker {
  readonly windowMs: number
  readonly nonceWindowMs: number
  readonly #replay: ReplayCache
  readonly #clock: Clock
  readonly #nonceKey: Buffer | null

  constructor(options: DpopCheckerOptions) {
    this.#replay = options.replay
    this.#clock = options.clock
    this.windowMs = options.windowMs ?? DPOP_DEFAULTS.windowMs
    this.nonceWindowMs = options.nonceWindowMs ?? DPOP_DEFAULTS.nonceWindowMs
    if (!Number.isSafeInteger(this.windowMs) || this.windowMs < 1000)
      throw new ParleyError('ERR_CONFIG_INVALID', 'the DPoP window must be at least 1000 ms')
    if (!Number.isSafeInteger(this.nonceWindowMs) || this.nonceWindowMs < 1000)
      throw new ParleyError('ERR_CONFIG_INVALID', 'the DPoP nonce window must be at least 1000 ms')
    this.#nonceKey =
      options.nonceSecret === undefined
        ? null
        : Buffer.from(hkdfSync('sha256', options.nonceSecret, 'parley', 'parley dpop nonce v1', 32))
  }

  /** True when this checker can issue nonces. */
  get nonces(): boolean {
    return this.#nonceKey !== null
  }

  /** The current server nonce (stateless: an HMAC of the time window). */
  nonce(): string {
    return this.#nonceAt(Math.floor(this.#clock.now() / this.nonceWindowMs))
  }

  /** Checks a proof; resolves to its key's thumbprint. */
  async check(input: DpopCheckInput): Promise<DpopProof> {
    const proof = input.proof
    if (typeof proof !== 'string' || proof === '') throw invalid('a DPoP proof is required')
    if (proof.length > DPOP_DEFAULTS.maxProofLength || proof.includes(','))
      throw invalid('send exactly one DPoP proof')
    const now = this.#clock.now()
    let payload: JWTPayload
    let jwk: Record<string, unknown>
    try {
      const verified = await jwtVerify(proof, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: [...DPOP_DEFAULTS.algorithms],
        currentDate: new Date(now),
      })
      payload = verified.payload
      jwk = verified.protectedHeader.jwk as Record<string, unknown>
    } catch (err) {
      throw new ParleyError('ERR_DPOP_INVALID', 'the DPoP proof is not a valid signed dpop+jwt', {
        cause: err,
      })
    }
    const { jti, htm, htu, iat, ath, nonce } = payload as Record<string, unknown>
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256)
      throw invalid('jti is missing')
    if (htm !== input.method.toUpperCase()) throw invalid('htm does not match the method')
    const urls = typeof input.url === 'string' ? [input.url] : input.url
    const presented = typeof htu === 'string' ? normaliseHtu(htu) : null
    if (presented === null || !urls.some((u) => normaliseHtu(u) === presented))
      throw invalid('htu does not match the URL')
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('iat is missing')
    if (Math.abs(now - iat * 1000) > this.windowMs) throw invalid('iat is outside the window')
    if (input.accessToken !== undefined) {
      if (typeof ath !== 'string' || !safeEqual(ath, accessTokenHash(input.accessToken)))
        throw invalid('ath does not match the access token')
    }
    if (input.requireNonce && this.#nonceKey !== null) {
      if (typeof nonce !== 'string' || !this.#nonceValid(nonce, now))
        throw new ParleyError('ERR_DPOP_NONCE', undefined, { details: { nonce: this.nonce() } })
    }
    const jkt = await calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0])
    // Single use: remembered until it could no longer pass the iat window.
    const fresh = await this.#replay.useOnce(
      `dpop:${jkt}:${jti}`,
      iat * 1000 + this.windowMs + 1,
      now,
    )
    if (!fresh) throw invalid('the DPoP proof was used before')
    return { jkt, jti, iat }
  }

  #nonceAt(window: number): string {
    return createHmac('sha256', this.#nonceKey ?? Buffer.alloc(32))
      .update(String(window))
      .digest('base64url')
      .slice(0, 32)
  }

  #nonceValid(nonce: string, now: number): boolean {
    const window = Math.floor(now / this.nonceWindowMs)
    return safeEqual(nonce, this.#nonceAt(window)) || safeEqual(nonce, this.#nonceAt(window - 1))
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
