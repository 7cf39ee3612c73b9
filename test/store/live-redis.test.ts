/** @module The LiveStore contract on the Redis store, and its key names and expiries. */
import { createHash, randomUUID } from 'node:crypto'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LIVE_EXPIRY_MARGIN_MS, RedisStore } from '../../src/store/redis/index.ts'
import { liveRecord, runLiveStoreContract } from './live-contract.case.ts'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const create = async () => new RedisStore({ url: URL, prefix: `parley-test:${randomUUID()}:` })

runLiveStoreContract({
  name: 'redis',
  create,
  destroy: async (store) => {
    await (store as RedisStore).destroyAll()
  },
  reopen: async (store) => new RedisStore({ url: URL, prefix: (store as RedisStore).prefix }),
})

const T0 = 1_700_000_000_000
const MIN = 60_000
const sha = (text: string) => createHash('sha256').update(text).digest('base64url')

describe('RedisLiveStore specifics', () => {
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
      await store.live().init()
      await fn(store)
    } finally {
      await store.destroyAll()
      await store.close()
    }
  }

  it('SEC-54: key names hold hashes of ids in one hash tag per live session, never the id', async () => {
    await withStore(async (store) => {
      const live = store.live()
      const id = 'a}:*{x}'
      const r = liveRecord({ id, principal: 'p{1}*', sessionId: 'sess-1' })
      await live.create(r, { at: T0 })
      await live.commit([
        {
          id,
          gen: 1,
          append: [{ seq: 1, json: '1', bytes: 1, at: T0 }],
          checkpoints: [{ id: 'k', by: 'client', outSeq: 1, inSeq: 0, state: null, at: T0 }],
          at: T0,
        },
      ])
      await live.claimCall(id, 'c1', 1, T0 + MIN)
      const keys = (await raw.keys(`${store.prefix}*`)).map((k) => k.slice(store.prefix.length))
      const h = sha(id)
      expect(keys.sort()).toStrictEqual(
        [
          `live:{${h}}:r`,
          `live:{${h}}:m`,
          `live:{${h}}:c`,
          `live:{${h}}:co`,
          `live:{${h}}:k`,
          'live:exp',
          'live:cx',
          `live:p:${sha('p{1}*')}`,
          `live:s:${sha('sess-1')}`,
          'ev:s:sess-1',
          `ev:p:${sha('p{1}*')}`,
          'evseq',
        ].sort(),
      )
      for (const k of keys) expect(k).not.toContain('a}')
    })
  })

  it('expires a live session’s keys a margin after its expiresAt, and keeps the indexes as long', async () => {
    await withStore(async (store) => {
      const live = store.live()
      const r = liveRecord({ expiresAt: T0 + 10 * MIN })
      await live.create(r, { at: T0 })
      await live.commit([
        {
          id: r.id,
          gen: 1,
          append: [{ seq: 1, json: '1', bytes: 1, at: T0 }],
          expiresAt: T0 + 30 * MIN,
          at: T0 + MIN,
        },
      ])
      const h = sha(r.id)
      for (const k of [`live:{${h}}:r`, `live:{${h}}:m`, `live:p:${sha(r.principal)}`]) {
        const t = await raw.pTTL(`${store.prefix}${k}`)
        expect(t).toBeGreaterThan(29 * MIN + LIVE_EXPIRY_MARGIN_MS - 5_000)
        expect(t).toBeLessThanOrEqual(29 * MIN + LIVE_EXPIRY_MARGIN_MS)
      }
      // A record that vanished by expiry is no longer counted, and its index entry goes.
      await raw.del(`${store.prefix}live:{${h}}:r`)
      expect(await live.countByPrincipal(r.principal)).toBe(0)
      expect(await live.listBySession(r.sessionId)).toStrictEqual([])
      expect(await live.sweep(T0 + 60 * MIN, 10, 0)).toStrictEqual([])
      expect(await raw.zCard(`${store.prefix}live:exp`)).toBe(0)
    })
  })
})
