/**
 * @module Credential checks: the password and the second factor, behind the rate limits, with the
 * dummy hash for every kind of failure and an audit event for each (SEC-30, SEC-31, SEC-57).
 */
import type { Clock } from '../core/clock.ts'
import { isParleyError, ParleyError } from '../core/errors.ts'
import type { AuditLog, ClientContext } from './audit.ts'
import type { PasswordHasher } from './passwords.ts'
import { delayAfter, type RateLimiter } from './rate-limit.ts'
import { hashRecoveryCode } from './recovery-codes.ts'
import type { SecretBox } from './secret-box.ts'
import { verifyTotp } from './totp.ts'
import type { UserRecord, UserStore } from './user-store.ts'

/** What the credentials were checked for; recorded with each failure. */
export type Action = 'sign_in' | 'reauthenticate' | 'change_password' | 'disable_totp'

/** Why a check failed: in the audit trail only, never in the response. */
export type FailReason =
  | 'unknown_user'
  | 'bad_credentials'
  | 'locked'
  | 'disabled'
  | 'bad_totp'
  | 'totp_replay'
  | 'bad_recovery_code'

/**
 * One error for every failed sign-in, whatever the cause (SEC-30).
 *
 * @example
 * throw signInFailed()
 */
export function signInFailed(): ParleyError {
  return new ParleyError('ERR_SIGN_IN_FAILED')
}

function present(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

export interface CredentialDeps {
  users: UserStore
  hasher: PasswordHasher
  limiter: RateLimiter
  box: SecretBox
  clock: Clock
  audit: AuditLog
}

/**
 * Checks who is at the door.
 *
 * @example
 * const user = await check.password(name, await users.getUserByName(name), password, ctx, 'sign_in')
 * const factors = await check.secondFactor(name, user, { totp }, ctx, 'sign_in')
 */
export class CredentialCheck {
  readonly #d: CredentialDeps

  constructor(deps: CredentialDeps) {
    this.#d = deps
  }

  /**
   * Checks the password. An unknown user, a disabled one or a locked account still costs one
   * argon2id verification (of the dummy hash) and fails exactly like a wrong password.
   */
  async password(
    name: string | null,
    user: UserRecord | null,
    password: unknown,
    ctx: ClientContext,
    action: Action,
  ): Promise<UserRecord> {
    const { limiter } = this.#d
    return limiter.serialize(name, ctx.ip, async () => {
      await limiter.checkAddress(ctx.ip)
      const locked = (await limiter.accountWaitMs(name, ctx.ip)) > 0
      const usable = user !== null && !user.disabled && !locked
      const ok = await this.#d.hasher.verify(usable ? user.passwordHash : null, password)
      if (ok && user !== null) return user
      const reason: FailReason = locked
        ? 'locked'
        : user === null
          ? 'unknown_user'
          : user.disabled
            ? 'disabled'
            : 'bad_credentials'
      return this.fail(name, user, ctx, action, reason, !locked)
    })
  }

  /**
   * The second factor, when one is enrolled: TOTP (each step once, SEC-32) or, at sign-in, a
   * recovery code (each once, SEC-33). ERR_MFA_REQUIRED when neither was given.
   */
  async secondFactor(
    name: string | null,
    user: UserRecord,
    input: { totp?: string | undefined; recoveryCode?: string | undefined },
    ctx: ClientContext,
    action: Action,
  ): Promise<string[]> {
    if (user.totp === null || !user.totp.confirmed) return ['password']
    return this.#d.limiter.serialize(name, ctx.ip, () =>
      this.#secondFactor(name, user, input, ctx, action),
    )
  }

  async #secondFactor(
    name: string | null,
    user: UserRecord,
    input: { totp?: string | undefined; recoveryCode?: string | undefined },
    ctx: ClientContext,
    action: Action,
  ): Promise<string[]> {
    const { users, box, clock, limiter } = this.#d
    await limiter.checkAddress(ctx.ip)
    if ((await limiter.accountWaitMs(name, ctx.ip)) > 0) {
      return this.fail(name, user, ctx, action, 'locked', false)
    }
    if (user.totp === null) return ['password']
    if (present(input?.totp)) {
      const step = verifyTotp(box.open(user.totp.secretEnc, user.id), input.totp, clock)
      if (step !== null && (await users.useTotpStep(user.id, step))) return ['password', 'totp']
      return this.fail(name, user, ctx, action, step === null ? 'bad_totp' : 'totp_replay', true)
    }
    if (action === 'sign_in' && present(input?.recoveryCode)) {
      const hash = hashRecoveryCode(input.recoveryCode)
      if (hash !== null && (await users.useRecoveryCode(user.id, hash))) {
        return ['password', 'recovery_code']
      }
      return this.fail(name, user, ctx, action, 'bad_recovery_code', true)
    }
    throw new ParleyError('ERR_MFA_REQUIRED')
  }

  /** Counts the failure, records it (and a lock, the first time), and refuses like any other. */
  async fail(
    name: string | null,
    user: UserRecord | null,
    ctx: ClientContext,
    action: Action,
    reason: FailReason,
    countAccount: boolean,
  ): Promise<never> {
    const { limiter, audit } = this.#d
    const outcome = await limiter.recordFailure(name, ctx.ip, countAccount)
    const principal = user?.id ?? null
    await audit.write('auth.sign_in_failed', principal, ctx, { action, reason }, 'principal')
    const { addressLimit, baseDelayMs, maxDelayMs } = limiter.options
    const lock = (count: number, free: number) => ({
      failures: count,
      retryAfterSeconds: Math.ceil(delayAfter(count, free, baseDelayMs, maxDelayMs) / 1000),
    })
    if (outcome.accountLock !== null) {
      const { count, free } = outcome.accountLock
      const detail = { scope: 'account', ...lock(count, free) }
      await audit.write('auth.locked', principal, ctx, detail, 'system')
    }
    if (outcome.addressLocked && outcome.address !== null) {
      const detail = { scope: 'address', ...lock(outcome.address.count, addressLimit) }
      await audit.write('auth.locked', null, ctx, detail, 'system')
    }
    throw signInFailed()
  }

  /** After a successful check: forget the account's failures; rehash when parameters rose. */
  async succeeded(user: UserRecord, password: unknown, ctx: ClientContext = {}): Promise<void> {
    const { limiter, hasher, users, clock } = this.#d
    await limiter.clearAccount(user.username, ctx.ip)
    if (typeof password !== 'string' || !hasher.needsRehash(user.passwordHash)) return
    const passwordHash = await hasher.hash(password)
    try {
      await users.updateUser(user.id, user.version, { updatedAt: clock.now(), passwordHash })
    } catch (err) {
      // Someone changed the user meanwhile: the upgrade waits for the next sign-in.
      if (!isParleyError(err, 'ERR_VERSION_CONFLICT')) throw err
    }
  }
}
