import { describe, expect, it } from 'vitest'
import { PASSWORD, rejection, setup, wire } from './helpers.ts'

const attacker = { ip: '198.51.100.66', userAgent: 'stuffer/1.0' }
const victimCtx = { ip: '203.0.113.10', userAgent: 'Mozilla/5.0' }
const bystander = { ip: '203.0.113.20', userAgent: 'Mozilla/5.0' }

describe('brute force and credential stuffing', () => {
  it('SEC-31: scenario 4: one address across many accounts is throttled with 429 after its limit', async () => {
    const { auth, store } = setup()
    for (const name of ['ada', 'bob', 'cy']) {
      await auth.signUp({ username: name, password: PASSWORD }, { ip: `192.0.2.${name.length}` })
    }
    const names = ['ada', 'bob', 'cy', ...Array.from({ length: 30 }, (_, i) => `guess${i}`)]
    const outcomes: string[] = []
    for (const username of names) {
      const err = await rejection(() =>
        auth.signIn({ username, password: 'Winter2024!' }, attacker),
      )
      outcomes.push(err.code)
    }
    expect(outcomes.slice(0, 20)).toEqual(Array(20).fill('ERR_SIGN_IN_FAILED'))
    expect(outcomes.slice(20)).toEqual(Array(13).fill('ERR_RATE_LIMITED'))
    const limited = await rejection(() =>
      auth.signIn({ username: 'ada', password: PASSWORD }, attacker),
    )
    expect(limited.status).toBe(429)
    expect(limited.details!.retryAfterSeconds).toBeGreaterThanOrEqual(1)
    // the address lock is audited once
    const locks = store.appended.filter((e) => e.type === 'auth.locked')
    expect(locks).toEqual([
      expect.objectContaining({
        principal: null,
        ip: attacker.ip,
        detail: { scope: 'address', failures: 20, retryAfterSeconds: 1 },
      }),
    ])
    // meanwhile everyone else is served, including the targeted accounts
    expect(
      (await auth.signIn({ username: 'ada', password: PASSWORD }, victimCtx)).user.username,
    ).toBe('ada')
  })

  it('SEC-31: scenario 4: one account from many addresses is locked with the sign-in error, audited, and bounded', async () => {
    const { auth, store, clock } = setup()
    const victim = await auth.signUp({ username: 'victim', password: PASSWORD }, victimCtx)
    await auth.signUp({ username: 'other', password: PASSWORD }, bystander)
    const codes: string[] = []
    for (let i = 0; i < 24; i++) {
      const ip = `10.0.${i}.1`
      const err = await rejection(() =>
        auth.signIn({ username: 'victim', password: `guess-${i}-guess` }, { ip }),
      )
      codes.push(err.code)
    }
    expect(new Set(codes)).toEqual(new Set(['ERR_SIGN_IN_FAILED']))
    // locked: even the right password is refused, and indistinguishably
    const locked = await rejection(() =>
      auth.signIn({ username: 'victim', password: PASSWORD }, victimCtx),
    )
    const wrong = await rejection(() =>
      auth.signIn({ username: 'other', password: 'nope nope' }, bystander),
    )
    expect(wire(locked)).toEqual(wire(wrong))
    const lockEvents = store.appended.filter((e) => e.type === 'auth.locked')
    expect(lockEvents).toEqual([
      expect.objectContaining({
        principal: victim.user.id,
        detail: { scope: 'account', failures: 20, retryAfterSeconds: 1 },
      }),
    ])
    const failed = store.appended.filter((e) => e.type === 'auth.sign_in_failed')
    // the four attempts after the lock, and the victim's own right password during it
    expect(failed.filter((e) => (e.detail as { reason: string }).reason === 'locked').length).toBe(
      5,
    )
    // another user still signs in meanwhile
    expect(
      (await auth.signIn({ username: 'other', password: PASSWORD }, bystander)).user.username,
    ).toBe('other')
    // refused attempts during the lock do not stretch it: the victim is back after the delay
    clock.advance(1000)
    const back = await auth.signIn({ username: 'victim', password: PASSWORD }, victimCtx)
    expect(back.user.id).toBe(victim.user.id)
    // a successful sign-in cleared the counter: a single typo is not a lock
    await rejection(() => auth.signIn({ username: 'victim', password: 'typo typo' }, victimCtx))
    await auth.signIn({ username: 'victim', password: PASSWORD }, victimCtx)
  })

  it('SEC-31: delays grow with each failure after the free ones and never exceed 15 minutes', async () => {
    const { auth, clock } = setup()
    await auth.signUp({ username: 'victim', password: PASSWORD }, victimCtx)
    let n = 0
    const fail = async () => {
      n++
      await rejection(() =>
        auth.signIn({ username: 'victim', password: 'wrong one' }, { ip: `10.1.${n}.1` }),
      )
    }
    for (let i = 0; i < 20; i++) await fail() // 20 addresses, one failure each: the spread-out limit
    const waits: number[] = []
    for (let i = 0; i < 14; i++) {
      const wait = await auth.limiter.accountWaitMs('victim')
      waits.push(wait)
      clock.advance(wait) // the attacker waits out each delay, then fails again
      await fail()
    }
    expect(waits.slice(0, 5)).toEqual([1000, 2000, 4000, 8000, 16_000])
    expect(Math.max(...waits)).toBeLessThanOrEqual(15 * 60_000)
    const last = await auth.limiter.accountWaitMs('victim')
    expect(last).toBeLessThanOrEqual(15 * 60_000)
    clock.advance(last)
    await auth.signIn({ username: 'victim', password: PASSWORD }, victimCtx)
  })

  it('SEC-31: hammering a victim from one address limits that address before it can extend the lock', async () => {
    const { auth, store } = setup()
    await auth.signUp({ username: 'victim', password: PASSWORD }, victimCtx)
    const codes: string[] = []
    for (let i = 0; i < 30; i++) {
      codes.push(
        (
          await rejection(() =>
            auth.signIn({ username: 'victim', password: `x${i}xxxxxx` }, attacker),
          )
        ).code,
      )
    }
    expect(codes.filter((c) => c === 'ERR_RATE_LIMITED')).toHaveLength(10)
    // only the first five counted against the account, and only from the attacker's address:
    // the victim, elsewhere, is not locked out
    expect(await auth.limiter.accountWaitMs('victim', attacker.ip)).toBe(1000)
    expect(await auth.limiter.accountWaitMs('victim', victimCtx.ip)).toBe(0)
    await auth.signIn({ username: 'victim', password: PASSWORD }, victimCtx)
    expect(
      store.appended.filter((e) => e.type === 'auth.locked').map((e) => e.detail!.scope),
    ).toEqual(['account', 'address'])
  })

  it('SEC-31: unknown usernames are counted and locked exactly like real ones', async () => {
    const { auth } = setup()
    for (let i = 0; i < 5; i++) {
      await rejection(() =>
        auth.signIn({ username: 'Ghost', password: 'whatever1' }, { ip: '10.2.0.1' }),
      )
    }
    expect(await auth.limiter.accountWaitMs('ghost', '10.2.0.1')).toBe(1000)
  })

  it('SEC-31: a burst of parallel guesses from one address is counted one by one: the limits hold', async () => {
    const { auth } = setup()
    await auth.signUp({ username: 'victim', password: PASSWORD }, victimCtx)
    const guesses = Array.from({ length: 12 }, (_, i) =>
      auth.signIn({ username: 'victim', password: `guess-${i}-guess` }, attacker).then(
        () => 'OK',
        (e: { code: string }) => e.code,
      ),
    )
    const right = auth.signIn({ username: 'victim', password: PASSWORD }, attacker).then(
      () => 'OK',
      (e: { code: string }) => e.code,
    )
    const codes = await Promise.all([...guesses, right])
    // the right password came after five failures from this address: it is refused like them
    expect(codes.at(-1)).not.toBe('OK')
    expect(new Set(codes)).toEqual(new Set(['ERR_SIGN_IN_FAILED']))
    // and the victim, from another address, is not locked out
    await auth.signIn({ username: 'victim', password: PASSWORD }, victimCtx)
  })
})
