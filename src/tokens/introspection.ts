/** @module Introspection answers (RFC 7662): the listed facts of an active token, nothing more (SEC-45). */
import type { Session } from '../core/session.ts'
import type { AccessTokenClaims } from './access.ts'
import type { RefreshRecord } from './token-store.ts'

/** An introspection answer: `{ active: false }` reveals nothing else. */
export type Introspection =
  | { active: false }
  | {
      active: true
      token_type: 'access_token' | 'refresh_token'
      sub: string
      sid: string
      client_id: string
      iss: string
      aud: string | string[]
      exp: number
      iat: number
      auth_level: number
      cnf?: { jkt: string }
    }

/** The one answer for every token that is not active, whatever the reason. */
export const INACTIVE: Introspection = Object.freeze({ active: false })

/**
 * The answer for an active refresh token of an active session.
 *
 * @example
 * return refreshIntrospection(record, session, issuer, audience)
 */
export function refreshIntrospection(
  record: RefreshRecord,
  session: Session,
  issuer: string,
  audience: string,
): Introspection {
  return {
    active: true,
    token_type: 'refresh_token',
    sub: session.principal,
    sid: session.id,
    client_id: record.clientId,
    iss: issuer,
    aud: audience,
    exp: Math.floor(record.expiresAt / 1000),
    iat: Math.floor(record.createdAt / 1000),
    auth_level: session.auth.level,
    ...(record.jkt === null ? {} : { cnf: { jkt: record.jkt } }),
  }
}

/**
 * The answer for a verified access token of an active session.
 *
 * @example
 * return accessIntrospection(await verifier.verify(token, skipDpop))
 */
export function accessIntrospection(claims: Readonly<AccessTokenClaims>): Introspection {
  return {
    active: true,
    token_type: 'access_token',
    sub: claims.sub,
    sid: claims.sid,
    client_id: claims.client_id,
    iss: claims.iss,
    aud: Array.isArray(claims.aud) ? [...claims.aud] : claims.aud,
    exp: claims.exp,
    iat: claims.iat,
    auth_level: claims.auth_level,
    ...(claims.cnf === undefined ? {} : { cnf: { jkt: claims.cnf.jkt } }),
  }
}
