/**
 * @module Auth: who is at the door. Sign-up and sign-in (password, TOTP, recovery codes), step-up,
 * factor and privilege changes, each ending or rotating the sessions it must.
 */
import type { Clock } from '../core/clock.ts'
import { type ErrorCode, isParleyError, ParleyError } from '../core/errors.ts'
import type { Session } from '../core/session.ts'
import type { Sessions } from '../core/sessions.ts'
import { newId } from '../core/token.ts'
import { AuditLog, actionContext, type ClientContext } from './audit.ts'
import type {
  AuthOptions,
  Privileges,
  Rotated,
  SignedIn,
  SignInInput,
  SignUpInput,
  TotpEnrolment,
} from './auth-types.ts'
import { CredentialCheck } from './credentials.ts'
import { PasswordHasher, PasswordPolicy } from './passwords.ts'
import { type PublicUser, toPublicUser } from './public-user.ts'
import { RateLimiter } from './rate-limit.ts'
import { SecretBox } from './secret-box.ts'
import { SessionIssuer } from './session-issuer.ts'
import { TotpFactor } from './totp-factor.ts'
import type { UserPatch, UserRecord, UserStore } from './user-store.ts'
import { checkNames, mutateUser } from './user-updates.ts'
import { canonicalUsername, normalizeUsername } from './username.ts'

export type {
  AuthOptions,
  Privileges,
  Rotated,
  SignedIn,
  SignInInput,
  SignUpInput,
  TotpEnrolment,
} from './auth-types.ts'

export const DEFAULT_STEP_UP_WINDOW_MS = 10 * 60_000
const SIGN_UP_FAILURES: ReadonlySet<ErrorCode> = new Set([
  'ERR_VALIDATION',
  'ERR_USER_EXISTS',
  'ERR_PASSWORD_POLICY',
  'ERR_PASSWORD_BREACHED',
])

/**
 * The door: sign-up, sign-in and everything that changes how a principal proves who it is.
 *
 * @example
 * const auth = new Auth({ users: new MemoryUserStore(), sessions, secret: serverSecret })
 * const { token } = await auth.signUp({ username: 'ada', password: 'correct horse' }, { ip })
 * const { session } = await auth.signIn({ username: 'ada', password: 'correct horse' }, { ip })
 */
export class Auth {
  readonly users: UserStore
  readonly sessions: Sessions
  readonly clock: Clock
  readonly hasher: PasswordHasher
  readonly policy: PasswordPolicy
  readonly limiter: RateLimiter
  readonly stepUpWindowMs: number
  readonly totpIssuer: string
  readonly allowSignUp: boolean
  readonly #box: SecretBox
  readonly #audit: AuditLog
  readonly #check: CredentialCheck
  readonly #issuer: SessionIssuer
  readonly #totp: TotpFactor

