/**
 * @module Issuing sessions for the door: establish with the user's privileges, rotate on every
 * change of privilege (SEC-07), end what a sign-in replaces, refresh privileges in place (SEC-36).
 */
import type { Clock } from '../core/clock.ts'
import { type ErrorCode, isParleyError, ParleyError } from '../core/errors.ts'
import type { AuthContext, EndReason, Session } from '../core/session.ts'
import type { Sessions } from '../core/sessions.ts'
import { actionContext, type ClientContext } from './audit.ts'
import { signInFailed } from './credentials.ts'
import type { UserRecord, UserStore } from './user-store.ts'
import { UPDATE_TRIES } from './user-updates.ts'

const STALE_TOKEN: ReadonlySet<ErrorCode> = new Set([
  'ERR_SESSION_INVALID',
  'ERR_SESSION_ENDED',
  'ERR_SESSION_NOT_FOUND',
])

/** 1 for one factor, 2 for two or more. */
function levelOf(factors: string[]): number {
  return Math.min(2, new Set(factors).size)
}

function sameList(a: string[] | undefined, b: string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i])
}

export interface Issued {
  session: Session
  /** The new token: give it to the client once. */
  token: string
  /** The user as read after the session was created. */
  user: UserRecord
}

/**
 * Creates, rotates and refreshes the sessions of signed-in users.
 *
 * @example
 * const issuer = new SessionIssuer(sessions, users, clock)
 * const { session, token } = await issuer.establish(user, ['password'], { ip })
 */
export class SessionIssuer {
  readonly #sessions: Sessions
  readonly #users: UserStore
  readonly #clock: Clock

  constructor(sessions: Sessions, users: UserStore, clock: Clock) {
    this.#sessions = sessions
    this.#users = users
    this.#clock = clock
  }

  /**
   * Creates a session with the user's roles and permissions in its auth context, then reads the
   * user again, so a disable or a privilege change that raced with this sign-in still applies.
   */
  async establish(
    user: UserRecord,
    factors: string[],
    ctx: ClientContext,
    extra: {
      authenticatedAt?: number
      data?: Record<string, unknown>
      idleTimeoutMs?: number
      absoluteTimeoutMs?: number
    } = {},
  ): Promise<Issued> {
    const auth: AuthContext = {
      factors,
      level: levelOf(factors),
      authenticatedAt: extra.authenticatedAt ?? this.#clock.now(),
      roles: [...user.roles],
      permissions: [...user.permissions],
    }
    const created = await this.#sessions.create({
      principal: user.id,
      auth,
      ip: ctx.ip ?? null,
      userAgent: ctx.userAgent ?? null,
      actor: 'principal',
      ...extra,
    })
    let session = created.session
    const fresh = await this.#users.getUser(user.id)
    if (fresh === null || fresh.disabled) {
      await this.#sessions.end(session.id, 'principal_disabled', actionContext(ctx, 'system'))
      throw signInFailed()
    }
    // Also covers a store whose create() does not keep roles and permissions.
    const { roles, permissions } = fresh
    if (!sameList(session.auth.roles, roles) || !sameList(session.auth.permissions, permissions)) {
      session = await this.#sessions.update(
        session.id,
        session.version,
        { auth: { ...session.auth, roles, permissions } },
        actionContext(ctx, 'system'),
      )
    }
    return { session, token: created.token, user: fresh }
  }

  /**
   * Replaces a session by a new one (new id and token, same principal and data) and ends it with
   * `rotated` (SEC-07); with `othersReason`, ends every other session of the principal too. The
   * new session keeps the old one's remaining lifetime unless this is a new authentication
   * (`authenticatedAt` given). ERR_SESSION_ENDED when the old one had already ended.
   */
  async rotate(
    old: Session,
    user: UserRecord,
    ctx: ClientContext,
    options: { factors: string[]; authenticatedAt?: number; othersReason?: EndReason },
  ): Promise<Issued & { othersEnded: number }> {
    const context = actionContext(ctx, 'principal')
    const ended = await this.#sessions.end(old.id, 'rotated', context)
    // The change that led here (a new password, a factor) is already saved: its other sessions end
    // even when the current one ended meanwhile (SEC-16), before anything can fail.
    const others =
      options.othersReason === undefined
        ? []
        : await this.#sessions.endByPrincipal(user.id, options.othersReason, context)
    if (!ended.ended) {
      const reason = ended.session.endReason
      throw new ParleyError('ERR_SESSION_ENDED', undefined, { details: { reason } })
    }
    const prev = ended.session
    const absolute =
      options.authenticatedAt !== undefined
        ? prev.absoluteExpiresAt - prev.createdAt
        : Math.max(1000, prev.absoluteExpiresAt - this.#clock.now())
    const made = await this.establish(user, options.factors, ctx, {
      authenticatedAt: options.authenticatedAt ?? prev.auth.authenticatedAt,
      data: prev.data,
      idleTimeoutMs: Math.max(1000, Math.min(prev.idleTimeoutMs, absolute)),
      absoluteTimeoutMs: absolute,
    })
    return { ...made, othersEnded: others.length }
  }

  /** Ends the session the client held before signing in (fixation defence, SEC-07). */
  async endReplaced(token: unknown, ctx: ClientContext): Promise<void> {
    if (typeof token !== 'string' || token.length === 0) return
    try {
      const old = await this.#sessions.validate(token, { touch: false })
      await this.#sessions.end(old.id, 'rotated', actionContext(ctx, 'principal'))
    } catch (err) {
      if (!(isParleyError(err) && STALE_TOKEN.has(err.code))) throw err
    }
  }

  /**
   * Writes new roles and permissions into a live session's auth context. A session that keeps
   * changing under us is ended (`privilege_changed`) rather than left with stale privileges.
   */
  async refreshPrivileges(
    s: Session,
    p: { roles: string[]; permissions: string[] },
    actor: string | null,
  ): Promise<void> {
    let current = s
    for (let attempt = 1; attempt <= UPDATE_TRIES; attempt++) {
      try {
        const auth = { ...current.auth, roles: p.roles, permissions: p.permissions }
        await this.#sessions.update(current.id, current.version, { auth }, { actor })
        return
      } catch (err) {
        if (isParleyError(err) && STALE_TOKEN.has(err.code)) return
        if (!isParleyError(err, 'ERR_VERSION_CONFLICT')) throw err
        current = await this.#sessions.get(current.id)
        if (current.state !== 'active') return
      }
    }
    await this.#sessions.end(current.id, 'privilege_changed', { actor })
  }
}
