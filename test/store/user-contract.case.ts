/**
 * @module The UserStore contract suite. Every store adapter runs it through a small test file:
 * `runUserStoreContract({ name, create })`. Each test gets a fresh session store, takes its user
 * store with `users()` and initialises only that, so the suite also proves a user store works
 * whether or not its session store was initialised first.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { TotpRecord, UserRecord, UserStore } from '../../src/auth/user-store.ts'
import { ManualClock } from '../../src/core/clock.ts'
import { isParleyError } from '../../src/core/errors.ts'
import { Sessions } from '../../src/core/sessions.ts'
import type { SessionStore } from '../../src/core/store.ts'
import { newId } from '../../src/core/token.ts'

/** A session store that hands out a user store on its own connection. */
export interface UserStoreHost extends SessionStore {
  users(): UserStore
}

export interface UserStoreContractOptions {
  name: string
  /** A fresh, empty session store with its own key prefix, schema or file; not yet initialised. */
  create(): Promise<UserStoreHost>
  /** Removes what `create` made (drop the schema, delete the keys); called before `close()`. */
  destroy?(store: UserStoreHost): Promise<void>
  /**
   * A second store on the same data over its own connection, as another process would have: the
   * races then run half on each. Absent for the memory store, which has no shared data.
   */
  reopen?(store: UserStoreHost): Promise<UserStoreHost>
}

const T0 = 1_700_000_000_000
const MIN = 60_000
const WINDOW = 15 * MIN
const RACERS = 10

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (isParleyError(err)) return err.code
    throw err
  }
}

function totp(over: Partial<TotpRecord> = {}): TotpRecord {
  return {
    secretEnc: 'c2VjcmV0LWVuY3J5cHRlZA',
    confirmed: true,
    enrolledAt: T0 - MIN,
    lastUsedStep: 56_666_000,
    ...over,
  }
}

function user(username: string, over: Partial<UserRecord> = {}): UserRecord {
  return {
    id: newId(),
    username,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo',
    roles: [],
    permissions: [],
    disabled: false,
    totp: null,
    recoveryCodes: [],
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    ...over,
  }
}

/** How many of the settled outcomes are each value. */
function tally<T>(values: T[]): Map<T, number> {
  const out = new Map<T, number>()
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1)
  return out
}