  constructor(options: AuthOptions) {
    this.users = options.users
    this.sessions = options.sessions
    this.clock = options.clock ?? options.sessions.clock
    this.hasher = new PasswordHasher(options.password)
    this.policy = new PasswordPolicy(options.password)
    this.limiter = new RateLimiter(this.users, this.clock, options.limits)
    this.#box = new SecretBox(options.secret)
    this.stepUpWindowMs = options.stepUpWindowMs ?? DEFAULT_STEP_UP_WINDOW_MS
    if (!Number.isInteger(this.stepUpWindowMs) || this.stepUpWindowMs < 1000) {
      throw new ParleyError('ERR_CONFIG_INVALID', 'stepUpWindowMs must be an integer >= 1000')
    }
    this.totpIssuer = options.totpIssuer ?? 'Parley'
    if (!/^[^:\p{Cc}]{1,64}$/u.test(this.totpIssuer)) {
      throw new ParleyError('ERR_CONFIG_INVALID', 'totpIssuer must be 1 to 64 characters, no colon')
    }
    this.allowSignUp = options.allowSignUp ?? true
    this.#audit = new AuditLog(this.sessions.store, this.clock)
    this.#check = new CredentialCheck({
      users: this.users,
      hasher: this.hasher,
      limiter: this.limiter,
      box: this.#box,
      clock: this.clock,
      audit: this.#audit,
    })
    this.#issuer = new SessionIssuer(this.sessions, this.users, this.clock)
    this.#totp = new TotpFactor({
      users: this.users,
      clock: this.clock,
      box: this.#box,
      issuer: this.#issuer,
      audit: this.#audit,
      issuerName: this.totpIssuer,
    })
  }

  /**
   * Creates a user with one password and signs it in. Failures count against the address limit.
   *
   * @example
   * const { user, token } = await auth.signUp({ username: 'ada', password: 'correct horse' }, { ip })
   */
  async signUp(input: SignUpInput, ctx: ClientContext = {}): Promise<SignedIn> {
    await this.limiter.checkAddress(ctx.ip)
    if (!this.allowSignUp) throw new ParleyError('ERR_FORBIDDEN', 'Sign-up is closed')
    let record: UserRecord
    try {
      record = await this.#newUser(input?.username, input?.password, null, ctx, 'principal')
    } catch (err) {
      if (isParleyError(err) && SIGN_UP_FAILURES.has(err.code)) {
        await this.limiter.recordFailure(null, ctx.ip)
      }
      throw err
    }
    await this.#issuer.endReplaced(input?.replaces, ctx)
    const made = await this.#issuer.establish(record, ['password'], ctx)
    const detail = { factors: made.session.auth.factors, level: made.session.auth.level }
    await this.#audit.write('auth.sign_in', record.id, ctx, detail, 'principal', made.session.id)
    return { user: toPublicUser(made.user), session: made.session, token: made.token }
  }

  /**
   * Creates a user without signing in (an administrator's action: `parley users create`), with
   * optional roles and permissions. The same username and password rules as sign-up apply.
   *
   * @example
   * const user = await auth.createUser({ username: 'ops', password, roles: ['admin'] }, 'cli')
   */
  async createUser(
    input: { username: string; password: string } & Partial<Privileges>,
    actor: string | null = null,
  ): Promise<PublicUser> {
    const privileges =
      input.roles !== undefined || input.permissions !== undefined
        ? {
            roles: checkNames('roles', input.roles ?? []),
            permissions: checkNames('permissions', input.permissions ?? []),
          }
        : null
    return toPublicUser(await this.#newUser(input.username, input.password, privileges, {}, actor))
  }

  async #newUser(
    rawUsername: unknown,
    rawPassword: unknown,
    privileges: Privileges | null,
    ctx: ClientContext,
    actor: string | null,
  ): Promise<UserRecord> {
    const username = normalizeUsername(rawUsername)
    const password = await this.policy.check(rawPassword)
    if ((await this.users.getUserByName(username)) !== null) {
      throw new ParleyError('ERR_USER_EXISTS')
    }
    const now = this.clock.now()
    const record: UserRecord = {
      id: newId(),
      username,
      passwordHash: await this.hasher.hash(password),
      roles: privileges ? [...privileges.roles] : [],
      permissions: privileges ? [...privileges.permissions] : [],
      disabled: false,
      totp: null,
      recoveryCodes: [],
      createdAt: now,
      updatedAt: now,
      version: 1,
    }
    await this.users.createUser(record)
    await this.#audit.write('user.created', record.id, ctx, { username }, actor)
    return record
  }

  /** The user with this username (normalised as at sign-up). Throws ERR_USER_NOT_FOUND. */
  async getUserByName(username: string): Promise<PublicUser> {
    const user = await this.users.getUserByName(normalizeUsername(username))
    if (user === null) throw new ParleyError('ERR_USER_NOT_FOUND')
    return toPublicUser(user)
  }

  /**
   * Signs in with a password and, when enrolled, a TOTP code or a recovery code. Every failure is
   * the same ERR_SIGN_IN_FAILED (SEC-30); a throttled address gets ERR_RATE_LIMITED; a right
   * password without the enrolled second factor gets ERR_MFA_REQUIRED.
   *
   * @example
   * const { session, token } = await auth.signIn({ username, password, totp, replaces: oldToken }, { ip, userAgent })
   */
  async signIn(input: SignInInput, ctx: ClientContext = {}): Promise<SignedIn> {
    await this.limiter.checkAddress(ctx.ip)
    const name = canonicalUsername(input?.username)
    const user = name === null ? null : await this.users.getUserByName(name)
    const password = input?.password
    const verified = await this.#check.password(name, user, password, ctx, 'sign_in')
    const factors = await this.#check.secondFactor(name, verified, input, ctx, 'sign_in')
    await this.#check.succeeded(verified, password, ctx)
    await this.#issuer.endReplaced(input?.replaces, ctx)
    const made = await this.#issuer.establish(verified, factors, ctx)
    const { factors: f, level } = made.session.auth
    await this.#audit.write(
      'auth.sign_in',
      verified.id,
      ctx,
      { factors: f, level },
      'principal',
      made.session.id,
    )
    return { user: toPublicUser(made.user), session: made.session, token: made.token }
  }

  /**
   * Ends a session (sign-out). False when it had already ended.
   *
   * @example
   * await auth.signOut(session.id, { ip })
   */
  async signOut(sessionId: string, ctx: ClientContext = {}): Promise<boolean> {
    return (await this.sessions.end(sessionId, 'logout', actionContext(ctx, 'principal'))).ended
  }

  /**
   * Throws ERR_REAUTH_REQUIRED when the session's last authentication is older than the step-up
   * window (SEC-34).
   *
   * @example
   * auth.requireRecentAuth(session) // before a sensitive action
   */
  requireRecentAuth(session: Session): void {
    if (this.clock.now() - session.auth.authenticatedAt > this.stepUpWindowMs) {
      throw new ParleyError('ERR_REAUTH_REQUIRED', undefined, {
        details: { maxAgeSeconds: Math.floor(this.stepUpWindowMs / 1000) },
      })
    }
  }

  /**
   * Proves it is still the principal (password, and TOTP when enrolled); issues a new session with
   * a fresh authentication time and ends the old one with `rotated` (SEC-07).
   *
   * @example
   * const { session, token } = await auth.reauthenticate(session, { password, totp }, ctx)
   */
  async reauthenticate(
    session: Session,
    input: { password: string; totp?: string },
    ctx: ClientContext = {},
  ): Promise<Rotated> {
    await this.limiter.checkAddress(ctx.ip)
    const user = await this.#userOf(session)
    const verified = await this.#check.password(
      user.username,
      user,
      input?.password,
      ctx,
      'reauthenticate',
    )
    const factors = await this.#check.secondFactor(
      user.username,
      verified,
      { totp: input?.totp },
      ctx,
      'reauthenticate',
    )
    await this.#check.succeeded(verified, input?.password, ctx)
    const made = await this.#issuer.rotate(session, verified, ctx, {
      factors,
      authenticatedAt: this.clock.now(),
    })
    await this.#audit.write(
      'auth.reauthenticated',
      user.id,
      ctx,
      { factors, previousSessionId: session.id },
      'principal',
      made.session.id,
    )
    return { session: made.session, token: made.token }
  }

  /**
   * Changes the password: needs a recent authentication and the current password; ends every
   * other session (`password_changed`, SEC-16) and rotates this one.
   *
   * @example
   * const { token } = await auth.changePassword(session, { currentPassword, newPassword }, ctx)
   */
  async changePassword(
    session: Session,
    input: { currentPassword: string; newPassword: string },
    ctx: ClientContext = {},
  ): Promise<Rotated> {
    this.requireRecentAuth(session)
    await this.limiter.checkAddress(ctx.ip)
    const user = await this.#userOf(session)
    const next = await this.policy.check(input?.newPassword)
    await this.#check.password(user.username, user, input?.currentPassword, ctx, 'change_password')
    await this.limiter.clearAccount(user.username, ctx.ip)
    const passwordHash = await this.hasher.hash(next)
    const updated = await this.#mutate(user.id, () => ({ passwordHash }))
    const made = await this.#issuer.rotate(session, updated, ctx, {
      factors: session.auth.factors,
      othersReason: 'password_changed',
    })
    const detail = { sessionsEnded: made.othersEnded }
    await this.#audit.write(
      'auth.password_changed',
      user.id,
      ctx,
      detail,
      'principal',
      made.session.id,
    )
    return { session: made.session, token: made.token }
  }

  /**
   * Starts TOTP enrolment (needs a recent authentication): a new secret, stored encrypted and
   * unconfirmed until {@link Auth.confirmTotp}. ERR_TOTP_STATE when TOTP is already on.
   *
   * @example
   * const { secret, uri, qrSvg } = await auth.beginTotp(session)
   */
  async beginTotp(session: Session): Promise<TotpEnrolment> {
    this.requireRecentAuth(session)
    return this.#totp.begin(session.principal)
  }

  /**
   * Confirms enrolment with a code from the app. Returns the recovery codes (shown once) and a new
   * session at level 2; the old one is rotated and every other one ends (`factor_changed`).
   *
   * @example
   * const { recoveryCodes, token } = await auth.confirmTotp(session, '492039', ctx)
   */
  async confirmTotp(
    session: Session,
    code: string,
    ctx: ClientContext = {},
  ): Promise<Rotated & { recoveryCodes: string[] }> {
    return this.#totp.confirm(await this.#userOf(session), session, code, ctx)
  }

  /**
   * Removes TOTP and the recovery codes: needs a recent authentication and the password; ends
   * every other session (`factor_changed`) and rotates this one.
   *
   * @example
   * const { token } = await auth.disableTotp(session, { password }, ctx)
   */
  async disableTotp(
    session: Session,
    input: { password: string },
    ctx: ClientContext = {},
  ): Promise<Rotated> {
    this.requireRecentAuth(session)
    await this.limiter.checkAddress(ctx.ip)
    const user = await this.#userOf(session)
    if (user.totp === null) throw new ParleyError('ERR_TOTP_STATE')
    await this.#check.password(user.username, user, input?.password, ctx, 'disable_totp')
    await this.limiter.clearAccount(user.username, ctx.ip)
    return this.#totp.disable(user, session, ctx)
  }

  /**
   * Replaces every recovery code with a new set (needs a recent authentication and TOTP on).
   * The codes are returned once and only their hashes are kept (SEC-33).
   *
   * @example
   * const codes = await auth.regenerateRecoveryCodes(session, ctx)
   */
  async regenerateRecoveryCodes(session: Session, ctx: ClientContext = {}): Promise<string[]> {
    this.requireRecentAuth(session)
    return this.#totp.regenerate(session, ctx)
  }

  /**
   * Ends every other session of the principal (`revoked`); needs a recent authentication (SEC-18).
   *
   * @example
   * const ended = await auth.endOtherSessions(session, ctx)
   */
  async endOtherSessions(session: Session, ctx: ClientContext = {}): Promise<number> {
    this.requireRecentAuth(session)
    const context = actionContext(ctx, 'principal')
    const ended = await this.sessions.endByPrincipal(
      session.principal,
      'revoked',
      context,
      session.id,
    )
    return ended.length
  }

  /**
   * The principal's own active sessions, most recently used first (SEC-37).
   *
   * @example
   * const mine = await auth.listSessions(session)
   */
  listSessions(session: Session): Promise<Session[]> {
    return this.sessions.list(session.principal)
  }

  /**
   * Ends one of the principal's own sessions: `logout` for the current one, else `revoked`.
   * Another principal's session id gets ERR_SESSION_NOT_FOUND, exactly as an unknown id (SEC-37).
   *
   * @example
   * await auth.endOwnSession(session, otherDeviceSessionId, ctx)
   */
  async endOwnSession(session: Session, id: string, ctx: ClientContext = {}): Promise<boolean> {
    // Unknown, malformed and foreign ids all end in the same ERR_SESSION_NOT_FOUND.
    if (typeof id !== 'string') throw new ParleyError('ERR_SESSION_NOT_FOUND')
    const target = await this.sessions.get(id)
    if (target.principal !== session.principal) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    const reason = id === session.id ? 'logout' : 'revoked'
    return (await this.sessions.end(id, reason, actionContext(ctx, 'principal'))).ended
  }

  /**
   * Replaces a user's roles and permissions and refreshes them in every active session of the
   * principal, so a removed role stops granting at once (SEC-36).
   *
   * @example
   * await auth.setPrivileges(userId, { roles: ['admin'], permissions: ['billing:read'] }, 'cli')
   */
  async setPrivileges(
    userId: string,
    privileges: Privileges,
    actor: string | null = null,
  ): Promise<PublicUser> {
    const roles = checkNames('roles', privileges?.roles)
    const permissions = checkNames('permissions', privileges?.permissions)
    const updated = await this.#mutate(userId, () => ({ roles, permissions }))
    for (const s of await this.sessions.list(userId)) {
      await this.#issuer.refreshPrivileges(s, { roles, permissions }, actor)
    }
    await this.#audit.write('user.privileges_changed', userId, {}, { roles, permissions }, actor)
    return toPublicUser(updated)
  }

  /**
   * Disables a user: it cannot sign in, and all its sessions end (`principal_disabled`, SEC-15).
   *
   * @example
   * const { sessionsEnded } = await auth.disableUser(userId, 'cli')
   */
  async disableUser(
    userId: string,
    actor: string | null = null,
  ): Promise<{ user: PublicUser; sessionsEnded: number }> {
    const updated = await this.#mutate(userId, () => ({ disabled: true }))
    const ended = await this.sessions.endByPrincipal(userId, 'principal_disabled', { actor })
    const detail = { disabled: true, sessionsEnded: ended.length }
    await this.#audit.write('user.disabled', userId, {}, detail, actor)
    return { user: toPublicUser(updated), sessionsEnded: ended.length }
  }

  /**
   * Lets a disabled user sign in again (recorded as `user.enabled`).
   *
   * @example
   * await auth.enableUser(userId, 'cli')
   */
  async enableUser(userId: string, actor: string | null = null): Promise<PublicUser> {
    const updated = await this.#mutate(userId, () => ({ disabled: false }))
    await this.#audit.write('user.enabled', userId, {}, null, actor)
    return toPublicUser(updated)
  }

  /**
   * A user's public view; ERR_USER_NOT_FOUND when there is none.
   *
   * @example
   * const { username, totpEnabled } = await auth.getUser(session.principal)
   */
  async getUser(id: string): Promise<PublicUser> {
    const user = typeof id === 'string' ? await this.users.getUser(id) : null
    if (user === null) throw new ParleyError('ERR_USER_NOT_FOUND')
    return toPublicUser(user)
  }

  /** The user behind a session; a disabled one has no live sessions. */
  async #userOf(session: Session): Promise<UserRecord> {
    const user = await this.users.getUser(session.principal)
    if (user === null) throw new ParleyError('ERR_USER_NOT_FOUND')
    if (user.disabled) {
      throw new ParleyError('ERR_SESSION_ENDED', undefined, {
        details: { reason: 'principal_disabled' },
      })
    }
    return user
  }

  #mutate(id: string, patch: (user: UserRecord) => Omit<UserPatch, 'updatedAt'>) {
    return mutateUser(this.users, this.clock, id, patch)
  }
}
