/** @module What every adapter attaches to a request: the session (or null) and how it was presented. */
import type { EndReason, Session } from '../core/session.ts'

/** How the credential came: the session cookie, `Authorization: Bearer`, or none. */
export type Via = 'cookie' | 'bearer' | null

/** The request's session: Express `req.parley`, Fastify `request.parley`, Hono `c.get('parley')`. */
export interface ParleyContext {
  readonly session: Session | null
  readonly via: Via
}

/** A context whose session is present (what a passed `requireSession` guarantees). */
export interface AuthenticatedContext extends ParleyContext {
  readonly session: Session
  readonly via: 'cookie' | 'bearer'
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

  constructor(
    session: Session | null,
    via: Via,
    endReason: EndReason | null,
    clearCookie: boolean,
  ) {
    this.session = session
    this.via = via
    this.endReason = endReason
    this.clearCookie = clearCookie
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
