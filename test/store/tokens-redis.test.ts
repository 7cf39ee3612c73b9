/** @module The TokenStore contract on the Redis store, and its key names and expiries. */
import { createHash, randomUUID } from 'node:crypto'
import { createClient, ErrorReply } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newId } from '../../src/core/token.ts'
import {
  type RedisClientLike,
  RedisStore,
  TOKEN_EXPIRY_MARGIN_MS,
} from '../../src/store/redis/index.ts'
import type { RefreshRecord } from '../../src/tokens/token-store.ts'
import { runTokenStoreContract } from './token-contract.case.ts'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const create = async () => new RedisStore({ url: URL, prefix: `parley-test:${randomUUID()}:` })

runTokenStoreContract({
  name: 'redis',
  create,
  destroy: async (store) => {
    await (store as RedisStore).destroyAll()
  },
  reopen: async (store) => new RedisStore({ url: URL, prefix: (store as RedisStore).prefix }),
})

const T0 = 1_700_000_000_000
const DAY = 24 * 60 * 60_000

function refresh(over: Partial<RefreshRecord> = {}): RefreshRecord {
  return {
    id: newId(),
    secretHash: 'h',
    sessionId: newId(),
    clientId: 'c',
    createdAt: T0,
    expiresAt: T0 + DAY,
    rotatedAt: null,
    successorId: null,
    successorAccess: null,
    jkt: null,
    ...over,
  }
}

describe('RedisTokenStore specifics', () => {
  const raw = createClient({ url: URL })
  raw.on('error', () => {})
  beforeAll(async () => {
    await raw.connect()
  })
  afterAll(async () => {
    await raw.close()
  })

  async function withStore(fn: (store: RedisStore) => Promise<void>): Promise<void> {
    const store = await create()
    try {
      await store.tokens().init()
      await fn(store)
    } finally {
      await store.destroyAll()
      await store.close()
    }
  }

  it('SEC-54: key names hold hashes of single-use keys, never the text', async () => {
    await withStore(async (store) => {
      const tokens = store.tokens()
      const r = refresh()
      const next = refresh({ sessionId: r.sessionId })
      await tokens.createRefresh(r)
      await tokens.rotateRefresh(r.id, next, { jti: 'j', iat: 1, exp: 2 }, T0 + 1)
      await tokens.addSigningKey(
        {
          kid: 'kid-1',
          alg: 'EdDSA',
          publicJwk: { kty: 'OKP', crv: 'Ed25519', x: 'x' },
          privateKeyEnc: 'sealed',
          createdAt: T0,
          retiresAt: T0 + DAY,
          expiresAt: T0 + 2 * DAY,
        },
        null,
      )
      const jti = 'dpop:https://api.example/{x}*:jti-🙂'
      await tokens.useOnce(jti, T0 + 60_000, T0)
      const keys = (await raw.keys(`${store.prefix}*`)).map((k) => k.slice(store.prefix.length))
      const sha = createHash('sha256').update(jti).digest('base64url')
      expect(keys.sort()).toStrictEqual(
        ['sk', 'sk:kid-1', 'skseq', `rt:${r.id}`, `rt:${next.id}`, 'rtexp', `once:${sha}`].sort(),
      )
      for (const k of keys) expect(k).not.toContain('dpop')
      expect(await raw.get(`${store.prefix}once:${sha}`)).toBe(String(T0 + 60_000))
    })
  })

  it('expires refresh tokens and single-use values by themselves, a margin after their expiry on the caller’s clock', async () => {
    await withStore(async (store) => {
      const tokens = store.tokens()
      const r = refresh({ createdAt: T0, expiresAt: T0 + DAY })
      await tokens.createRefresh(r)
      const rtTtl = await raw.pTTL(`${store.prefix}rt:${r.id}`)
      expect(rtTtl).toBeGreaterThan(DAY + TOKEN_EXPIRY_MARGIN_MS - 5_000)
      expect(rtTtl).toBeLessThanOrEqual(DAY + TOKEN_EXPIRY_MARGIN_MS)
      const next = refresh({ createdAt: T0 + 10, expiresAt: T0 + 10 + 2 * DAY })
      await tokens.rotateRefresh(r.id, next, { jti: 'j', iat: 1, exp: 2 }, T0 + 10)
      const nextTtl = await raw.pTTL(`${store.prefix}rt:${next.id}`)
      expect(nextTtl).toBeGreaterThan(2 * DAY + TOKEN_EXPIRY_MARGIN_MS - 5_000)
      await tokens.useOnce('jti', T0 + 60_000, T0)
      const [once] = await raw.keys(`${store.prefix}once:*`)
      const onceTtl = await raw.pTTL(once!)
      expect(onceTtl).toBeGreaterThan(60_000 + TOKEN_EXPIRY_MARGIN_MS - 5_000)
      expect(onceTtl).toBeLessThanOrEqual(60_000 + TOKEN_EXPIRY_MARGIN_MS)
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
      const tokens = store.tokens()
      await tokens.init()
      expect(await tokens.useOnce('k', T0 + 1, T0)).toBe(true)
      expect(await tokens.listSigningKeys()).toStrictEqual([])
      expect(await tokens.useOnce('k', T0 + 1, T0)).toBe(false)
      expect(evals).toEqual(['EVALSHA', 'EVAL', 'EVALSHA', 'EVAL', 'EVALSHA'])
      // Neither store closes a client it was given.
      await tokens.close()
      await store.close()
      expect(raw.isOpen).toBe(true)
    } finally {
      await store.destroyAll()
    }
  })

  it('refuses ids that are not well-formed Unicode, and finds nothing by them', async () => {
    await withStore(async (store) => {
      const tokens = store.tokens()
      await expect(tokens.createRefresh(refresh({ id: 'a\uD800' }))).rejects.toMatchObject({
        code: 'ERR_VALIDATION',
      })
      expect(await tokens.getRefresh('a\uD800')).toBeNull()
      expect(
        await tokens.rotateRefresh('a\uD800', refresh(), { jti: 'j', iat: 1, exp: 2 }, T0),
      ).toStrictEqual({ status: 'missing' })
    })
  })

  it('fails with ERR_STORE_UNAVAILABLE once the session store has closed the connection', async () => {
    const store = await create()
    const tokens = store.tokens()
    await tokens.init()
    await store.close()
    await expect(tokens.getRefresh('x')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    await expect(tokens.useOnce('x', T0 + 1, T0)).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    })
  })
})