export function runUserStoreContract(options: UserStoreContractOptions): void {
  describe(`UserStore contract: ${options.name}`, () => {
    let host: UserStoreHost
    let users: UserStore
    /** Where racer i runs: alternately this store and, when there is one, a second connection. */
    let peers: UserStore[]
    let twin: UserStoreHost | undefined

    beforeEach(async () => {
      host = await options.create()
      users = host.users()
      await users.init()
      peers = [users]
      twin = undefined
      if (options.reopen !== undefined) {
        twin = await options.reopen(host)
        const other = twin.users()
        await other.init()
        peers.push(other)
      }
    })
    afterEach(async () => {
      await twin?.users().close()
      await twin?.close()
      await options.destroy?.(host)
      await users.close()
      await host.close()
    })

    const racer = (i: number): UserStore => peers[i % peers.length]!

    it('round-trips records exactly: totp null, empty arrays, Unicode', async () => {
      const plain = user('zoë-ʤ-🙂')
      const full = user('bob', {
        roles: ['admin', 'rôle:with:colons', ''],
        permissions: ['sessions:read', 'sessions:end', '🙂'],
        disabled: true,
        totp: totp({ confirmed: false, lastUsedStep: 0 }),
        recoveryCodes: ['h1', 'h2', 'h3'],
        createdAt: T0 - 5,
        updatedAt: T0 + 7,
        version: 3,
      })
      await users.createUser(plain)
      await users.createUser(full)
      expect(await users.getUser(plain.id)).toStrictEqual(plain)
      expect(await users.getUserByName(plain.username)).toStrictEqual(plain)
      expect(await users.getUser(full.id)).toStrictEqual(full)
      expect(await users.getUserByName('bob')).toStrictEqual(full)
      expect(await users.getUser(newId())).toBeNull()
      expect(await users.getUserByName('nobody')).toBeNull()
      // What a read returns is a copy: changing it changes nothing stored.
      const read = (await users.getUser(full.id))!
      read.roles.push('root')
      read.recoveryCodes.length = 0
      expect(await users.getUser(full.id)).toStrictEqual(full)
    })

    it('refuses a taken username or id with ERR_USER_EXISTS and keeps the first record', async () => {
      const first = user('alice', { roles: ['first'] })
      await users.createUser(first)
      expect(await codeOf(users.createUser(user('alice', { roles: ['second'] })))).toBe(
        'ERR_USER_EXISTS',
      )
      expect(await codeOf(users.createUser({ ...user('carol'), id: first.id }))).toBe(
        'ERR_USER_EXISTS',
      )
      expect(await users.getUserByName('alice')).toStrictEqual(first)
      expect(await users.getUserByName('carol')).toBeNull()
    })

    it('lets exactly one of 10 concurrent createUser calls for one username win', async () => {
      const candidates = Array.from({ length: RACERS }, (_, i) =>
        user('racer', { roles: [`r${i}`] }),
      )
      const codes = await Promise.all(candidates.map((c, i) => codeOf(racer(i).createUser(c))))
      expect(tally(codes)).toStrictEqual(
        new Map([
          ['OK', 1],
          ['ERR_USER_EXISTS', RACERS - 1],
        ]),
      )
      const winner = candidates[codes.indexOf('OK')]!
      expect(await users.getUserByName('racer')).toStrictEqual(winner)
      for (const loser of candidates.filter((c) => c !== winner)) {
        expect(await users.getUser(loser.id)).toBeNull()
      }
    })

    it('compares usernames exactly: case, normal forms and prefixes are different names', async () => {
      const names = ['alice', 'Alice', 'alic', 'alice ', 'caf\u00e9', 'cafe\u0301']
      const made = names.map((n) => user(n))
      for (const u of made) await users.createUser(u)
      for (const u of made) expect(await users.getUserByName(u.username)).toStrictEqual(u)
      expect(await users.getUserByName('ALICE')).toBeNull()
      expect(await users.getUserByName('ali')).toBeNull()
    })

    it('updateUser replaces the given fields only, sets updatedAt and bumps the version', async () => {
      const u = user('dana', { roles: ['a'], recoveryCodes: ['x', 'y'] })
      await users.createUser(u)
      const enrolled = totp()
      const v2 = await users.updateUser(u.id, 1, {
        updatedAt: T0 + 10,
        totp: enrolled,
        permissions: ['p:1'],
      })
      const expected2 = {
        ...u,
        totp: enrolled,
        permissions: ['p:1'],
        updatedAt: T0 + 10,
        version: 2,
      }
      expect(v2).toStrictEqual(expected2)
      expect(await users.getUser(u.id)).toStrictEqual(expected2)

      const v3 = await users.updateUser(u.id, 2, {
        updatedAt: T0 + 20,
        passwordHash: 'new-hash',
        roles: [],
        disabled: true,
        totp: null,
        recoveryCodes: [],
      })
      const expected3 = {
        ...expected2,
        passwordHash: 'new-hash',
        roles: [],
        disabled: true,
        totp: null,
        recoveryCodes: [],
        updatedAt: T0 + 20,
        version: 3,
      }
      expect(v3).toStrictEqual(expected3)
      expect(await users.getUserByName('dana')).toStrictEqual(expected3)

      const v4 = await users.updateUser(u.id, 3, {
        updatedAt: T0 + 30,
        recoveryCodes: ['n1', 'n2'],
      })
      expect(v4).toStrictEqual({
        ...expected3,
        recoveryCodes: ['n1', 'n2'],
        updatedAt: T0 + 30,
        version: 4,
      })
      expect(await users.getUser(u.id)).toStrictEqual(v4)
    })

    it('updateUser: ERR_USER_NOT_FOUND for a missing user, ERR_VERSION_CONFLICT for a stale version', async () => {
      const u = user('erin')
      await users.createUser(u)
      expect(await codeOf(users.updateUser(newId(), 1, { updatedAt: T0 }))).toBe(
        'ERR_USER_NOT_FOUND',
      )
      await users.updateUser(u.id, 1, { updatedAt: T0 + 1, roles: ['kept'] })
      for (const stale of [1, 3, 0, -1, 1.5]) {
        expect(await codeOf(users.updateUser(u.id, stale, { updatedAt: T0 + 2, roles: [] }))).toBe(
          'ERR_VERSION_CONFLICT',
        )
      }
      expect(await users.getUser(u.id)).toStrictEqual({
        ...u,
        roles: ['kept'],
        updatedAt: T0 + 1,
        version: 2,
      })
    })

    it('lets exactly one of 10 concurrent updates with the same expected version win', async () => {
      const u = user('frank')
      await users.createUser(u)
      const codes = await Promise.all(
        Array.from({ length: RACERS }, (_, i) =>
          codeOf(racer(i).updateUser(u.id, 1, { updatedAt: T0 + i, roles: [`winner-${i}`] })),
        ),
      )
      expect(tally(codes)).toStrictEqual(
        new Map([
          ['OK', 1],
          ['ERR_VERSION_CONFLICT', RACERS - 1],
        ]),
      )
      const i = codes.indexOf('OK')
      expect(await users.getUser(u.id)).toStrictEqual({
        ...u,
        roles: [`winner-${i}`],
        updatedAt: T0 + i,
        version: 2,
      })
    })

    it('useTotpStep: a step is accepted once, never a replay or an earlier step, and only with a factor', async () => {
      const withTotp = user('gina', { totp: totp({ lastUsedStep: 100 }) })
      const without = user('hank')
      await users.createUser(withTotp)
      await users.createUser(without)
      expect(await users.useTotpStep(withTotp.id, 100)).toBe(false)
      expect(await users.useTotpStep(withTotp.id, 101)).toBe(true)
      expect(await users.useTotpStep(withTotp.id, 101)).toBe(false)
      expect(await users.useTotpStep(withTotp.id, 99)).toBe(false)
      expect(await users.useTotpStep(withTotp.id, 105)).toBe(true)
      expect(await users.useTotpStep(withTotp.id, 104)).toBe(false)
      expect(await users.useTotpStep(without.id, 1)).toBe(false)
      expect(await users.useTotpStep(newId(), 1)).toBe(false)
      // Recorded without bumping the version; the user without a factor is untouched.
      expect(await users.getUser(withTotp.id)).toStrictEqual({
        ...withTotp,
        totp: { ...withTotp.totp!, lastUsedStep: 105 },
      })
      expect(await users.getUser(without.id)).toStrictEqual(without)
    })

    it('useTotpStep: exactly one of 10 concurrent uses of one step succeeds', async () => {
      const u = user('ivan', { totp: totp({ lastUsedStep: 7 }) })
      await users.createUser(u)
      const results = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => racer(i).useTotpStep(u.id, 8)),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      expect((await users.getUser(u.id))!.totp!.lastUsedStep).toBe(8)
    })

    it('useRecoveryCode: each code works once, the others stay in order, the version stays', async () => {
      const u = user('judy', { recoveryCodes: ['c1', 'c2', 'c3', 'c4'] })
      await users.createUser(u)
      expect(await users.useRecoveryCode(u.id, 'c3')).toBe(true)
      expect(await users.useRecoveryCode(u.id, 'c3')).toBe(false)
      expect(await users.useRecoveryCode(u.id, 'c1')).toBe(true)
      expect(await users.useRecoveryCode(u.id, 'nope')).toBe(false)
      expect(await users.useRecoveryCode(u.id, '')).toBe(false)
      expect(await users.useRecoveryCode(newId(), 'c2')).toBe(false)
      expect(await users.getUser(u.id)).toStrictEqual({ ...u, recoveryCodes: ['c2', 'c4'] })
      expect(await users.useRecoveryCode(u.id, 'c2')).toBe(true)
      expect(await users.useRecoveryCode(u.id, 'c4')).toBe(true)
      expect(await users.getUser(u.id)).toStrictEqual({ ...u, recoveryCodes: [] })
      expect(await users.useRecoveryCode(u.id, 'c4')).toBe(false)
    })

    it('useRecoveryCode: exactly one of 10 concurrent uses of one code succeeds', async () => {
      const u = user('ken', { recoveryCodes: ['a', 'b', 'c'] })
      await users.createUser(u)
      const results = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => racer(i).useRecoveryCode(u.id, 'b')),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      expect((await users.getUser(u.id))!.recoveryCodes).toStrictEqual(['a', 'c'])
    })

    it('recordFailure counts within a window, and a failure after it starts a new one at 1', async () => {
      const k = 'account:lena'
      expect(await users.recordFailure(k, T0, WINDOW)).toStrictEqual({
        count: 1,
        firstAt: T0,
        lastAt: T0,
      })
      expect(await users.recordFailure(k, T0 + 1000, WINDOW)).toStrictEqual({
        count: 2,
        firstAt: T0,
        lastAt: T0 + 1000,
      })
      expect(await users.recordFailure(k, T0 + WINDOW - 1, WINDOW)).toStrictEqual({
        count: 3,
        firstAt: T0,
        lastAt: T0 + WINDOW - 1,
      })
      expect(await users.getFailures(k, T0 + WINDOW - 1, WINDOW)).toStrictEqual({
        count: 3,
        firstAt: T0,
        lastAt: T0 + WINDOW - 1,
      })
      // The window ends WINDOW after its first failure, not after the latest one.
      expect(await users.recordFailure(k, T0 + WINDOW, WINDOW)).toStrictEqual({
        count: 1,
        firstAt: T0 + WINDOW,
        lastAt: T0 + WINDOW,
      })
      expect(await users.recordFailure(k, T0 + WINDOW + 5, WINDOW)).toStrictEqual({
        count: 2,
        firstAt: T0 + WINDOW,
        lastAt: T0 + WINDOW + 5,
      })
    })

    it('SEC-31: purgeFailures drops the counters whose window ended, and only those', async () => {
      await users.recordFailure('old', T0, WINDOW)
      await users.recordFailure('new', T0 + WINDOW / 2, WINDOW)
      const purged = await users.purgeFailures(T0 + WINDOW)
      if (users.kind !== 'redis') {
        // (Redis counters expire by themselves, on Redis's own clock)
        expect(purged).toBe(1)
        expect(await users.getFailures('old', T0 + WINDOW - 1, WINDOW * 10)).toBeNull()
      }
      expect(await users.getFailures('new', T0 + WINDOW, WINDOW)).toMatchObject({ count: 1 })
    })

    it('getFailures is null when there are none or the window has passed; clearFailures removes them', async () => {
      expect(await users.getFailures('ip:203.0.113.9', T0, WINDOW)).toBeNull()
      await users.recordFailure('ip:203.0.113.9', T0, WINDOW)
      await users.recordFailure('ip:203.0.113.10', T0, WINDOW)
      expect(await users.getFailures('ip:203.0.113.9', T0 + WINDOW - 1, WINDOW)).toStrictEqual({
        count: 1,
        firstAt: T0,
        lastAt: T0,
      })
      expect(await users.getFailures('ip:203.0.113.9', T0 + WINDOW, WINDOW)).toBeNull()
      expect(await users.getFailures('ip:203.0.113.9', T0 + 10 * WINDOW, WINDOW)).toBeNull()
      await users.clearFailures('ip:203.0.113.9')
      expect(await users.getFailures('ip:203.0.113.9', T0 + 1, WINDOW)).toBeNull()
      await users.clearFailures('ip:never-seen')
      expect(await users.getFailures('ip:203.0.113.10', T0 + 1, WINDOW)).toStrictEqual({
        count: 1,
        firstAt: T0,
        lastAt: T0,
      })
      expect(await users.recordFailure('ip:203.0.113.9', T0 + 2, WINDOW)).toStrictEqual({
        count: 1,
        firstAt: T0 + 2,
        lastAt: T0 + 2,
      })
    })

    it('counts 20 concurrent recordFailure calls on one key as 20', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => racer(i).recordFailure('hot', T0 + 1, WINDOW)),
      )
      expect(results.map((r) => r.count).sort((a, b) => a - b)).toStrictEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      )
      expect(await users.getFailures('hot', T0 + 1, WINDOW)).toStrictEqual({
        count: 20,
        firstAt: T0 + 1,
        lastAt: T0 + 1,
      })
    })

    it('SEC-54: failure keys and usernames never reach key syntax', async () => {
      const keys = [
        'a:b*{x}🙂',
        'a:b*{x}',
        'a:b*',
        'a:b',
        '*',
        '?',
        '[a-z]',
        '{x}',
        '%',
        '_',
        'a\\b',
        '',
        ' ',
        "x'); DELETE FROM auth_failures; --",
        'k'.repeat(300),
        'k'.repeat(299),
        `${'k'.repeat(299)}🙂`,
      ]
      for (const [i, k] of keys.entries()) {
        for (let n = 0; n <= i; n++) await users.recordFailure(k, T0 + n, WINDOW)
      }
      for (const [i, k] of keys.entries()) {
        expect(await users.getFailures(k, T0 + i, WINDOW)).toStrictEqual({
          count: i + 1,
          firstAt: T0,
          lastAt: T0 + i,
        })
      }
      await users.clearFailures('*')
      await users.clearFailures('k'.repeat(300))
      for (const [i, k] of keys.entries()) {
        const cleared = k === '*' || k === 'k'.repeat(300)
        expect((await users.getFailures(k, T0 + i, WINDOW))?.count ?? 0).toBe(cleared ? 0 : i + 1)
      }

      const names = [
        'a:b*{x}🙂',
        'a:b*{x}',
        'a:b*',
        '*',
        '%',
        '_',
        "x'); DROP TABLE users; --",
        'u'.repeat(64),
        '🙂'.repeat(64),
      ]
      const made = names.map((n) => user(n))
      for (const u of made) await users.createUser(u)
      for (const u of made) {
        expect(await users.getUserByName(u.username)).toStrictEqual(u)
        expect(await users.getUser(u.id)).toStrictEqual(u)
      }
      for (const absent of ['a:b', 'a:*', 'u'.repeat(63), '🙂'.repeat(63), '', '_%']) {
        expect(await users.getUserByName(absent)).toBeNull()
      }
    })

    it('shares the connection with its session store: both work, and closing the user store leaves the session store working', async () => {
      await host.init()
      const clock = new ManualClock(T0)
      const sessions = new Sessions({ store: host, clock })
      const u = user('olga')
      await users.createUser(u)
      const { token } = await sessions.create({ principal: u.id })
      expect(await users.getUserByName('olga')).toStrictEqual(u)
      expect((await sessions.validate(token)).principal).toBe(u.id)

      await users.close()
      await host.ping()
      expect((await sessions.validate(token)).principal).toBe(u.id)
      const second = await sessions.create({ principal: u.id })
      expect(await sessions.list(u.id)).toHaveLength(2)
      expect((await sessions.end(second.session.id, 'logout')).ended).toBe(true)
      expect(await sessions.list(u.id)).toHaveLength(1)

      // Opened again on the same connection, the user store finds what it had.
      await users.init()
      expect(await users.getUser(u.id)).toStrictEqual(u)
    })

    it('init is idempotent, after the session store has been initialised too', async () => {
      const other = await options.create()
      try {
        await other.init()
        const otherUsers = other.users()
        await otherUsers.init()
        await otherUsers.init()
        const u = user('pat')
        await otherUsers.createUser(u)
        await otherUsers.init()
        expect(await otherUsers.getUser(u.id)).toStrictEqual(u)
        await other.ping()
      } finally {
        await options.destroy?.(other)
        await other.users().close()
        await other.close()
      }
    })
  })
}
