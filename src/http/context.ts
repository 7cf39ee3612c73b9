/** @module What every adapter attaches to a request: the session (or null) and how it was presented. */
import type { EndReason, Session } from '../core/session.ts'

/**
 * How the credential came: the session cookie, `Authorization: Bearer plys_...`, an access token
 * (`Authorization: Bearer <jwt>` or `DPoP <jwt>`, when the adapter has a verifier), or none.
 */
export type Via = 'cookie' | 'bearer' | 'access_token' | null

/** The claims of a verified access token (docs/tokens.md); `cnf.jkt` when it is DPoP-bound. */
export interface AccessTokenClaims {
  readonly iss: string
  readonly aud: string | readonly string[]
  readonly sub: string
  readonly sid: string
  readonly iat: number
  readonly exp: number
  readonly jti: string
  readonly client_id: string
  readonly auth_level?: unknown
  readonly cnf?: { readonly jkt: string }
}

/** The request's session: Express `req.parley`, Fastify `request.parley`, Hono `c.get('parley')`. */
export interface ParleyContext {
  readonly session: Session | null
  readonly via: Via
  /** With `via: 'access_token'`: the token's verified claims; otherwise null or absent. */
  readonly claims?: AccessTokenClaims | null
}

/** A context whose session is present (what a passed `requireSession` guarantees). */
export interface AuthenticatedContext extends ParleyContext {
  readonly session: Session
  readonly via: 'cookie' | 'bearer' | 'access_token'
}

/**
 * The context as the HTTP core builds it. Beyond the public fields it remembers why a presented
 * cookie was refused, so that guards can answer ERR_SESSION_ENDED with the reason and the adapter
 * can clear a dead cookie.
 */
export class ResolvedContext implements ParleyContext {
  readonly session: Session | null
  readonly via: Via
  /** The presented cookie's session ended, for this reason. */
  readonly endReason: EndReason | null
  /** A cookie was presented and refused: the response deletes it. */
  readonly clearCookie: boolean
  readonly claims: AccessTokenClaims | null

  constructor(
    session: Session | null,
    via: Via,
    endReason: EndReason | null,
    clearCookie: boolean,
    claims: AccessTokenClaims | null = null,
  ) {
    this.session = session
    this.via = via
    this.endReason = endReason
    this.clearCookie = clearCookie
    this.claims = claims
  }
}

/** The context of a request that presented no credential: one frozen instance for all of them. */
export const ANONYMOUS: ResolvedContext = Object.freeze(
  new ResolvedContext(null, null, null, false),
)

/** A presented cookie that names no session (malformed, unknown, wrong secret). */
export const REFUSED_COOKIE: ResolvedContext = Object.freeze(
  new ResolvedContext(null, null, null, true),
)
