/** @module TokenService options (defaults, checks, the client registry) and its request and response shapes. */
import { MIN_SECRET_LENGTH } from '../auth/secret-box.ts'
import type { Clock } from '../core/clock.ts'
import { ParleyError } from '../core/errors.ts'
import type { Sessions } from '../core/sessions.ts'
import type { AccessTokenClaims } from './access.ts'
import { checkMs, TOKEN_DEFAULTS } from './defaults.ts'
import type { DenyListOptions } from './deny-list.ts'
import type { SigningAlg } from './keys.ts'
import type { TokenStore } from './token-store.ts'

/** A client that may hold tokens. With `dpop: true`, every token it gets is DPoP-bound (SEC-46). */
export interface TokenClient {
  id: string
  dpop?: boolean
}

export interface TokenServiceOptions {
  sessions: Sessions
  tokens: TokenStore
  /** The server secret (at least 32 characters): seals signing keys, derives refresh successors. */
  secret: string
  /** `iss` of every access token. */
  issuer: string
  /** `aud` of every access token. */
  audience: string
  clients: TokenClient[]
  clock?: Clock
  /** Access-token lifetime. Default 5 minutes. */
  accessTtlMs?: number
  /** Refresh-token lifetime from each rotation; never past the session's absolute expiry. Default 30 days. */
  refreshTtlMs?: number
  /** A rotated refresh token still yields the same pair this long (at most 60 s). Default 10 s. */
  graceMs?: number
  /** Algorithm of new signing keys. Default `EdDSA`. */
  alg?: SigningAlg
  /** Signing-key rotation period. Default 30 days. */
  rotationMs?: number
  /** Clock skew tolerated by verification. Default 30 s. */
  clockSkewMs?: number
  /** Tuning of the in-process deny list (poll interval, staleness bound, error sink). */
  denyList?: Pick<DenyListOptions, 'pollMs' | 'maxStalenessMs' | 'onError'>
}

export interface ResolvedTokenOptions {
  accessTtlMs: number
  refreshTtlMs: number
  graceMs: number
  clockSkewMs: number
  clients: ReadonlyMap<string, Readonly<TokenClient>>
}

const MAX_GRACE_MS = 60_000

/**
 * Applies the defaults and checks every option; throws ERR_CONFIG_INVALID naming the bad one.
 *
 * @example
 * const resolved = resolveTokenOptions({ ...options, clients: [{ id: 'web' }] })
 */
export function resolveTokenOptions(options: TokenServiceOptions): ResolvedTokenOptions {
  for (const name of ['issuer', 'audience'] as const) {
    const v = options[name]
    if (typeof v !== 'string' || v.length === 0 || v.length > 1024) {
      throw new ParleyError('ERR_CONFIG_INVALID', `${name} must be a non-empty string`)
    }
  }
  if (typeof options.secret !== 'string' || options.secret.length < MIN_SECRET_LENGTH) {
    throw new ParleyError(
      'ERR_CONFIG_INVALID',
      `the server secret must be at least ${MIN_SECRET_LENGTH} characters`,
    )
  }
  const accessTtlMs = checkMs(
    'accessTtlMs',
    options.accessTtlMs ?? TOKEN_DEFAULTS.accessTtlMs,
    1000,
  )
  const refreshTtlMs = checkMs(
    'refreshTtlMs',
    options.refreshTtlMs ?? TOKEN_DEFAULTS.refreshTtlMs,
    accessTtlMs,
  )
  const graceMs = checkMs('graceMs', options.graceMs ?? TOKEN_DEFAULTS.graceMs, 0)
  if (graceMs > MAX_GRACE_MS) {
    throw new ParleyError('ERR_CONFIG_INVALID', `graceMs must be at most ${MAX_GRACE_MS}`)
  }
  const clockSkewMs = checkMs('clockSkewMs', options.clockSkewMs ?? TOKEN_DEFAULTS.clockSkewMs, 0)
  const clients = new Map<string, Readonly<TokenClient>>()
  for (const c of options.clients ?? []) {
    if (typeof c?.id !== 'string' || c.id.length === 0 || c.id.length > 256 || clients.has(c.id)) {
      throw new ParleyError('ERR_CONFIG_INVALID', 'each client needs a unique, non-empty id')
    }
    clients.set(c.id, Object.freeze({ id: c.id, dpop: c.dpop === true }))
  }
  return { accessTtlMs, refreshTtlMs, graceMs, clockSkewMs, clients }
}

/** Which client asks, and the thumbprint of its DPoP key when it proved one. */
export interface TokenRequest {
  clientId: string
  jkt?: string | null
}

/** A token response (RFC 6749 sec. 5.1 names). */
export interface TokenResponse {
  access_token: string
  token_type: 'Bearer' | 'DPoP'
  /** Seconds until the access token expires. */
  expires_in: number
  refresh_token: string
}

const JKT = /^[A-Za-z0-9_-]{43}$/

/** The registered client `id`, or ERR_CLIENT_INVALID. */
export function clientOf(
  clients: ReadonlyMap<string, Readonly<TokenClient>>,
  id: unknown,
): Readonly<TokenClient> {
  const client = typeof id === 'string' ? clients.get(id) : undefined
  if (client === undefined) throw new ParleyError('ERR_CLIENT_INVALID')
  return client
}

/** The DPoP key thumbprint of a request: required for a DPoP client, well-formed when given. */
export function jktOf(client: Readonly<TokenClient>, jkt: unknown): string | null {
  if (jkt === undefined || jkt === null) {
    if (client.dpop) throw new ParleyError('ERR_DPOP_INVALID', 'this client must use DPoP')
    return null
  }
  if (typeof jkt !== 'string' || !JKT.test(jkt)) throw new ParleyError('ERR_DPOP_INVALID')
  return jkt
}

/**
 * The token response for a signed access token and its refresh token.
 *
 * @example
 * return tokenResponse(jwt, claims, refreshToken, clock.now())
 */
export function tokenResponse(
  access: string,
  claims: AccessTokenClaims,
  refresh: string,
  now: number,
): TokenResponse {
  return {
    access_token: access,
    token_type: claims.cnf === undefined ? 'Bearer' : 'DPoP',
    expires_in: Math.max(0, claims.exp - Math.floor(now / 1000)),
    refresh_token: refresh,
  }
}
