/**
 * @module Verifier: checks Parley access tokens in any Node service. Algorithms pinned per key,
 * keys only from Parley's JWKS or key ring, every claim checked with a bounded skew, a cache of
 * verified tokens, the deny list of ended sessions, and the DPoP binding (SEC-38 to SEC-41).
 */
import { type CryptoKey, type JWTHeaderParameters, jwtVerify } from 'jose'
import { type Clock, systemClock } from '../core/clock.ts'
import { isParleyError, ParleyError } from '../core/errors.ts'
import type { AccessTokenClaims } from './access.ts'
import { checkMs, TOKEN_DEFAULTS } from './defaults.ts'
import type { KeyResolver } from './key-ring.ts'
import { isSigningAlg, type SigningAlg } from './keys.ts'
import { RemoteJwks, type RemoteJwksOptions } from './remote-jwks.ts'
import { VerifiedCache } from './verified-cache.ts'

/** Where verification keys come from: Parley's JWKS URL, or an in-process KeyRing. */
export type KeySource = RemoteJwksOptions | KeyResolver

/** What the verifier asks of a deny list (a {@link DenyList} is one). */
export interface RevocationCheck {
  check(sid: string): Promise<void>
}

/** Checks the DPoP proof of a request against a bound token's claims; throws ERR_DPOP_* when it fails. */
export type DpopCheck = (claims: Readonly<AccessTokenClaims>) => Promise<void>

export interface VerifierOptions {
  /** The expected `iss`. */
  issuer: string
  /** The expected `aud`: this service. */
  audience: string
  keys: KeySource
  /** Accepted algorithms: a subset of the default `['EdDSA', 'ES256']`. */
  algorithms?: SigningAlg[]
  /** Tolerated clock skew on exp, nbf and iat. Default 30 s. */
  clockSkewMs?: number
  /** The verified-token cache; `false` turns it off. Default 10 000 entries. */
  cache?: { maxEntries?: number } | false
  /** Ended sessions: without one, a token stays valid until it expires. */
  denyList?: RevocationCheck
  clock?: Clock
}

/** Headers by which a token names its own key: never trusted (SEC-39). */
const KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const
const REQUIRED = ['iss', 'aud', 'sub', 'sid', 'iat', 'exp', 'jti']

function invalid(message?: string, cause?: unknown): ParleyError {
  return new ParleyError('ERR_TOKEN_INVALID', message, cause === undefined ? {} : { cause })
}

/** Maps a jose failure onto Parley's token codes. */
function fromJose(err: unknown): ParleyError {
  if (isParleyError(err)) return err
  const { code, claim } = (err ?? {}) as { code?: unknown; claim?: unknown }
  if (code === 'ERR_JWT_EXPIRED')
    return new ParleyError('ERR_TOKEN_EXPIRED', undefined, { cause: err })
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    if (claim === 'nbf')
      return new ParleyError('ERR_TOKEN_NOT_YET_VALID', undefined, { cause: err })
    if (claim === 'typ') return invalid('not an access token (typ)', err)
    return new ParleyError('ERR_TOKEN_CLAIMS', undefined, { cause: err })
  }
  return invalid(undefined, err)
}

const isText = (v: unknown, max = 1024): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max

/** The verified payload as typed claims, frozen (it is shared through the cache). */
function toClaims(p: Record<string, unknown>): Readonly<AccessTokenClaims> {
  const aud = p.aud
  const cnf = p.cnf as { jkt?: unknown } | undefined
  if (
    !isText(p.iss) ||
    !(isText(aud) || (Array.isArray(aud) && aud.every((a) => isText(a)))) ||
    !isText(p.sub) ||
    !isText(p.sid, 128) ||
    !isText(p.jti, 128) ||
    !Number.isSafeInteger(p.iat) ||
    !Number.isSafeInteger(p.exp) ||
    !Number.isSafeInteger(p.auth_level) ||
    !isText(p.client_id, 256) ||
    (cnf !== undefined && (cnf === null || typeof cnf !== 'object' || !isText(cnf.jkt, 128)))
  ) {
    throw new ParleyError('ERR_TOKEN_CLAIMS', 'the token lacks a required claim')
  }
  const claims: AccessTokenClaims = {
    iss: p.iss,
    aud: Array.isArray(aud) ? (Object.freeze([...aud]) as string[]) : aud,
    sub: p.sub,
    sid: p.sid,
    iat: p.iat as number,
    exp: p.exp as number,
    jti: p.jti,
    auth_level: p.auth_level as number,
    client_id: p.client_id,
  }
  if (cnf !== undefined) claims.cnf = Object.freeze({ jkt: cnf.jkt as string })
  return Object.freeze(claims)
}

/**
 * Verifies Parley access tokens.
 *
 * @example
 * const verifier = new Verifier({
 *   issuer: 'https://auth.example',
 *   audience: 'https://api.example',
 *   keys: { jwksUrl: 'https://auth.example/.well-known/jwks.json' },
 * })
 * const claims = await verifier.verify(bearerToken) // throws ParleyError ERR_TOKEN_*
 */
