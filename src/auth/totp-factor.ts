/**
 * @module The TOTP factor's life: enrol (secret sealed at rest), confirm with a code, disable, and
 * the recovery codes that come with it (SEC-32, SEC-33). Each change rotates the session (SEC-07)
 * and ends the principal's other sessions (SEC-16).
 */
import type { Clock } from '../core/clock.ts'
import { ParleyError } from '../core/errors.ts'
import type { Session } from '../core/session.ts'
import type { AuditLog, ClientContext } from './audit.ts'
import type { Rotated, TotpEnrolment } from './auth-types.ts'
import { generateRecoveryCodes } from './recovery-codes.ts'
import type { SecretBox } from './secret-box.ts'
import type { SessionIssuer } from './session-issuer.ts'
import { newTotpSecret, totpQrSvg, totpUri, verifyTotp } from './totp.ts'
import type { UserPatch, UserRecord, UserStore } from './user-store.ts'
import { mutateUser } from './user-updates.ts'

export interface TotpFactorDeps {
  users: UserStore
  clock: Clock
  box: SecretBox
  issuer: SessionIssuer
  audit: AuditLog
  /** The issuer name authenticator apps show. */
  issuerName: string
}

function state(): ParleyError {
  return new ParleyError('ERR_TOTP_STATE')
}

/**
 * TOTP enrolment and removal for one user at a time. Callers check recent authentication and,
 * for removal, the password first.
 *
 * @example
 * const { secret, uri, qrSvg } = await totp.begin(userId)
 */
export class TotpFactor {
  readonly #d: TotpFactorDeps

  constructor(deps: TotpFactorDeps) {
    this.#d = deps
  }

  /** A new secret, stored sealed and unconfirmed. ERR_TOTP_STATE when TOTP is already on. */
  async begin(userId: string): Promise<TotpEnrolment> {
    const { box, clock, issuerName } = this.#d
    const secret = newTotpSecret()
    const user = await this.#mutate(userId, (u) => {
      if (u.totp?.confirmed) throw state()
      const sealed = box.seal(secret, u.id)
      return {
        totp: { secretEnc: sealed, confirmed: false, enrolledAt: clock.now(), lastUsedStep: 0 },
      }
    })
    const uri = totpUri({ secret, issuer: issuerName, username: user.username })
    return { secret, uri, qrSvg: await totpQrSvg(uri) }
  }

  /** Confirms with a code (ERR_TOTP_INVALID); returns the recovery codes and a level-2 session. */
  async confirm(
    user: UserRecord,
    session: Session,
    code: unknown,
    ctx: ClientContext,
  ): Promise<Rotated & { recoveryCodes: string[] }> {
    const { users, box, clock, issuer } = this.#d
    const pending = user.totp
    if (pending === null || pending.confirmed) throw state()
    const step = verifyTotp(box.open(pending.secretEnc, user.id), code, clock)
    if (step === null || !(await users.useTotpStep(user.id, step))) {
      throw new ParleyError('ERR_TOTP_INVALID')
    }
    const { codes, hashes } = generateRecoveryCodes()
    const updated = await this.#mutate(user.id, (u) => {
      if (u.totp === null || u.totp.confirmed || u.totp.secretEnc !== pending.secretEnc) {
        throw state()
      }
      const lastUsedStep = Math.max(step, u.totp.lastUsedStep)
      return { totp: { ...u.totp, confirmed: true, lastUsedStep }, recoveryCodes: hashes }
    })
    const made = await issuer.rotate(session, updated, ctx, {
      factors: [...new Set([...session.auth.factors, 'totp'])],
      othersReason: 'factor_changed',
    })
    await this.#changed(made.session, ctx, {
      factor: 'totp',
      change: 'enabled',
      sessionsEnded: made.othersEnded,
    })
    return { recoveryCodes: codes, session: made.session, token: made.token }
  }

  /** Removes TOTP (confirmed or pending) and the recovery codes; rotates the session. */
  async disable(user: UserRecord, session: Session, ctx: ClientContext): Promise<Rotated> {
    const updated = await this.#mutate(user.id, (u) => {
      if (u.totp === null) throw state()
      return { totp: null, recoveryCodes: [] }
    })
    const kept = session.auth.factors.filter((f) => f !== 'totp' && f !== 'recovery_code')
    const made = await this.#d.issuer.rotate(session, updated, ctx, {
      factors: kept.length > 0 ? kept : ['password'],
      othersReason: 'factor_changed',
    })
    await this.#changed(made.session, ctx, {
      factor: 'totp',
      change: 'disabled',
      sessionsEnded: made.othersEnded,
    })
    return { session: made.session, token: made.token }
  }

  /** A new set of recovery codes replacing every old one; ERR_TOTP_STATE unless TOTP is on. */
  async regenerate(session: Session, ctx: ClientContext): Promise<string[]> {
    const { codes, hashes } = generateRecoveryCodes()
    await this.#mutate(session.principal, (u) => {
      if (u.totp?.confirmed !== true) throw state()
      return { recoveryCodes: hashes }
    })
    await this.#changed(session, ctx, { factor: 'recovery_codes', change: 'regenerated' })
    return codes
  }

  #changed(session: Session, ctx: ClientContext, detail: Record<string, unknown>): Promise<void> {
    const { audit } = this.#d
    return audit.write(
      'auth.factor_changed',
      session.principal,
      ctx,
      detail,
      'principal',
      session.id,
    )
  }

  #mutate(id: string, patch: (user: UserRecord) => Omit<UserPatch, 'updatedAt'>) {
    return mutateUser(this.#d.users, this.#d.clock, id, patch)
  }
}
