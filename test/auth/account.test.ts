import { describe, expect, it } from 'vitest'
import { PASSWORD, rejection, setup, totpCode, wire } from './helpers.ts'

const ctx = { ip: '203.0.113.9', userAgent: 'test-agent' }
const STEP_UP = 10 * 60_000
const NEW_PASSWORD = 'a new and better passphrase'

/** ada signed in on three devices. */
async function threeDevices(env: ReturnType<typeof setup>) {
  const up = await env.auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
  const phone = await env.auth.signIn({ username: 'ada', password: PASSWORD }, ctx)
  const laptop = await env.auth.signIn({ username: 'ada', password: PASSWORD }, ctx)
  return { userId: up.user.id, first: up, phone, laptop }
}

describe('step-up and rotation', () => {
  it('SEC-16: a password change still ends every other session when the current one ended mid-request', async () => {
    const env = setup()
    const { auth, sessions } = env
    const { laptop, phone } = await threeDevices(env)
    // an attacker holding the phone ends the laptop's session just before its change lands
    await auth.endOwnSession(phone.session, laptop.session.id, ctx)
    const err = await rejection(() =>
      auth.changePassword(
        laptop.session,
        { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
        ctx,
      ),
    )
    expect(err.code).toBe('ERR_SESSION_ENDED')
    const phoneNow = await sessions.get(phone.session.id)
    expect(phoneNow).toMatchObject({ state: 'ended', endReason: 'password_changed' })
    expect((await sessions.list(laptop.session.principal)).length).toBe(0)
  })

  it('SEC-34: sensitive actions need an authentication younger than the step-up window', async () => {
    const env = setup()
    const { auth, clock } = env
    const { laptop } = await threeDevices(env)
    auth.requireRecentAuth(laptop.session)
    clock.advance(STEP_UP + 1)
    const actions = [
      () =>
        auth.changePassword(laptop.session, {
          currentPassword: PASSWORD,
          newPassword: NEW_PASSWORD,
        }),
      () => auth.endOtherSessions(laptop.session),
      () => auth.beginTotp(laptop.session),
      () => auth.disableTotp(laptop.session, { password: PASSWORD }),
      () => auth.regenerateRecoveryCodes(laptop.session),
    ]
    for (const action of actions) {
      const err = await rejection(action)
      expect(err.code).toBe('ERR_REAUTH_REQUIRED')
      expect(err.status).toBe(401)
      expect(err.details).toEqual({ maxAgeSeconds: 600 })
    }
    const again = await auth.reauthenticate(laptop.session, { password: PASSWORD }, ctx)
    expect(again.session.auth.authenticatedAt).toBe(clock.now())
    auth.requireRecentAuth(again.session)
    await auth.changePassword(
      again.session,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      ctx,
    )
  })

  it('SEC-07: re-authentication issues a new session id (same principal and data) and ends the old one', async () => {
    const env = setup()
    const { auth, sessions, clock } = env
    const { laptop, userId } = await threeDevices(env)
    const withData = await sessions.update(laptop.session.id, laptop.session.version, {
      data: { cart: 3 },
    })
    clock.advance(STEP_UP + 1)
    const wrong = await rejection(() =>
      auth.reauthenticate(withData, { password: 'wrong password' }, ctx),
    )
    expect(wrong.code).toBe('ERR_SIGN_IN_FAILED')
    const { session, token } = await auth.reauthenticate(withData, { password: PASSWORD }, ctx)
    expect(session.id).not.toBe(laptop.session.id)
    expect(session.principal).toBe(userId)
    expect(session.data).toEqual({ cart: 3 })
    expect((await sessions.validate(token)).id).toBe(session.id)
    const old = await rejection(() => sessions.validate(laptop.token))
    expect(old.details).toEqual({ reason: 'rotated' })
    // the old session cannot be re-authenticated a second time
    const twice = await rejection(() => auth.reauthenticate(withData, { password: PASSWORD }, ctx))
    expect(twice.code).toBe('ERR_SESSION_ENDED')
  })

  it('SEC-07, SEC-16: a password change ends every other session and rotates the current one', async () => {
    const env = setup()
    const { auth, sessions } = env
    const { first, phone, laptop } = await threeDevices(env)
    const wrong = await rejection(() =>
      auth.changePassword(
        laptop.session,
        { currentPassword: 'not it at all', newPassword: NEW_PASSWORD },
        ctx,
      ),
    )
    expect(wrong.code).toBe('ERR_SIGN_IN_FAILED')
    const result = await auth.changePassword(
      laptop.session,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      ctx,
    )
    expect(result.session.id).not.toBe(laptop.session.id)
    expect((await sessions.validate(result.token)).id).toBe(result.session.id)
    for (const other of [first, phone]) {
      const err = await rejection(() => sessions.validate(other.token))
      expect(err.details).toEqual({ reason: 'password_changed' })
    }
    expect((await rejection(() => sessions.validate(laptop.token))).details).toEqual({
      reason: 'rotated',
    })
    const old = await rejection(() => auth.signIn({ username: 'ada', password: PASSWORD }, ctx))
    expect(old.code).toBe('ERR_SIGN_IN_FAILED')
    await auth.signIn({ username: 'ada', password: NEW_PASSWORD }, ctx)
  })

  it('SEC-07, SEC-16: enabling or disabling TOTP rotates the session and ends the others (factor_changed)', async () => {
    const env = setup()
    const { auth, sessions, clock } = env
    const { first, phone, laptop } = await threeDevices(env)
    const { secret } = await auth.beginTotp(laptop.session)
    const on = await auth.confirmTotp(laptop.session, totpCode(secret, clock.now()), ctx)
    expect(on.session.id).not.toBe(laptop.session.id)
    expect(on.session.auth).toMatchObject({ factors: ['password', 'totp'], level: 2 })
    for (const other of [first, phone]) {
      expect((await rejection(() => sessions.validate(other.token))).details).toEqual({
        reason: 'factor_changed',
      })
    }
    expect((await rejection(() => sessions.validate(laptop.token))).details).toEqual({
      reason: 'rotated',
    })

    clock.advance(30_000)
    const tablet = await auth.signIn(
      { username: 'ada', password: PASSWORD, totp: totpCode(secret, clock.now()) },
      ctx,
    )
    const wrong = await rejection(() =>
      auth.disableTotp(on.session, { password: 'nope nope nope' }, ctx),
    )
    expect(wrong.code).toBe('ERR_SIGN_IN_FAILED')
    const off = await auth.disableTotp(on.session, { password: PASSWORD }, ctx)
    expect(off.session.auth).toMatchObject({ factors: ['password'], level: 1 })
    expect((await rejection(() => sessions.validate(tablet.token))).details).toEqual({
      reason: 'factor_changed',
    })
    expect((await auth.getUser(off.session.principal)).totpEnabled).toBe(false)
    await auth.signIn({ username: 'ada', password: PASSWORD }, ctx)
    expect(
      (await rejection(() => auth.disableTotp(off.session, { password: PASSWORD }))).code,
    ).toBe('ERR_TOTP_STATE')
  })
})

describe('own sessions', () => {
  it('SEC-18: a user lists their sessions, ends one, or all others after a recent authentication', async () => {
    const env = setup()
    const { auth, sessions, clock } = env
    const { first, phone, laptop } = await threeDevices(env)
    const listed = await auth.listSessions(laptop.session)
    expect(listed.map((s) => s.id).sort()).toEqual(
      [first.session.id, phone.session.id, laptop.session.id].sort(),
    )
    expect(await auth.endOwnSession(laptop.session, phone.session.id, ctx)).toBe(true)
    expect((await rejection(() => sessions.validate(phone.token))).details).toEqual({
      reason: 'revoked',
    })
    const tablet = await auth.signIn({ username: 'ada', password: PASSWORD }, ctx)
    clock.advance(STEP_UP + 1)
    expect((await rejection(() => auth.endOtherSessions(laptop.session))).code).toBe(
      'ERR_REAUTH_REQUIRED',
    )
    const fresh = await auth.reauthenticate(laptop.session, { password: PASSWORD }, ctx)
    expect(await auth.endOtherSessions(fresh.session, ctx)).toBe(2)
    for (const s of [first, tablet]) {
      expect((await rejection(() => sessions.validate(s.token))).details).toEqual({
        reason: 'revoked',
      })
    }
    expect((await sessions.validate(fresh.token)).id).toBe(fresh.session.id)
    // ending the current one is a logout
    expect(await auth.endOwnSession(fresh.session, fresh.session.id, ctx)).toBe(true)
    expect((await rejection(() => sessions.validate(fresh.token))).details).toEqual({
      reason: 'logout',
    })
  })

  it('SEC-37: a principal sees and ends only its own sessions; another one’s id looks unknown', async () => {
    const { auth, sessions } = setup()
    const ada = await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    const bob = await auth.signUp({ username: 'bob', password: PASSWORD }, ctx)
    expect((await auth.listSessions(ada.session)).map((s) => s.id)).toEqual([ada.session.id])
    const foreign = await rejection(() => auth.endOwnSession(ada.session, bob.session.id, ctx))
    const unknown = await rejection(() =>
      auth.endOwnSession(ada.session, 'AAAAAAAAAAAAAAAAAAAAAA', ctx),
    )
    const malformed = await rejection(() => auth.endOwnSession(ada.session, 'nope', ctx))
    expect(wire(foreign)).toEqual(wire(unknown))
    expect(wire(foreign)).toEqual(wire(malformed))
    expect(foreign.code).toBe('ERR_SESSION_NOT_FOUND')
    expect((await sessions.validate(bob.token)).id).toBe(bob.session.id)
  })

  it('signs out', async () => {
    const { auth, sessions } = setup()
    const ada = await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    expect(await auth.signOut(ada.session.id, ctx)).toBe(true)
    expect(await auth.signOut(ada.session.id, ctx)).toBe(false)
    expect((await rejection(() => sessions.validate(ada.token))).details).toEqual({
      reason: 'logout',
    })
  })
})

describe('administration', () => {
  it('SEC-36: a privilege change reaches every live session at once; a removed role stops granting', async () => {
    const env = setup()
    const { auth, sessions } = env
    const { userId, phone, laptop } = await threeDevices(env)
    await auth.setPrivileges(userId, { roles: ['admin', 'editor'], permissions: ['doc:*'] }, 'cli')
    for (const s of [phone, laptop]) {
      const live = await sessions.validate(s.token)
      expect(live.auth.roles).toEqual(['admin', 'editor'])
      expect(live.auth.permissions).toEqual(['doc:*'])
    }
    const user = await auth.setPrivileges(userId, { roles: ['editor'], permissions: [] }, 'cli')
    expect(user.roles).toEqual(['editor'])
    for (const s of [phone, laptop]) {
      const live = await sessions.validate(s.token)
      expect(live.auth.roles).toEqual(['editor'])
      expect(live.auth.permissions).toEqual([])
      expect(live.auth.factors).toEqual(['password']) // the rest of the context stays
    }
    const bad = await rejection(() =>
      auth.setPrivileges(userId, { roles: ['ok', ''], permissions: [] }, 'cli'),
    )
    expect(bad.code).toBe('ERR_VALIDATION')
    const none = await rejection(() =>
      auth.setPrivileges('AAAAAAAAAAAAAAAAAAAAAA', { roles: [], permissions: [] }),
    )
    expect(none.code).toBe('ERR_USER_NOT_FOUND')
  })

  it('SEC-36: a session updated concurrently still gets the new privileges', async () => {
    const env = setup()
    const { auth, sessions } = env
    const { userId, laptop } = await threeDevices(env)
    const original = sessions.update.bind(sessions)
    let raced = false
    sessions.update = async (id, version, patch, context) => {
      if (!raced && patch.auth !== undefined) {
        raced = true // someone else writes first: our version is stale
        const current = await sessions.get(id)
        await original(id, current.version, { data: { touched: true } })
      }
      return original(id, version, patch, context)
    }
    await auth.setPrivileges(userId, { roles: ['viewer'], permissions: [] }, 'cli')
    expect(raced).toBe(true)
    const live = await sessions.validate(laptop.token)
    expect(live.auth.roles).toEqual(['viewer'])
  })

  it('SEC-15: disabling a user ends all its sessions and stops sign-in; enabling lets it back', async () => {
    const env = setup()
    const { auth, sessions } = env
    const { userId, first, phone, laptop } = await threeDevices(env)
    const { user, sessionsEnded } = await auth.disableUser(userId, 'cli')
    expect(user.disabled).toBe(true)
    expect(sessionsEnded).toBe(3)
    for (const s of [first, phone, laptop]) {
      expect((await rejection(() => sessions.validate(s.token))).details).toEqual({
        reason: 'principal_disabled',
      })
    }
    const refused = await rejection(() => auth.signIn({ username: 'ada', password: PASSWORD }, ctx))
    expect(refused.code).toBe('ERR_SIGN_IN_FAILED')
    await auth.enableUser(userId, 'cli')
    expect((await auth.signIn({ username: 'ada', password: PASSWORD }, ctx)).user.disabled).toBe(
      false,
    )
  })

  it('SEC-15: a disable that races with a sign-in still ends the new session', async () => {
    const env = setup()
    const { auth, sessions, users } = env
    const { userId } = await threeDevices(env)
    const create = sessions.create.bind(sessions)
    sessions.create = async (input) => {
      const made = await create(input)
      // the admin disables the user between the password check and the session
      const u = (await users.getUser(userId))!
      await users.updateUser(userId, u.version, { updatedAt: 0, disabled: true })
      return made
    }
    const err = await rejection(() => auth.signIn({ username: 'ada', password: PASSWORD }, ctx))
    expect(err.code).toBe('ERR_SIGN_IN_FAILED')
    expect(await sessions.list(userId)).toHaveLength(3) // only the three from before
  })

  it('getUser returns the public view only', async () => {
    const { auth } = setup()
    const ada = await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    const user = await auth.getUser(ada.user.id)
    expect(Object.keys(user).sort()).toEqual([
      'createdAt',
      'disabled',
      'id',
      'permissions',
      'recoveryCodesLeft',
      'roles',
      'totpEnabled',
      'username',
    ])
    expect((await rejection(() => auth.getUser('AAAAAAAAAAAAAAAAAAAAAA'))).code).toBe(
      'ERR_USER_NOT_FOUND',
    )
  })

  it('SEC-02: the user record holds no password, TOTP secret or recovery code in the clear', async () => {
    const { auth, users, clock } = setup()
    const up = await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    const { secret } = await auth.beginTotp(up.session)
    const { recoveryCodes } = await auth.confirmTotp(up.session, totpCode(secret, clock.now()), ctx)
    const record = (await users.getUser(up.user.id))!
    const dump = JSON.stringify(record)
    expect(record.passwordHash).toMatch(/^\$argon2id\$/)
    expect(dump).not.toContain(PASSWORD)
    expect(dump).not.toContain(secret)
    expect(dump.toLowerCase()).not.toContain(secret.toLowerCase())
    for (const code of recoveryCodes) {
      expect(dump).not.toContain(code)
      expect(dump).not.toContain(code.replaceAll('-', ''))
    }
    expect(record.totp!.secretEnc).toMatch(/^v1\./)
    expect(record.recoveryCodes.every((h) => /^[A-Za-z0-9_-]{43}$/.test(h))).toBe(true)
  })
})