export class Verifier {
  readonly issuer: string
  readonly audience: string
  readonly algorithms: readonly SigningAlg[]
  readonly clockSkewMs: number
  readonly #keys: KeyResolver
  readonly #cache: VerifiedCache | null
  readonly #denyList: RevocationCheck | undefined
  readonly #clock: Clock
  #signatureChecks = 0
  #cacheHits = 0

  constructor(options: VerifierOptions) {
    if (!isText(options.issuer) || !isText(options.audience)) {
      throw new ParleyError('ERR_CONFIG_INVALID', 'issuer and audience are required')
    }
    this.issuer = options.issuer
    this.audience = options.audience
    const algorithms = options.algorithms ?? [...TOKEN_DEFAULTS.algorithms]
    if (algorithms.length === 0 || !algorithms.every(isSigningAlg)) {
      throw new ParleyError('ERR_CONFIG_INVALID', 'algorithms must be EdDSA and/or ES256')
    }
    this.algorithms = Object.freeze([...algorithms])
    this.clockSkewMs = checkMs('clockSkewMs', options.clockSkewMs ?? TOKEN_DEFAULTS.clockSkewMs, 0)
    this.#clock = options.clock ?? systemClock
    this.#keys =
      'jwksUrl' in options.keys
        ? new RemoteJwks(options.keys, this.algorithms, this.#clock)
        : options.keys
    const cache = options.cache ?? {}
    this.#cache =
      cache === false
        ? null
        : new VerifiedCache(cache.maxEntries ?? TOKEN_DEFAULTS.verifiedCacheEntries)
    this.#denyList = options.denyList
  }

  /** Signature checks done and cache hits served (for metrics and tests). */
  get stats(): { signatureChecks: number; cacheHits: number; cached: number } {
    return {
      signatureChecks: this.#signatureChecks,
      cacheHits: this.#cacheHits,
      cached: this.#cache?.size ?? 0,
    }
  }

  /**
   * Returns the claims of a valid access token, or throws ParleyError: ERR_TOKEN_INVALID (format,
   * algorithm, key, signature, type), ERR_TOKEN_EXPIRED, ERR_TOKEN_NOT_YET_VALID, ERR_TOKEN_CLAIMS
   * (issuer, audience, missing claims), ERR_TOKEN_REVOKED (its session ended), ERR_DPOP_INVALID (a
   * bound token without a proof check) or ERR_STORE_UNAVAILABLE (keys or deny list unreachable).
   * `dpop` runs for DPoP-bound tokens (`cnf.jkt`) only, at every call, cached or not.
   */
  async verify(token: unknown, dpop?: DpopCheck): Promise<Readonly<AccessTokenClaims>> {
    if (
      typeof token !== 'string' ||
      token.length === 0 ||
      token.length > TOKEN_DEFAULTS.maxTokenLength
    ) {
      throw invalid()
    }
    let claims = this.#cache?.get(token, this.#clock.now())
    if (claims === undefined) {
      claims = await this.#verifyJwt(token)
      this.#cache?.set(token, claims, claims.exp * 1000 + this.clockSkewMs)
    } else this.#cacheHits++
    await this.#denyList?.check(claims.sid)
    if (claims.cnf !== undefined) {
      if (dpop === undefined) throw new ParleyError('ERR_DPOP_INVALID', 'the token requires DPoP')
      await dpop(claims)
    }
    return claims
  }

  async #verifyJwt(token: string): Promise<Readonly<AccessTokenClaims>> {
    const now = this.#clock.now()
    let payload: Record<string, unknown>
    try {
      const result = await jwtVerify(token, (header) => this.#resolveKey(header), {
        algorithms: [...this.algorithms],
        typ: 'at+jwt',
        issuer: this.issuer,
        audience: this.audience,
        clockTolerance: this.clockSkewMs / 1000,
        currentDate: new Date(now),
        requiredClaims: REQUIRED,
      })
      payload = result.payload
    } catch (err) {
      throw fromJose(err)
    }
    if (typeof payload.iat === 'number' && payload.iat * 1000 > now + this.clockSkewMs) {
      throw new ParleyError('ERR_TOKEN_NOT_YET_VALID', 'the token was issued in the future')
    }
    return toClaims(payload)
  }

  async #resolveKey(header: JWTHeaderParameters): Promise<CryptoKey> {
    for (const name of KEY_HEADERS) {
      if (name in header) throw invalid('a token may not name its own key')
    }
    const { kid, alg } = header
    if (!isText(kid, 128)) throw invalid('the token has no kid')
    const key = await this.#keys.key(kid)
    if (key === null) throw invalid('unknown kid')
    if (key.alg !== alg) throw invalid('the algorithm does not match the key')
    this.#signatureChecks++
    return key.key
  }
}
