/** @module Access tokens: the claims of an RFC 9068 JWT and their signature (`typ: at+jwt`). */
import { SignJWT } from 'jose'
import { newId } from '../core/token.ts'
import type { SigningKey } from './keys.ts'

/** The claims of a Parley access token. Nothing in them is secret. */
export interface AccessTokenClaims {
  iss: string
  aud: string | string[]
  /** The principal. */
  sub: string
  /** The session id: a token of an ended session is refused (SEC-41). */
  sid: string
  iat: number
  exp: number
  jti: string
  /** The session's assurance level when the token was minted. */
  auth_level: number
  client_id: string
  /** The DPoP key the token is bound to (RFC 9449), when it is. */
  cnf?: { jkt: string }
}

/** What an access token is minted from. */
export interface AccessTokenInput {
  issuer: string
  audience: string
  session: {
    id: string
    principal: string
    idleExpiresAt: number
    absoluteExpiresAt: number
    auth: { level: number }
  }
  clientId: string
  /** Thumbprint of the DPoP key to bind to; null or absent for a Bearer token. */
  jkt?: string | null
  /** Now, in ms (from the injected clock). */
  now: number
  ttlMs: number
  /** Explicit values reproduce an earlier token's claims exactly (the refresh grace window). */
  iat?: number
  exp?: number
  jti?: string
}

/**
 * The `iat` and `exp` (seconds) of a token minted at `now`: `exp` is the earlier of `now + ttlMs` and
 * the session's own expiry, so a token of a session that times out lapses with it.
 *
 * @example
 * const { iat, exp } = accessTimes(clock.now(), 300_000, session)
 */
export function accessTimes(
  now: number,
  ttlMs: number,
  session: AccessTokenInput['session'],
): { iat: number; exp: number } {
  const until = Math.min(now + ttlMs, session.idleExpiresAt, session.absoluteExpiresAt)
  return { iat: Math.floor(now / 1000), exp: Math.floor(until / 1000) }
}

/**
 * The claims of an access token, in a fixed order (so the same input always serialises alike).
 *
 * @example
 * const claims = accessClaims({ issuer, audience, session, clientId: 'app', now, ttlMs: 300_000 })
 */
export function accessClaims(input: AccessTokenInput): AccessTokenClaims {
  const times = accessTimes(input.now, input.ttlMs, input.session)
  const claims: AccessTokenClaims = {
    iss: input.issuer,
    aud: input.audience,
    sub: input.session.principal,
    sid: input.session.id,
    iat: input.iat ?? times.iat,
    exp: input.exp ?? times.exp,
    jti: input.jti ?? newId(),
    auth_level: input.session.auth.level,
    client_id: input.clientId,
  }
  if (typeof input.jkt === 'string') claims.cnf = { jkt: input.jkt }
  return claims
}

/**
 * Signs `claims` with `key`: header `{ alg, kid, typ: 'at+jwt' }`. Ed25519 signatures are
 * deterministic, so the same claims and key give the identical token.
 *
 * @example
 * const key = await ring.signingKey()
 * const jwt = await signAccessToken(key, accessClaims({ ...input }))
 */
export function signAccessToken(key: SigningKey, claims: AccessTokenClaims): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .sign(key.privateKey)
}
