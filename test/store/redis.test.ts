import { randomUUID } from 'node:crypto'
import net from 'node:net'
import { createClient, ErrorReply } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SessionRecord } from '../../src/core/session.ts'
import type { SessionStore } from '../../src/core/store.ts'
import { newId } from '../../src/core/token.ts'
import { principalKey } from '../../src/store/redis/codec.ts'
import { type RedisClientLike, RedisStore } from '../../src/store/redis/index.ts'
import { startTcpProxy } from '../helpers/tcp-proxy.ts'
import { runStoreContract } from './contract.case.ts'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const PORT = Number(new globalThis.URL(URL).port || 6379)

async function create(): Promise<RedisStore> {
  const store = new RedisStore({ url: URL, prefix: `parley-test:${randomUUID()}:` })
  await store.init()
  return store
}

async function destroy(store: SessionStore): Promise<void> {
  await (store as RedisStore).destroyAll()
}

async function outage() {
  const proxy = await startTcpProxy(PORT)
  const prefix = `parley-test:${randomUUID()}:`
  const store = new RedisStore({
    url: `redis://127.0.0.1:${proxy.port}`,
    prefix,
    connectTimeoutMs: 500,
    commandTimeoutMs: 500,
  })
  await store.init()
  return {
    store,
    outage: proxy,
    async dispose() {
      await store.close()
      await proxy.close()
      // Clean up over a direct connection, whatever state the proxied one was left in.
      const direct = new RedisStore({ url: URL, prefix })
      await direct.init()
      await direct.destroyAll()
      await direct.close()
    },
  }
}

runStoreContract({ name: 'redis', create, destroy, outage })

const MIN = 60_000
const T0 = 1_700_000_000_000

function record(principal: string, at: number, over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: newId(),
    secretHash: 'h',
    principal,
    state: 'active',
    createdAt: at,
    lastSeenAt: at,
    idleTimeoutMs: 30 * MIN,
    idleExpiresAt: at + 30 * MIN,
    absoluteExpiresAt: at + 60 * MIN,
    endedAt: null,
    endReason: null,
    auth: { factors: ['password', 'totp'], level: 2, authenticatedAt: at - 1 },
    client: { ip: null, userAgent: '' },
    data: { nested: { a: [1, null, 'x'] }, empty: {}, list: [] },
    version: 1,
    ...over,
  }
}

