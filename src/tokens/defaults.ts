/** @module The token module's timeouts, limits and intervals with their defaults, named in one place. */
import { ParleyError } from '../core/errors.ts'

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE

/**
 * Defaults of every token option. Each option that takes one of these says so where it is declared.
 *
 * @example
 * new TokenService({ ...options, accessTtlMs: TOKEN_DEFAULTS.accessTtlMs / 5 })
 */
export const TOKEN_DEFAULTS = {
  /** Lifetime of an access token (SEC-41); never past its session's expiry. */
  accessTtlMs: 5 * MINUTE,
  /** Lifetime of a refresh token from its issue; never past its session's absolute expiry. */
  refreshTtlMs: 30 * DAY,
  /** Window after a rotation in which the rotated refresh token still yields the same pair (SEC-44). */
  graceMs: 10_000,
  /** Age of the newest signing key after which the next one is created (SEC-42). */
  rotationMs: 30 * DAY,
  /** Clock skew tolerated on exp, nbf and iat (SEC-40). */
  clockSkewMs: 30_000,
  /** Signing algorithm of new keys. */
  alg: 'EdDSA',
  /** Algorithms a verifier accepts (SEC-38). */
  algorithms: ['EdDSA', 'ES256'],
  /** A remote JWKS is fetched again after this long. */
  jwksCacheMs: 5 * MINUTE,
  /** At most one JWKS fetch for an unknown `kid` per this interval (SEC-39). */
  jwksMinRefetchMs: 30_000,
  /** Timeout of one JWKS fetch. */
  jwksTimeoutMs: 5000,
  /** Largest JWKS response read, in bytes. */
  jwksMaxBytes: 64 * 1024,
  /** Verified tokens kept in a verifier's cache. */
  verifiedCacheEntries: 10_000,
  /** The deny list asks the store for ended sessions this often. */
  denyPollMs: 1000,
  /** Each poll re-reads this much before its cursor, for ends committed slightly out of order. */
  denyOverlapMs: 2000,
  /** Ended sessions read per page of a poll. */
  denyPageLimit: 1000,
  /** Signing keys are re-read from the store at most this often (lazily). */
  keyReloadMs: 5000,
  /** An unknown `kid` re-reads the store's keys at most this often. */
  keyMinReloadMs: 1000,
  /** Longest token accepted for verification, in characters. */
  maxTokenLength: 8192,
} as const

/** Throws ERR_CONFIG_INVALID unless `value` is a whole number of ms at least `min`. */
export function checkMs(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ParleyError(
      'ERR_CONFIG_INVALID',
      `${name} must be a whole number of ms, at least ${min}`,
    )
  }
  return value
}
