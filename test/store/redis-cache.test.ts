import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { isParleyError } from '../../src/core/errors.ts'
import { Sessions } from '../../src/core/sessions.ts'
import type { SessionStore } from '../../src/core/store.ts'
import { RedisStore } from '../../src/store/redis/index.ts'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const MIN = 60_000
const open: { close(): Promise<void> }[] = []
const prefixes: string[] = []
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close()
  for (const prefix of prefixes.splice(0)) {
    const scoped = new RedisStore({ url: URL, prefix })
    await scoped.init()
    await scoped.destroyAll()
    await scoped.close()
  }
})

function newPrefix(): string {
  const prefix = `parley-test:${randomUUID()}:`
  prefixes.push(prefix)
  return prefix
}

/** Counts store reads, to tell a cache hit (no read) from a miss. */
function counting(store: SessionStore): { store: SessionStore; reads: () => number } {
  let reads = 0
  const get = store.get.bind(store)
  store.get = (id: string) => {
    reads++
    return get(id)
  }
  return { store, reads: () => reads }
}

async function node(prefix: string, clock: ManualClock, url = URL, cache = true) {
  const store = new RedisStore({ url, prefix, commandTimeoutMs: 500, connectTimeoutMs: 500 })
  await store.init()
  const sessions = new Sessions({ store, clock, policy: { maxSessionsPerPrincipal: 0 } })
  if (cache) expect(await sessions.enableCache({ ttlMs: 5000 })).toBe(true)
  open.push({ close: () => store.close() }, { close: () => sessions.close() })
  return { sessions, ...counting(store) }
}

async function reasonOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (isParleyError(err, 'ERR_SESSION_ENDED')) return err.details?.reason
    if (isParleyError(err)) return err.code
    throw err
  }
}

async function within(ms: number, condition: () => Promise<boolean>): Promise<number> {
  const start = performance.now()
  while (performance.now() - start < ms) {
    if (await condition()) return performance.now() - start
    await new Promise((r) => setTimeout(r, 5)) // polling a pub/sub delivery, not waiting out a timeout
  }
  throw new Error(`not within ${ms} ms`)
}

describe('Redis session cache', () => {
  it('a hot session costs no store read; its data comes back as a copy the caller may change', async () => {
    const prefix = newPrefix()
    const clock = new ManualClock()
    const a = await node(prefix, clock)
    const { token } = await a.sessions.create({
      principal: 'p',
      data: { n: 1 },
      auth: { factors: ['password'], level: 1 },
    })
    const first = await a.sessions.validate(token) // a miss: read from Redis, then cached
    first.data.n = 42
    first.auth.level = 9
    first.auth.factors.push('totp')
    const before = a.reads()
    for (let i = 0; i < 20; i++) {
      const s = await a.sessions.validate(token)
      s.data.n = 99
    }
    expect(a.reads()).toBe(before)
    const again = await a.sessions.validate(token)
    expect(again.data).toEqual({ n: 1 })
    expect(again.auth).toMatchObject({ level: 1, factors: ['password'] })
  })

  it('SEC-19: a session ended on another node stops validating on this one within the push delay, long before the cache TTL', async () => {
    const prefix = newPrefix()
    const clock = new ManualClock()
    const a = await node(prefix, clock)
    const b = await node(prefix, clock, URL, false)
    const { session, token } = await a.sessions.create({ principal: 'p' })
    await a.sessions.validate(token) // cached on a
    await b.sessions.end(session.id, 'revoked', { actor: 'node-b' })
    const took = await within(
      2000,
      async () => (await reasonOf(a.sessions.validate(token))) === 'revoked',
    )
    expect(took).toBeLessThan(1000)
    const updated = await a.sessions.create({ principal: 'q', data: { v: 1 } })
    await a.sessions.validate(updated.token)
    await b.sessions.update(updated.session.id, 1, { data: { v: 2 } })
    await within(2000, async () => (await a.sessions.validate(updated.token)).data.v === 2)
  })

  it('SEC-56: while the change feed is down nothing is served from the cache: requests fail closed, then caching resumes', async () => {
    const prefix = newPrefix()
    const clock = new ManualClock()
    const proxy: TcpProxy = await startTcpProxy(Number(new globalThis.URL(URL).port || 6379))
    open.push({ close: () => proxy.close() })
    const a = await node(prefix, clock, `redis://127.0.0.1:${proxy.port}`)
    const { token } = await a.sessions.create({ principal: 'p' })
    await a.sessions.validate(token)
    expect(a.sessions.cache!.size).toBe(1)
    await proxy.cut()
    await within(2000, async () => a.sessions.cache!.linkUp === false)
    expect(a.sessions.cache!.size).toBe(0)
    expect(await reasonOf(a.sessions.validate(token))).toBe('ERR_STORE_UNAVAILABLE')
    await proxy.restore()
    await within(
      5000,
      async () => a.sessions.cache!.linkUp && (await reasonOf(a.sessions.validate(token))) === 'OK',
    )
    const reads = a.reads()
    await a.sessions.validate(token)
    expect(a.reads()).toBe(reads)
  })

  it('a cached record that looks expired is checked against the store: a touch on another node keeps it alive', async () => {
    const prefix = newPrefix()
    const clock = new ManualClock()
    const a = await node(prefix, clock)
    const b = await node(prefix, clock, URL, false)
    const { token } = await a.sessions.create({ principal: 'p' })
    await a.sessions.validate(token) // cached on a with the original idle expiry
    clock.advance(20 * MIN)
    await b.sessions.validate(token) // b touches: the idle expiry moves to +50 min
    clock.advance(15 * MIN) // past a's cached idle expiry (30 min), within the real one
    expect(await reasonOf(a.sessions.validate(token))).toBe('OK')
    clock.advance(31 * MIN)
    expect(await reasonOf(a.sessions.validate(token))).toBe('idle_timeout')
  })
})
