import { argon2Sync, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { Auth } from '../../src/auth/auth.ts'
import {
  codePoints,
  DEFAULT_HASH_CONCURRENCY,
  needsRehash,
  OWASP_MINIMUM,
  PasswordHasher,
  PasswordPolicy,
  parsePhc,
} from '../../src/auth/passwords.ts'
import { FAST, PASSWORD, rejection, setup } from './helpers.ts'

const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

describe('password policy', () => {
  const policy = new PasswordPolicy()

  it('SEC-28: at least 8 and at most 256 characters, counted in code points after NFKC', async () => {
    expect((await rejection(() => policy.check('seven77'))).code).toBe('ERR_PASSWORD_POLICY')
    expect(await policy.check('eight888')).toBe('eight888')
    // 7 emoji are 14 UTF-16 units but 7 characters: too short; 8 are enough.
    expect((await rejection(() => policy.check('😀'.repeat(7)))).code).toBe('ERR_PASSWORD_POLICY')
    expect(codePoints(await policy.check('😀'.repeat(8)))).toBe(8)
    expect(await policy.check('x'.repeat(256))).toHaveLength(256)
    const long = await rejection(() => policy.check('x'.repeat(257)))
    expect(long.code).toBe('ERR_PASSWORD_POLICY')
    expect(long.details).toEqual({ minLength: 8, maxLength: 256 })
    expect((await rejection(() => policy.check(12345678))).code).toBe('ERR_PASSWORD_POLICY')
    expect((await rejection(() => policy.check('\ud800abcdefgh'))).code).toBe('ERR_PASSWORD_POLICY')
  })

  it('SEC-28: any Unicode, no composition rules, NFKC-normalised', async () => {
    expect(await policy.check('aaaaaaaa')).toBe('aaaaaaaa')
    expect(await policy.check('пароль-пароль')).toBe('пароль-пароль')
    expect(await policy.check('Ｐａｓｓｗｏｒｄ')).toBe('Password') // full width folds to ASCII
  })

  it('SEC-28: a breached-password hook (sync or async) refuses with ERR_PASSWORD_BREACHED', async () => {
    const sync = new PasswordPolicy({ breached: (p) => p === 'password123' })
    expect((await rejection(() => sync.check('password123'))).code).toBe('ERR_PASSWORD_BREACHED')
    const seen: string[] = []
    const async = new PasswordPolicy({
      breached: async (p) => {
        seen.push(p)
        return p === 'Password'
      },
    })
    // the hook sees the normalised form
    expect((await rejection(() => async.check('Ｐａｓｓｗｏｒｄ'))).code).toBe(
      'ERR_PASSWORD_BREACHED',
    )
    expect(seen).toEqual(['Password'])
    expect(await async.check('not in the list')).toBe('not in the list')
  })

  it('SEC-28: the operator cannot configure a minimum below 8 or a maximum below 128', () => {
    expect(() => new PasswordPolicy({ minLength: 6 })).toThrow(/minLength/)
    expect(() => new PasswordPolicy({ maxLength: 64 })).toThrow(/maxLength/)
  })

  it('SEC-28: no silent truncation: a password and its prefix are different passwords', async () => {
    const { auth } = setup()
    const long = `${'a'.repeat(100)}${'b'.repeat(150)}`
    await auth.signUp({ username: 'long', password: long })
    const err = await rejection(() =>
      auth.signIn({ username: 'long', password: long.slice(0, 72) }),
    )
    expect(err.code).toBe('ERR_SIGN_IN_FAILED')
    expect((await auth.signIn({ username: 'long', password: long })).user.username).toBe('long')
  })

  it('SEC-28: a password typed in another normalisation form signs in', async () => {
    const { auth } = setup()
    await auth.signUp({ username: 'nfkc', password: 'ｃａｆé ｃｒèｍｅ ｂｒûｌéｅ' })
    const nfd = 'café crème brûlée'.normalize('NFD')
    expect((await auth.signIn({ username: 'nfkc', password: nfd })).user.username).toBe('nfkc')
  })

  it('SEC-28: sign-up and password change apply the policy', async () => {
    const { auth } = setup({ password: { ...FAST, breached: (p) => p === 'breached!!' } })
    const short = await rejection(() => auth.signUp({ username: 'a', password: 'short' }))
    expect(short.code).toBe('ERR_PASSWORD_POLICY')
    const bad = await rejection(() => auth.signUp({ username: 'a', password: 'breached!!' }))
    expect(bad.code).toBe('ERR_PASSWORD_BREACHED')
    const { session } = await auth.signUp({ username: 'a', password: PASSWORD })
    const change = await rejection(() =>
      auth.changePassword(session, { currentPassword: PASSWORD, newPassword: 'breached!!' }),
    )
    expect(change.code).toBe('ERR_PASSWORD_BREACHED')
  })
})

describe('password hashing', () => {
  it('SEC-29: the defaults meet OWASP (argon2id, m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte tag)', async () => {
    const hasher = new PasswordHasher()
    expect(hasher.params.memoryKiB).toBeGreaterThanOrEqual(19_456)
    expect(hasher.params.passes).toBeGreaterThanOrEqual(2)
    expect(hasher.params.parallelism).toBeGreaterThanOrEqual(1)
    expect(OWASP_MINIMUM).toEqual({ memoryKiB: 19_456, passes: 2, parallelism: 1 })
    const phc = await hasher.hash(PASSWORD)
    expect(phc).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    const parsed = parsePhc(phc)!
    expect(parsed.salt).toHaveLength(16)
    expect(parsed.tag).toHaveLength(32)
    expect(await hasher.verify(phc, PASSWORD)).toBe(true)
    expect(await hasher.verify(phc, `${PASSWORD}!`)).toBe(false)
  })

  it('SEC-29: the hash is an argon2id tag any implementation reproduces from the PHC string', async () => {
    const hasher = new PasswordHasher(FAST)
    const phc = await hasher.hash(PASSWORD)
    const { params, salt, tag } = parsePhc(phc)!
    const again = argon2Sync('argon2id', {
      message: PASSWORD,
      nonce: salt,
      memory: params.memoryKiB,
      passes: params.passes,
      parallelism: params.parallelism,
      tagLength: 32,
    })
    expect(again.equals(tag)).toBe(true)
  })

  it('SEC-29: each hash has its own salt; verification compares in constant time', async () => {
    const hasher = new PasswordHasher(FAST)
    const [a, b] = await Promise.all([hasher.hash(PASSWORD), hasher.hash(PASSWORD)])
    expect(a).not.toBe(b)
    expect(parsePhc(a)!.salt.equals(parsePhc(b)!.salt)).toBe(false)
    const source = readFileSync(new URL('../../src/auth/passwords.ts', import.meta.url), 'utf8')
    expect(source).toMatch(/timingSafeEqual\(tag, target\.tag\)/)
    expect(source).toMatch(/randomBytes\(SALT_BYTES\)/)
  })

  it('SEC-29: unreadable hashes and inputs fail closed', async () => {
    const hasher = new PasswordHasher(FAST)
    const phc = await hasher.hash(PASSWORD)
    expect(await hasher.verify('$argon2i$v=19$m=1024,t=1,p=1$abc$def', PASSWORD)).toBe(false)
    expect(await hasher.verify(phc.replace('m=1024', 'm=99999999'), PASSWORD)).toBe(false)
    expect(await hasher.verify(null, PASSWORD)).toBe(false)
    expect(await hasher.verify(phc, undefined)).toBe(false)
    expect(await hasher.verify(phc, 'x'.repeat(10_000))).toBe(false)
    expect(await hasher.verifyDummy(PASSWORD)).toBe(false)
  })

  it('SEC-29: needsRehash is true when the stored parameters are below the configured ones', async () => {
    const phc = await new PasswordHasher(FAST).hash(PASSWORD)
    expect(needsRehash(phc, FAST)).toBe(false)
    expect(needsRehash(phc, { ...FAST, memoryKiB: 2048 })).toBe(true)
    expect(needsRehash(phc, { ...FAST, passes: 2 })).toBe(true)
    expect(needsRehash(phc, { ...FAST, parallelism: 2 })).toBe(true)
    expect(needsRehash(phc, { ...FAST, memoryKiB: 512 })).toBe(false)
    expect(needsRehash('not a hash', FAST)).toBe(true)
  })

  it('SEC-29: raised parameters are applied at the next successful sign-in', async () => {
    const { auth, users, sessions, secret, clock } = setup()
    await auth.signUp({ username: 'ada', password: PASSWORD })
    const before = (await users.getUserByName('ada'))!.passwordHash
    expect(before).toContain('$m=1024,t=1,p=1$')
    const stronger = new Auth({
      users,
      sessions,
      secret,
      clock,
      password: { memoryKiB: 2048, passes: 2 },
    })
    // a failed sign-in changes nothing
    await rejection(() => stronger.signIn({ username: 'ada', password: 'wrong password' }))
    expect((await users.getUserByName('ada'))!.passwordHash).toBe(before)
    await stronger.signIn({ username: 'ada', password: PASSWORD })
    const after = (await users.getUserByName('ada'))!.passwordHash
    expect(after).toContain('$m=2048,t=2,p=1$')
    expect(await stronger.hasher.verify(after, PASSWORD)).toBe(true)
    await stronger.signIn({ username: 'ada', password: PASSWORD })
    expect((await users.getUserByName('ada'))!.passwordHash).toBe(after)
  })

  it('SEC-29: hashing never blocks the event loop: 20 concurrent hashes leave loop delay far below the hash time', async () => {
    const params = { memoryKiB: 16_384, passes: 2, parallelism: 1 }
    const hasher = new PasswordHasher(params)
    await hasher.hash('warm up the pool')

    // Control: the same hash run on the loop (argon2Sync) blocks it for the whole hash, and the
    // monitor sees that. The hash time is measured here, on the loop, without queueing.
    const blocked = monitorEventLoopDelay({ resolution: 1 })
    const syncMs: number[] = []
    blocked.enable()
    for (let i = 0; i < 3; i++) {
      const start = process.hrtime.bigint()
      argon2Sync('argon2id', {
        message: 'blocking',
        nonce: randomBytes(16),
        memory: params.memoryKiB,
        passes: params.passes,
        parallelism: 1,
        tagLength: 32,
      })
      syncMs.push(elapsedMs(start))
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    blocked.disable()
    const hashMs = median(syncMs)
    expect(blocked.max / 1e6).toBeGreaterThan(hashMs / 2)

    // The storm: 20 hashes at once through the hasher (thread pool, bounded by the semaphore).
    const delay = monitorEventLoopDelay({ resolution: 1 })
    delay.enable()
    await Promise.all(Array.from({ length: 20 }, (_, i) => hasher.hash(`storm password ${i}`)))
    delay.disable()
    expect(delay.count).toBeGreaterThan(20) // the loop kept turning throughout
    expect(delay.mean / 1e6 / hashMs).toBeLessThan(0.2)
    expect(delay.percentile(90) / 1e6 / hashMs).toBeLessThan(0.34)
    // the storm queued behind the semaphore instead of taking every thread at once
    expect(hasher.gate.peak).toBeLessThanOrEqual(DEFAULT_HASH_CONCURRENCY)
  }, 60_000)

  it('SEC-29: concurrent hashing is bounded by a semaphore; the rest queue in order', async () => {
    const hasher = new PasswordHasher({ ...FAST, concurrency: 2 })
    const all = Array.from({ length: 10 }, (_, i) => hasher.hash(`queued ${i}`))
    expect(hasher.gate.active).toBe(2)
    expect(hasher.gate.waiting).toBe(8)
    const hashes = await Promise.all(all)
    expect(new Set(hashes).size).toBe(10)
    expect(hasher.gate.peak).toBe(2)
    expect(hasher.gate.active).toBe(0)
    expect(DEFAULT_HASH_CONCURRENCY).toBeGreaterThanOrEqual(1)
    expect(DEFAULT_HASH_CONCURRENCY).toBeLessThanOrEqual(4)
  })
})
