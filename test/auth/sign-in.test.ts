import { describe, expect, it } from 'vitest'
import { PASSWORD, rejection, setup, totpCode, wire } from './helpers.ts'

const ctx = { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (test)' }

/** Signs ada up and enrols TOTP; the clock then moves one step so a fresh code is due. */
async function withTotp(env: ReturnType<typeof setup>) {
  const { auth, clock } = env
  const up = await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
  const { secret } = await auth.beginTotp(up.session)
  const confirmed = await auth.confirmTotp(up.session, totpCode(secret, clock.now()), ctx)
  clock.advance(30_000)
  return { secret, userId: up.user.id, ...confirmed }
}

describe('sign-up', () => {
  it('creates a user with a normalised name and signs it in', async () => {
    const { auth, users } = setup()
    const { user, session, token } = await auth.signUp(
      { username: '  Ａda ', password: PASSWORD },
      ctx,
    )
    expect(user).toEqual({
      id: user.id,
      username: 'ada',
      roles: [],
      permissions: [],
      disabled: false,
      totpEnabled: false,
      recoveryCodesLeft: 0,
      createdAt: user.createdAt,
    })
    expect(session.principal).toBe(user.id)
    expect(token).toMatch(/^plys_/)
    expect((await users.getUserByName('ada'))!.id).toBe(user.id)
    const taken = await rejection(() => auth.signUp({ username: 'ADA', password: PASSWORD }, ctx))
    expect(taken.code).toBe('ERR_USER_EXISTS')
  })

  it('refuses bad usernames, and a closed sign-up', async () => {
    const { auth } = setup()
    for (const username of ['', '   ', 'a'.repeat(65), 'ada\u0000', 'a\u200db', 42]) {
      const err = await rejection(() =>
        auth.signUp({ username: username as string, password: PASSWORD }),
      )
      expect(err.code).toBe('ERR_VALIDATION')
    }
    expect(
      (await auth.signUp({ username: 'é'.repeat(64), password: PASSWORD })).user.username,
    ).toHaveLength(64)
    const closed = setup({ allowSignUp: false })
    const err = await rejection(() => closed.auth.signUp({ username: 'ada', password: PASSWORD }))
    expect(err.code).toBe('ERR_FORBIDDEN')
  })

  it('SEC-31: sign-up failures count against the address limit', async () => {
    const { auth } = setup({ limits: { addressLimit: 3 } })
    await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    for (let i = 0; i < 3; i++) {
      await rejection(() => auth.signUp({ username: 'ada', password: PASSWORD }, ctx))
    }
    const err = await rejection(() => auth.signUp({ username: 'bob', password: PASSWORD }, ctx))
    expect(err.code).toBe('ERR_RATE_LIMITED')
  })
})

describe('sign-in', () => {
  it('SEC-07: sign-in issues a new session id and ends the one it replaces', async () => {
    const { auth, sessions } = setup()
    const up = await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    // scenario 1: a token planted before sign-in gives the planter nothing afterwards
    const planted = await sessions.create({ principal: 'attacker' })
    const signed = await auth.signIn(
      { username: 'ada', password: PASSWORD, replaces: planted.token },
      ctx,
    )
    expect(signed.session.id).not.toBe(planted.session.id)
    expect(signed.session.id).not.toBe(up.session.id)
    const replayed = await rejection(() => sessions.validate(planted.token))
    expect(replayed.code).toBe('ERR_SESSION_ENDED')
    expect(replayed.details).toEqual({ reason: 'rotated' })
    expect((await sessions.validate(signed.token)).principal).toBe(up.user.id)
    // a stale or garbage `replaces` is ignored
    await auth.signIn({ username: 'ada', password: PASSWORD, replaces: planted.token }, ctx)
    await auth.signIn({ username: 'ada', password: PASSWORD, replaces: 'plys_nonsense' }, ctx)
  })

  it('SEC-09: the session records factors, level, time, client and the principal privileges', async () => {
    const { auth, clock } = setup()
    const up = await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    await auth.setPrivileges(up.user.id, { roles: ['editor'], permissions: ['doc:write'] }, 'cli')
    clock.advance(5000)
    const { session } = await auth.signIn({ username: 'ada', password: PASSWORD }, ctx)
    expect(session.auth).toEqual({
      factors: ['password'],
      level: 1,
      authenticatedAt: clock.now(),
      roles: ['editor'],
      permissions: ['doc:write'],
    })
    expect(session.client).toEqual({ ip: ctx.ip, userAgent: ctx.userAgent })
  })

  it('SEC-09: with TOTP the session records both factors and level 2', async () => {
    const env = setup()
    const { secret } = await withTotp(env)
    const { auth, clock } = env
    const err = await rejection(() => auth.signIn({ username: 'ada', password: PASSWORD }, ctx))
    expect(err.code).toBe('ERR_MFA_REQUIRED')
    const totp = totpCode(secret, clock.now())
    const { session } = await auth.signIn({ username: 'ada', password: PASSWORD, totp }, ctx)
    expect(session.auth.factors).toEqual(['password', 'totp'])
    expect(session.auth.level).toBe(2)
  })

  it('SEC-32: a TOTP code is accepted at most once, even within its window', async () => {
    const env = setup()
    const { secret } = await withTotp(env)
    const { auth, clock } = env
    const totp = totpCode(secret, clock.now())
    await auth.signIn({ username: 'ada', password: PASSWORD, totp }, ctx)
    const replay = await rejection(() =>
      auth.signIn({ username: 'ada', password: PASSWORD, totp }, ctx),
    )
    expect(replay.code).toBe('ERR_SIGN_IN_FAILED')
    // a code of an earlier step is refused too once a later one was used
    const earlier = totpCode(secret, clock.now() - 30_000)
    const old = await rejection(() =>
      auth.signIn({ username: 'ada', password: PASSWORD, totp: earlier }, ctx),
    )
    expect(old.code).toBe('ERR_SIGN_IN_FAILED')
    clock.advance(30_000)
    const next = totpCode(secret, clock.now())
    await auth.signIn({ username: 'ada', password: PASSWORD, totp: next }, ctx)
    // a wrong code fails exactly like a wrong password
    const wrongCode = await rejection(() =>
      auth.signIn({ username: 'ada', password: PASSWORD, totp: '000000' }, ctx),
    )
    const wrongPassword = await rejection(() =>
      auth.signIn({ username: 'ada', password: 'wrong password', totp: next }, ctx),
    )
    expect(wire(wrongCode)).toEqual(wire(wrongPassword))
  })

  it('SEC-32: enrolment needs a confirming code; the secret is stored only encrypted', async () => {
    const { auth, users, clock } = setup()
    const up = await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    const { secret, uri, qrSvg } = await auth.beginTotp(up.session)
    expect(uri).toContain(`secret=${secret}`)
    expect(qrSvg).toContain('<svg')
    const pending = (await users.getUser(up.user.id))!
    expect(pending.totp!.confirmed).toBe(false)
    expect(JSON.stringify(pending)).not.toContain(secret)
    // not yet a factor: sign-in needs only the password
    await auth.signIn({ username: 'ada', password: PASSWORD }, ctx)
    const wrong = await rejection(() => auth.confirmTotp(up.session, '000000', ctx))
    expect(wrong.code).toBe('ERR_TOTP_INVALID')
    const fresh = await auth.signIn({ username: 'ada', password: PASSWORD }, ctx)
    const done = await auth.confirmTotp(fresh.session, totpCode(secret, clock.now()), ctx)
    expect(done.recoveryCodes).toHaveLength(10)
    expect((await auth.getUser(up.user.id)).totpEnabled).toBe(true)
    const again = await rejection(() => auth.beginTotp(done.session))
    expect(again.code).toBe('ERR_TOTP_STATE')
  })

  it('SEC-33: a recovery code signs in once; regenerating replaces every code', async () => {
    const env = setup()
    const { recoveryCodes, session } = await withTotp(env)
    const { auth, users } = env
    const [first, second] = recoveryCodes as [string, string]
    const signed = await auth.signIn(
      { username: 'ada', password: PASSWORD, recoveryCode: first.toUpperCase() },
      ctx,
    )
    expect(signed.session.auth.factors).toEqual(['password', 'recovery_code'])
    expect(signed.user.recoveryCodesLeft).toBe(9)
    const reused = await rejection(() =>
      auth.signIn({ username: 'ada', password: PASSWORD, recoveryCode: first }, ctx),
    )
    expect(reused.code).toBe('ERR_SIGN_IN_FAILED')
    const fresh = await auth.regenerateRecoveryCodes(signed.session, ctx)
    expect(fresh).toHaveLength(10)
    expect(fresh).not.toContain(second)
    const stale = await rejection(() =>
      auth.signIn({ username: 'ada', password: PASSWORD, recoveryCode: second }, ctx),
    )
    expect(stale.code).toBe('ERR_SIGN_IN_FAILED')
    await auth.signIn({ username: 'ada', password: PASSWORD, recoveryCode: fresh[3] }, ctx)
    const record = (await users.getUserByName('ada'))!
    expect(record.recoveryCodes).toHaveLength(9)
    for (const code of [...recoveryCodes, ...fresh]) {
      expect(JSON.stringify(record)).not.toContain(code.replaceAll('-', ''))
    }
    expect(session.id).toBeTruthy()
  })

  it('SEC-30: unknown user, wrong password, locked and disabled accounts give the same error', async () => {
    const { auth } = setup({ limits: { addressLimit: 1000 } })
    await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    const bob = await auth.signUp({ username: 'bob', password: PASSWORD }, ctx)
    await auth.signUp({ username: 'cy', password: PASSWORD }, ctx)
    await auth.disableUser(bob.user.id, 'cli')
    for (let i = 0; i < 5; i++) {
      await rejection(() => auth.signIn({ username: 'cy', password: 'wrong password' }, ctx))
    }
    const errors = [
      await rejection(() => auth.signIn({ username: 'nobody', password: PASSWORD }, ctx)),
      await rejection(() => auth.signIn({ username: 'ada', password: 'wrong password' }, ctx)),
      await rejection(() => auth.signIn({ username: 'bob', password: PASSWORD }, ctx)),
      await rejection(() => auth.signIn({ username: 'cy', password: PASSWORD }, ctx)), // locked
      await rejection(() => auth.signIn({ username: 42 as unknown as string, password: PASSWORD })),
    ]
    for (const err of errors) {
      expect(wire(err)).toEqual({
        code: 'ERR_SIGN_IN_FAILED',
        status: 401,
        message: 'The username or password is not correct',
        details: undefined,
      })
    }
  })

  it('SEC-30: scenario 9 (enumeration): unknown user and wrong password are identical, and take similar time', async () => {
    const { auth } = setup({
      password: { memoryKiB: 4096, passes: 2, parallelism: 1 },
      limits: { addressLimit: 10_000, freeAttempts: 10_000 },
    })
    await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    const unknown = await rejection(() =>
      auth.signIn({ username: 'nobody', password: PASSWORD }, ctx),
    )
    const wrong = await rejection(() =>
      auth.signIn({ username: 'ada', password: 'wrong!!!!' }, ctx),
    )
    expect(wire(unknown)).toEqual(wire(wrong))
    expect(Object.keys(unknown)).toEqual(Object.keys(wrong))

    const time = async (username: string) => {
      const start = process.hrtime.bigint()
      await rejection(() => auth.signIn({ username, password: 'wrong password' }, ctx))
      return Number(process.hrtime.bigint() - start) / 1e6
    }
    const a: number[] = []
    const b: number[] = []
    for (let i = 0; i < 15; i++) {
      a.push(await time(`nobody${i}`))
      b.push(await time('ada'))
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[7]!
    const ratio = median(a) / median(b)
    expect(ratio).toBeGreaterThan(1 / 3)
    expect(ratio).toBeLessThan(3)
  }, 60_000)

  it('SEC-30: disabled and locked accounts cost a hash verification like any other failure', async () => {
    const { auth } = setup({
      password: { memoryKiB: 4096, passes: 2, parallelism: 1 },
      limits: { addressLimit: 10_000 },
    })
    await auth.signUp({ username: 'ada', password: PASSWORD }, ctx)
    const bob = await auth.signUp({ username: 'bob', password: PASSWORD }, ctx)
    await auth.disableUser(bob.user.id)
    const time = async (username: string, password: string) => {
      const start = process.hrtime.bigint()
      await rejection(() => auth.signIn({ username, password }, ctx))
      return Number(process.hrtime.bigint() - start) / 1e6
    }
    const wrong: number[] = []
    for (let i = 0; i < 5; i++) wrong.push(await time('ada', 'wrong password')) // now locked
    const locked: number[] = []
    const disabled: number[] = []
    for (let i = 0; i < 5; i++) {
      locked.push(await time('ada', PASSWORD))
      disabled.push(await time('bob', PASSWORD))
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[2]!
    for (const m of [median(locked), median(disabled)]) {
      expect(m / median(wrong)).toBeGreaterThan(1 / 3)
      expect(m / median(wrong)).toBeLessThan(3)
    }
  }, 60_000)
})
