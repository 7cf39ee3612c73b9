import { describe, expect, it } from 'vitest'
import { PASSWORD, rejection, setup, totpCode } from './helpers.ts'

const ctx = { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (audit)' }
const NEW_PASSWORD = 'another long passphrase'
const GUESS = 'hunter2hunter2'

describe('audit', () => {
  it('SEC-57: sign-in success and failure, lock, factor and privilege changes are events, and no secret is in any', async () => {
    const env = setup()
    const { auth, clock, store, allEvents } = env
    const secrets: string[] = [PASSWORD, NEW_PASSWORD, GUESS]
    const errors: Error[] = []
    const up = await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    secrets.push(up.token)
    const userId = up.user.id

    // failures (wrong password, unknown user) and a lock
    for (let i = 0; i < 5; i++) {
      errors.push(await rejection(() => auth.signIn({ username: 'ada', password: GUESS }, ctx)))
    }
    errors.push(await rejection(() => auth.signIn({ username: 'mallory', password: GUESS }, ctx)))
    clock.advance(1000)

    // success, then TOTP enrolment (a factor change)
    const signed = await auth.signIn({ username: 'ada', password: PASSWORD }, ctx)
    secrets.push(signed.token)
    const { secret } = await auth.beginTotp(signed.session)
    const code = totpCode(secret, clock.now())
    const on = await auth.confirmTotp(signed.session, code, ctx)
    secrets.push(secret, code, on.token, ...on.recoveryCodes)
    clock.advance(30_000)
    const code2 = totpCode(secret, clock.now())
    const mfa = await auth.signIn({ username: 'ada', password: PASSWORD, totp: code2 }, ctx)
    secrets.push(code2, mfa.token)
    errors.push(
      await rejection(() => auth.signIn({ username: 'ada', password: PASSWORD, totp: code2 }, ctx)),
    )
    const recovery = await auth.signIn(
      { username: 'ada', password: PASSWORD, recoveryCode: on.recoveryCodes[0] },
      ctx,
    )
    secrets.push(recovery.token)
    const regenerated = await auth.regenerateRecoveryCodes(recovery.session, ctx)
    secrets.push(...regenerated)
    clock.advance(30_000)
    const code3 = totpCode(secret, clock.now())
    const again = await auth.reauthenticate(
      recovery.session,
      { password: PASSWORD, totp: code3 },
      ctx,
    )
    secrets.push(code3, again.token)
    const changed = await auth.changePassword(
      again.session,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      ctx,
    )
    secrets.push(changed.token)
    await auth.setPrivileges(userId, { roles: ['admin'], permissions: ['all'] }, 'cli')
    await auth.disableUser(userId, 'cli')

    const events = await allEvents(userId)
    const types = new Set(events.map((e) => e.type))
    for (const type of [
      'user.created',
      'auth.sign_in',
      'auth.sign_in_failed',
      'auth.locked',
      'auth.factor_changed',
      'auth.reauthenticated',
      'auth.password_changed',
      'user.privileges_changed',
      'user.disabled',
      'session.created',
      'session.ended',
    ]) {
      expect(types, type).toContain(type)
    }

    const byType = (type: string) => events.filter((e) => e.type === type)
    const success = byType('auth.sign_in').find((e) => e.sessionId === mfa.session.id)!
    expect(success).toMatchObject({
      at: expect.any(Number),
      principal: userId,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
      detail: { factors: ['password', 'totp'], level: 2 },
    })
    const failures = byType('auth.sign_in_failed').map((e) => [e.principal, e.detail])
    expect(failures).toContainEqual([userId, { action: 'sign_in', reason: 'bad_credentials' }])
    expect(failures).toContainEqual([null, { action: 'sign_in', reason: 'unknown_user' }])
    expect(failures).toContainEqual([userId, { action: 'sign_in', reason: 'totp_replay' }])
    expect(byType('auth.locked')[0]).toMatchObject({ principal: userId, ip: ctx.ip })
    expect(byType('auth.factor_changed').map((e) => e.detail)).toEqual([
      { factor: 'totp', change: 'enabled', sessionsEnded: 1 },
      { factor: 'recovery_codes', change: 'regenerated' },
    ])
    expect(byType('user.privileges_changed')[0]).toMatchObject({
      principal: userId,
      actor: 'cli',
      detail: { roles: ['admin'], permissions: ['all'] },
    })

    // no secret anywhere: not in the events, not in the errors the client saw
    const dump = JSON.stringify(events)
    const messages = JSON.stringify(
      errors.map((e) => [e.message, (e as { details?: unknown }).details]),
    )
    for (const s of secrets) {
      const forms = [s, s.replaceAll('-', ''), s.split('.').at(-1)!]
      for (const form of forms) {
        // A 6-digit TOTP code is looked for as a number of its own, not inside a timestamp or id
        // (where "004213" turns up by chance now and then).
        const found = /^\d+$/.test(form)
          ? (text: string) => new RegExp(`(^|\\D)${form}(\\D|$)`).test(text)
          : (text: string) => text.includes(form)
        expect(found(dump), `event dump holds a secret (${s.slice(0, 4)}...)`).toBe(false)
        expect(found(messages)).toBe(false)
      }
    }
    expect(store.appended.length).toBeGreaterThan(10)
  })
})
