/** @module The UserStore contract on the Redis store, and its key names and expiries. */
import { createHash, randomUUID } from 'node:crypto'
import { createClient, ErrorReply } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newId } from '../../src/core/token.ts'
import { type RedisClientLike, RedisStore } from '../../src/store/redis/index.ts'
import { runUserStoreContract } from './user-contract.case.ts'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const create = async () => new RedisStore({ url: URL, prefix: `parley-test:${randomUUID()}:` })

runUserStoreContract({
  name: 'redis',
  create,
  destroy: async (store) => {
    await (store as RedisStore).destroyAll()
  },
  reopen: async (store) => new RedisStore({ url: URL, prefix: (store as RedisStore).prefix }),
})

describe('RedisUserStore specifics', () => {
  const raw = createClient({ url: URL })
  raw.on('error', () => {})
  beforeAll(async () => {
    await raw.connect()
  })
  afterAll(async () => {
    await raw.close()
  })

  const T0 = 1_700_000_000_000
  const WINDOW = 60_000

  async function withStore(fn: (store: RedisStore) => Promise<void>): Promise<void> {
    const store = await create()
    try {
      await store.users().init()
      await fn(store)
    } finally {
      await store.destroyAll()
      await store.close()
    }
  }

  it('SEC-54: key names hold hashes of usernames and failure keys, never the text', async () => {
    await withStore(async (store) => {
      const users = store.users()
      const username = 'a:b*{x}🙂 admin'
      const id = newId()
      await users.createUser({
        id,
        username,
        passwordHash: 'h',
        roles: [],
        permissions: [],
        disabled: false,
        totp: null,
        recoveryCodes: ['r1'],
        createdAt: T0,
        updatedAt: T0,
        version: 1,
      })
      await users.recordFailure('ip:203.0.113.9', T0, WINDOW)
      await users.recordFailure(`account:${username}`, T0, WINDOW)
      const keys = (await raw.keys(`${store.prefix}*`)).map((k) => k.slice(store.prefix.length))
      const sha = (text: string) => createHash('sha256').update(text).digest('base64url')
      expect(keys.sort()).toStrictEqual(
        [
          `u:${id}`,
          `uc:${id}`,
          `un:${sha(username)}`,
          `uf:${sha('ip:203.0.113.9')}`,
          `uf:${sha(`account:${username}`)}`,
        ].sort(),
      )
      for (const k of keys) {
        expect(k).not.toContain('admin')
        expect(k).not.toContain('203.0.113.9')
      }
    })
  })

  it('failure counters expire by themselves a minute after the end of their window (PEXPIRE)', async () => {
    await withStore(async (store) => {
      const users = store.users()
      await users.recordFailure('k', T0, WINDOW)
      const [key] = await raw.keys(`${store.prefix}uf:*`)
      const first = await raw.pTTL(key!)
      const MARGIN = 60_000
      expect(first).toBeGreaterThan(WINDOW + MARGIN - 5_000)
      expect(first).toBeLessThanOrEqual(WINDOW + MARGIN)
      // Later failures keep the window's end: the expiry shrinks with the time already spent.
      await users.recordFailure('k', T0 + 50_000, WINDOW)
      const second = await raw.pTTL(key!)
      expect(second).toBeGreaterThan(MARGIN)
      expect(second).toBeLessThanOrEqual(WINDOW - 50_000 + MARGIN)
      // A new window sets a full expiry again.
      await users.recordFailure('k', T0 + WINDOW, WINDOW)
      expect(await raw.pTTL(key!)).toBeGreaterThan(WINDOW + MARGIN - 5_000)
    })
  })

  it('falls back to EVAL when Redis has lost a script (NOSCRIPT after a restart)', async () => {
    const evals: string[] = []
    let forget = 2
    const forgetful: RedisClientLike = {
      get isOpen() {
        return raw.isOpen
      },
      get isReady() {
        return raw.isReady
      },
      sendCommand<T>(args: ReadonlyArray<string | Buffer>, options?: { timeout?: number }) {
        const name = String(args[0])
        if (name.startsWith('EVAL')) evals.push(name)
        if (name === 'EVALSHA' && forget-- > 0) {
          return Promise.reject(new ErrorReply('NOSCRIPT No matching script. Please use EVAL.'))
        }
        return raw.sendCommand<T>(args, options)
      },
      on: (event, listener) => raw.on(event, listener),
      off: (event, listener) => raw.off(event, listener),
    }
    const store = new RedisStore({ client: forgetful, prefix: `parley-test:${randomUUID()}:` })
    try {
      const users = store.users()
      await users.init()
      expect(await users.recordFailure('k', T0, WINDOW)).toStrictEqual({
        count: 1,
        firstAt: T0,
        lastAt: T0,
      })
      expect(await users.getUser(newId())).toBeNull()
      expect(await users.useTotpStep(newId(), 1)).toBe(false)
      expect(evals).toEqual(['EVALSHA', 'EVAL', 'EVALSHA', 'EVAL', 'EVALSHA'])
      // Neither store closes a client it was given.
      await users.close()
      await store.close()
      expect(raw.isOpen).toBe(true)
    } finally {
      await store.destroyAll()
    }
  })

  it('fails with ERR_STORE_UNAVAILABLE once the session store has closed the connection', async () => {
    const store = await create()
    const users = store.users()
    await users.init()
    await store.close()
    await expect(users.getUserByName('x')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    await expect(users.recordFailure('x', T0, WINDOW)).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    })
  })
})