describe('RedisStore specifics', () => {
  let store: RedisStore
  const raw = createClient({ url: URL })
  raw.on('error', () => {})

  beforeAll(async () => {
    await raw.connect()
  })
  afterAll(async () => {
    await raw.close()
  })

  const keys = async () =>
    (await raw.keys(`${store.prefix}*`)).map((k) => k.slice(store.prefix.length)).sort()
  const setup = async () => {
    store = await create()
  }
  const teardown = async () => {
    await store.destroyAll()
    await store.close()
  }

  it('round-trips a record exactly, nulls and empty strings included', async () => {
    await setup()
    try {
      const r = record('rt', T0)
      await store.create({
        record: r,
        maxPerPrincipal: 0,
        onLimit: 'evict_lru',
        context: { at: T0 },
      })
      expect(await store.get(r.id)).toStrictEqual(r)
      const ended = (await store.end(r.id, 'logout', {
        at: T0 + 5,
        actor: 'principal',
        ip: '',
        userAgent: null,
      }))!
      expect(ended).toStrictEqual({
        ...r,
        state: 'ended',
        endedAt: T0 + 5,
        endReason: 'logout',
        version: 2,
      })
      expect(await store.get(r.id)).toStrictEqual(ended)
      const [created, end] = await store.events({ sessionId: r.id })
      expect(created).toStrictEqual({
        id: expect.stringMatching(/^\d{16}$/),
        at: T0,
        type: 'session.created',
        sessionId: r.id,
        principal: 'rt',
        reason: null,
        actor: null,
        ip: null,
        userAgent: null,
        detail: { factors: ['password', 'totp'], level: 2 },
      })
      expect(end).toMatchObject({
        reason: 'logout',
        actor: 'principal',
        ip: '',
        userAgent: null,
        detail: null,
      })
      expect(end!.id > created!.id).toBe(true)
    } finally {
      await teardown()
    }
  })

  it('keeps principals out of key syntax: principal keys are SHA-256, base64url', async () => {
    await setup()
    try {
      const odd = 'a:b*{x}[y]?\\ 🙂'
      const r = record(odd, T0)
      await store.create({
        record: r,
        maxPerPrincipal: 0,
        onLimit: 'evict_lru',
        context: { at: T0 },
      })
      const pk = principalKey(odd)
      expect(pk).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(await keys()).toEqual(
        ['evseq', 'exp', `ev:p:${pk}`, `ev:s:${r.id}`, `p:${pk}`, `s:${r.id}`].sort(),
      )
      expect((await store.listByPrincipal(odd)).map((s) => s.id)).toEqual([r.id])
      expect(await store.listByPrincipal('\ud800')).toEqual([])
    } finally {
      await teardown()
    }
  })

  it('sweeps only what expired, by the expiry index, and leaves the rest alone', async () => {
    await setup()
    try {
      const soon = record('sw', T0, { idleExpiresAt: T0 + MIN })
      const late = record('sw', T0)
      for (const r of [soon, late]) {
        await store.create({
          record: r,
          maxPerPrincipal: 0,
          onLimit: 'evict_lru',
          context: { at: T0 },
        })
      }
      expect(await store.sweep(T0 + MIN - 1, 10)).toEqual([])
      const swept = await store.sweep(T0 + MIN, 10)
      expect(swept.map((s) => [s.id, s.endReason, s.endedAt])).toEqual([
        [soon.id, 'idle_timeout', T0 + MIN],
      ])
      expect(await raw.zRange(`${store.prefix}exp`, 0, -1)).toEqual([late.id])
      expect(await raw.zRange(`${store.prefix}ended`, 0, -1)).toEqual([soon.id])
      expect((await store.get(late.id))!.state).toBe('active')
      const ttl = await raw.pTTL(`${store.prefix}s:${soon.id}`)
      expect(ttl).toBeGreaterThan(300 * 24 * 60 * MIN)
      expect(await raw.pTTL(`${store.prefix}s:${late.id}`)).toBe(-1)
    } finally {
      await teardown()
    }
  })

  it('a touch moves both index scores; an older touch changes nothing', async () => {
    await setup()
    try {
      const r = record('tc', T0)
      await store.create({
        record: r,
        maxPerPrincipal: 0,
        onLimit: 'evict_lru',
        context: { at: T0 },
      })
      const t = (await store.touch(r.id, { at: T0 + 2 * MIN, idleExpiresAt: T0 + 32 * MIN }))!
      expect(t).toMatchObject({
        lastSeenAt: T0 + 2 * MIN,
        idleExpiresAt: T0 + 32 * MIN,
        version: 1,
      })
      expect(await raw.zScore(`${store.prefix}exp`, r.id)).toBe(T0 + 32 * MIN)
      expect(await raw.zScore(`${store.prefix}p:${principalKey('tc')}`, r.id)).toBe(T0 + 2 * MIN)
      const older = (await store.touch(r.id, { at: T0 + MIN, idleExpiresAt: T0 + 31 * MIN }))!
      expect(older).toStrictEqual(t)
      expect(
        await store.touch(r.id, { at: T0 + 32 * MIN, idleExpiresAt: T0 + 62 * MIN }),
      ).toBeNull()
      const capped = (await store.touch(r.id, { at: T0 + 31 * MIN, idleExpiresAt: T0 + 61 * MIN }))!
      expect(capped.idleExpiresAt).toBe(T0 + 60 * MIN)
      expect(await raw.zScore(`${store.prefix}exp`, r.id)).toBe(T0 + 60 * MIN)
    } finally {
      await teardown()
    }
  })

  it('purge removes the session, its streams and its entries in the principal stream', async () => {
    await setup()
    try {
      const a = record('pg', T0)
      const b = record('pg', T0)
      for (const r of [a, b]) {
        await store.create({
          record: r,
          maxPerPrincipal: 0,
          onLimit: 'evict_lru',
          context: { at: T0 },
        })
      }
      await store.end(a.id, 'logout', { at: T0 + 1 })
      expect(await store.purge(T0 + 1, 10)).toBe(0)
      expect(await store.purge(T0 + 2, 10)).toBe(1)
      expect(await store.get(a.id)).toBeNull()
      expect((await store.events({ principal: 'pg' })).map((e) => e.sessionId)).toEqual([b.id])
      await store.end(b.id, 'logout', { at: T0 + 3 })
      expect(await store.purge(T0 + 4, 10)).toBe(1)
      expect(await keys()).toEqual(['evseq'])
    } finally {
      await teardown()
    }
  })

  it('falls back to EVAL when Redis has lost a script (NOSCRIPT after a restart)', async () => {
    const client = createClient({ url: URL, disableOfflineQueue: true })
    client.on('error', () => {})
    await client.connect()
    const evals: string[] = []
    let forget = 2
    const forgetful: RedisClientLike = {
      get isOpen() {
        return client.isOpen
      },
      get isReady() {
        return client.isReady
      },
      sendCommand<T>(args: ReadonlyArray<string | Buffer>, options?: { timeout?: number }) {
        const name = String(args[0])
        if (name.startsWith('EVAL')) evals.push(name)
        if (name === 'EVALSHA' && forget-- > 0) {
          return Promise.reject(new ErrorReply('NOSCRIPT No matching script. Please use EVAL.'))
        }
        return client.sendCommand<T>(args, options)
      },
      on: (event, listener) => client.on(event, listener),
      off: (event, listener) => client.off(event, listener),
    }
    const shared = new RedisStore({ client: forgetful, prefix: `parley-test:${randomUUID()}:` })
    try {
      const r = record('fl', T0)
      await shared.create({
        record: r,
        maxPerPrincipal: 0,
        onLimit: 'evict_lru',
        context: { at: T0 },
      })
      expect((await shared.end(r.id, 'logout', { at: T0 + 1 }))!.state).toBe('ended')
      expect(await shared.end(r.id, 'logout', { at: T0 + 2 })).toBeNull()
      expect(evals).toEqual(['EVALSHA', 'EVAL', 'EVALSHA', 'EVAL', 'EVALSHA'])
    } finally {
      await shared.destroyAll()
      await shared.close()
      await client.close()
    }
  })

  it('uses an existing client and leaves it open on close', async () => {
    const client = createClient({ url: URL, disableOfflineQueue: true })
    client.on('error', () => {})
    await client.connect()
    const shared = new RedisStore({ client, prefix: `parley-test:${randomUUID()}:` })
    await shared.init()
    await shared.ping()
    await shared.destroyAll()
    await shared.close()
    expect(client.isReady).toBe(true)
    expect(await client.ping()).toBe('PONG')
    await client.close()
  })

  it('init rejects with ERR_STORE_UNAVAILABLE when nothing listens, and never crashes', async () => {
    const proxy = await startTcpProxy(PORT)
    await proxy.cut()
    const dead = new RedisStore({
      url: `redis://127.0.0.1:${proxy.port}`,
      prefix: `parley-test:${randomUUID()}:`,
      connectTimeoutMs: 200,
    })
    await expect(dead.init()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    await expect(dead.get(newId())).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    await proxy.restore()
    await Promise.all([dead.init(), dead.init()])
    await dead.init()
    await dead.ping()
    await dead.close()
    await expect(dead.ping()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    await proxy.close()
  })

  it('init rejects when a server accepts the connection but never answers', async () => {
    const server = net.createServer(() => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as net.AddressInfo
    const mute = new RedisStore({
      url: `redis://127.0.0.1:${port}`,
      connectTimeoutMs: 200,
      commandTimeoutMs: 200,
    })
    try {
      await expect(mute.init()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    } finally {
      await mute.close()
      server.close()
    }
  })
})
