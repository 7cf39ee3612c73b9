/**
 * @module The session cache on the embedded SQLite store: its change feed reads the audit log, so an
 * end or update made by another process on the same file reaches this process's cache within one
 * watch interval. Timers are faked; nothing sleeps.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { isParleyError } from '../../src/core/errors.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { SqliteStore } from '../../src/store/sqlite/index.ts'

let dir: string
const closers: (() => Promise<void>)[] = []
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-cache-'))
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
})
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  vi.useRealTimers()
  rmSync(dir, { recursive: true, force: true })
})

/** One "process": its own connection to the shared file and its own Sessions. */
async function node(clock: ManualClock, cache: boolean) {
  const store = new SqliteStore({ path: join(dir, 'parley.db'), watchIntervalMs: 250 })
  await store.init()
  let reads = 0
  const get = store.get.bind(store)
  store.get = (id: string) => {
    reads++
    return get(id)
  }
  const sessions = new Sessions({ store, clock, policy: { maxSessionsPerPrincipal: 0 } })
  if (cache) expect(await sessions.enableCache({ ttlMs: 5000 })).toBe(true)
  closers.push(
    () => store.close(),
    () => sessions.close(),
  )
  return { sessions, store, reads: () => reads }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (isParleyError(err)) return err.code
    throw err
  }
}

describe('SQLite session cache', () => {
  it('SEC-19: a hot session costs no store read; an end by another process reaches the cache within one watch interval', async () => {
    const clock = new ManualClock(1_800_000_000_000)
    const a = await node(clock, true)
    const b = await node(clock, false)
    const { session, token } = await a.sessions.create({ principal: 'ada' })
    await a.sessions.validate(token)
    const before = a.reads()
    for (let i = 0; i < 5; i++) await a.sessions.validate(token)
    expect(a.reads()).toBe(before) // served from the cache

    await b.sessions.end(session.id, 'revoked')
    vi.advanceTimersByTime(250)
    expect(await codeOf(a.sessions.validate(token))).toBe('ERR_SESSION_ENDED')
  })

  it('an update elsewhere invalidates; every session ended by end-all elsewhere is refused after one interval', async () => {
    const clock = new ManualClock(1_800_000_000_000)
    const a = await node(clock, true)
    const b = await node(clock, false)
    const made = await Promise.all(
      ['p1', 'p2', 'p3'].map((principal) => a.sessions.create({ principal })),
    )
    for (const m of made) await a.sessions.validate(m.token)
    const [first] = made
    await b.sessions.update(first!.session.id, first!.session.version, { data: { plan: 'pro' } })
    vi.advanceTimersByTime(250)
    expect((await a.sessions.validate(first!.token)).data).toEqual({ plan: 'pro' })

    await b.sessions.endAll('revoked_all')
    vi.advanceTimersByTime(250)
    for (const m of made)
      expect(await codeOf(a.sessions.validate(m.token))).toBe('ERR_SESSION_ENDED')
  })

  it('an end in this process invalidates at once, without waiting for the feed', async () => {
    const clock = new ManualClock(1_800_000_000_000)
    const a = await node(clock, true)
    const { session, token } = await a.sessions.create({ principal: 'ada' })
    await a.sessions.validate(token)
    await a.sessions.end(session.id, 'logout')
    expect(await codeOf(a.sessions.validate(token))).toBe('ERR_SESSION_ENDED')
  })

  it('SEC-56: when the feed cannot read the log, the cache stands aside and every request reads the store', async () => {
    const clock = new ManualClock(1_800_000_000_000)
    const a = await node(clock, true)
    const { token } = await a.sessions.create({ principal: 'ada' })
    await a.sessions.validate(token)
    expect(a.sessions.cache?.linkUp).toBe(true)
    await a.store.close() // the feed's next read fails
    vi.advanceTimersByTime(250)
    expect(a.sessions.cache?.linkUp).toBe(false)
    expect(await codeOf(a.sessions.validate(token))).toBe('ERR_STORE_UNAVAILABLE')
  })
})
