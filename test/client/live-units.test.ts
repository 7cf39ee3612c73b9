/**
 * @module Unit tests of the live client's parts that need no server: backoff bounds, the
 * heartbeat watchdog on a manual scheduler, outbox persistence (memory and a fake localStorage),
 * RPC bookkeeping and credential refresh timing.
 */
import { describe, expect, it } from 'vitest'
import {
  BACKOFF_CAP_MS,
  Backoff,
  backoffCeiling,
  backoffDelay,
  cryptoRandom,
} from '../../src/client/live-backoff.ts'
import { LiveCallError } from '../../src/client/live-errors.ts'
import { heartbeatTimeout, Watchdog } from '../../src/client/live-heartbeat.ts'
import {
  BrowserLiveStorage,
  MemoryLiveStorage,
  Outbox,
  parseSaved,
  type SavedLive,
} from '../../src/client/live-outbox.ts'
import { CredentialRefresh } from '../../src/client/live-refresh.ts'
import { CallBook, CallHandlers } from '../../src/client/live-rpc.ts'
import { ManualScheduler } from '../../src/client/live-scheduler.ts'
import { MemoryStorage } from '../../src/client/token-state.ts'
import type { PeerState } from '../../src/live/engine/types.ts'

describe('backoff', () => {
  it('attempt k waits in [0, min(30 s, 500 ms × 2^k)]', () => {
    expect([0, 1, 2, 3, 5, 6, 7, 40, 2000].map((k) => backoffCeiling(k))).toEqual([
      500, 1000, 2000, 4000, 16_000, 30_000, 30_000, 30_000, 30_000,
    ])
    for (let k = 0; k < 12; k++) {
      const ceiling = backoffCeiling(k)
      expect(backoffDelay(k, () => 0)).toBe(0)
      expect(backoffDelay(k, () => 0.999_999_999)).toBe(ceiling)
      expect(backoffDelay(k, () => 1)).toBe(ceiling) // a random source that returns 1 stays in bounds
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(k, cryptoRandom)
        expect(Number.isInteger(d)).toBe(true)
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(ceiling)
      }
    }
  })

  it('is full jitter: spread over the whole range, mean about half the ceiling', () => {
    const samples = Array.from({ length: 4000 }, () => backoffDelay(10, cryptoRandom))
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length
    expect(mean).toBeGreaterThan(BACKOFF_CAP_MS * 0.45)
    expect(mean).toBeLessThan(BACKOFF_CAP_MS * 0.55)
    expect(samples.filter((d) => d < BACKOFF_CAP_MS * 0.1).length).toBeGreaterThan(200)
    expect(samples.filter((d) => d > BACKOFF_CAP_MS * 0.9).length).toBeGreaterThan(200)
  })

  it('counts attempts, uses retryMs when the server named one, and resets', () => {
    const b = new Backoff(() => 0.5)
    expect([b.next(), b.next(), b.next()]).toEqual([250, 500, 1000])
    expect(b.next(7_000)).toBe(7_000)
    expect(b.attempt).toBe(4)
    expect(b.next()).toBe(4_000)
    b.reset()
    expect(b.next()).toBe(250)
  })
})

describe('heartbeat watchdog', () => {
  it('declares the transport dead after 2 × heartbeatMs without a frame, once', () => {
    const time = new ManualScheduler(0)
    let dead = 0
    const dog = new Watchdog({ clock: time, scheduler: time, onDead: () => dead++ })
    dog.arm(heartbeatTimeout(15_000))
    time.advance(29_999)
    expect(dead).toBe(0)
    time.advance(1)
    expect(dead).toBe(1)
    time.advance(100_000)
    expect(dead).toBe(1)
    expect(dog.armed).toBe(false)
  })

  it('every frame restarts the count, without a timer per frame', () => {
    const time = new ManualScheduler(0)
    let dead = 0
    const dog = new Watchdog({ clock: time, scheduler: time, onDead: () => dead++ })
    dog.arm(30_000)
    for (let i = 0; i < 10; i++) {
      time.advance(20_000)
      dog.seen()
      dog.seen()
    }
    expect(dead).toBe(0)
    expect(time.pending).toBe(1)
    time.advance(29_999)
    expect(dead).toBe(0)
    time.advance(1)
    expect(dead).toBe(1)
  })

  it('stop() and re-arm() with a new timeout', () => {
    const time = new ManualScheduler(0)
    let dead = 0
    const dog = new Watchdog({ clock: time, scheduler: time, onDead: () => dead++ })
    dog.arm(15_000) // the connect timeout
    time.advance(10_000)
    dog.arm(30_000) // welcome: 2 × heartbeatMs
    time.advance(29_000)
    expect(dead).toBe(0)
    dog.stop()
    time.advance(60_000)
    expect(dead).toBe(0)
    expect(time.pending).toBe(0)
  })
})

const peerState = (seqs: number[]): PeerState => ({
  side: 'client',
  mode: 'full',
  turn: null,
  outSeq: seqs.at(-1) ?? 0,
  outAcked: 0,
  outLostTo: 0,
  outLostReason: null,
  outBuffer: seqs.map((seq) => ({ seq, json: `{"n":${seq}}`, bytes: 7, at: 1 })),
  inLast: 4,
  checkpoints: [],
  pendingCalls: [{ id: 'c1', method: 'echo', params: { x: 'é' } }],
  nextCallId: 2,
  nextResync: 1,
})

const record = (seqs: number[]): SavedLive => ({
  v: 1,
  sid: 'sid_1',
  token: 'plyr_abc',
  last: 4,
  resumeWindowMs: 120_000,
  lostAt: null,
  peer: peerState(seqs),
})

describe('outbox persistence', () => {
  it('round trips through memory, as a copy', () => {
    const storage = new MemoryLiveStorage()
    const outbox = new Outbox(storage, 'default')
    expect(outbox.read()).toBeNull()
    const r = record([1, 2, 3])
    outbox.write(r)
    r.peer.outBuffer.pop() // later changes in memory do not leak into what is stored
    expect(outbox.read()).toEqual(record([1, 2, 3]))
    outbox.clear()
    expect(outbox.read()).toBeNull()
  })

  it('round trips through a localStorage, one key per live session name', () => {
    const local = new MemoryStorage()
    const a = new Outbox(new BrowserLiveStorage(local), 'chat')
    const b = new Outbox(new BrowserLiveStorage(local), 'game')
    a.write(record([1]))
    b.write(record([1, 2]))
    expect(JSON.parse(local.getItem('parley:live:chat')!).peer.outBuffer).toHaveLength(1)
    expect(new Outbox(new BrowserLiveStorage(local), 'game').read()).toEqual(record([1, 2]))
    a.clear()
    expect(local.getItem('parley:live:chat')).toBeNull()
    expect(b.read()).not.toBeNull()
  })

  it('a full or broken storage does not throw; a corrupt record reads as none', () => {
    const full = {
      getItem: () => '{not json',
      setItem: () => {
        throw new Error('QuotaExceededError')
      },
      removeItem: () => {
        throw new Error('SecurityError')
      },
    }
    const outbox = new Outbox(new BrowserLiveStorage(full), 'x')
    outbox.write(record([1]))
    expect(outbox.failed).toBe(true)
    expect(outbox.read()).toBeNull()
    expect(() => outbox.clear()).not.toThrow()
    expect(parseSaved(JSON.stringify({ ...record([]), v: 2 }))).toBeNull()
    expect(parseSaved(JSON.stringify({ ...record([]), peer: { side: 'server' } }))).toBeNull()
  })

  it('BrowserLiveStorage needs a storage outside browsers', () => {
    expect(() => new BrowserLiveStorage()).toThrow(/no localStorage/)
  })
})

describe('rpc bookkeeping', () => {
  it('settles calls by id, reports unknown ids, and fails the rest at the end', async () => {
    const book = new CallBook()
    const a = book.wait('c1')
    const b = book.wait('c2')
    const c = book.wait('c3')
    expect(book.settle('c1', { ok: true, data: 42 })).toBe(true)
    expect(book.settle('c2', { ok: false, code: 'nope', message: 'no', data: { x: 1 } })).toBe(true)
    expect(book.settle('c9', { ok: true })).toBe(false)
    book.failAll(new LiveCallError('session_ended'))
    await expect(a).resolves.toBe(42)
    await expect(b).rejects.toMatchObject({ code: 'nope', message: 'no', data: { x: 1 } })
    await expect(c).rejects.toMatchObject({ code: 'session_ended' })
    expect(book.size).toBe(0)
  })

  it('handlers answer with results, LiveCallErrors, internal and unknown_method', async () => {
    const handlers = new CallHandlers()
    handlers.set('add', (p) => (p as number[]).reduce((x, y) => x + y, 0))
    handlers.set('when', () => new Date(0))
    handlers.set('refuse', () => {
      throw new LiveCallError('out_of_stock', 'sold out', { sku: 'a' })
    })
    const off = handlers.set('gone', () => 1)
    off()
    expect(await handlers.run('add', [1, 2], 'c1')).toEqual({ ok: true, data: 3 })
    expect(await handlers.run('when', undefined, 'c2')).toEqual({
      ok: true,
      data: '1970-01-01T00:00:00.000Z',
    })
    expect(await handlers.run('refuse', undefined, 'c3')).toEqual({
      ok: false,
      code: 'out_of_stock',
      message: 'sold out',
      data: { sku: 'a' },
    })
    expect(await handlers.run('gone', undefined, 'c4')).toMatchObject({ code: 'unknown_method' })
  })
})

describe('credential refresh', () => {
  it('refreshes ahead of expiry, then again at the next expiry; retries a failed credential()', async () => {
    const time = new ManualScheduler(0)
    const sent: string[] = []
    let fail = true
    const refresh = new CredentialRefresh({
      clock: time,
      scheduler: time,
      leewayMs: 30_000,
      credential: async () => {
        if (fail) throw new Error('offline')
        return `cred_${time.now()}`
      },
      send: (cred) => sent.push(cred) > 0,
    })
    refresh.plan(600_000)
    time.advance(569_999)
    await Promise.resolve()
    expect(sent).toEqual([])
    time.advance(1) // 30 s before expiry
    await new Promise((r) => setImmediate(r))
    expect(sent).toEqual([]) // credential() failed: retry in 5 s
    fail = false
    time.advance(5_000)
    await new Promise((r) => setImmediate(r))
    expect(sent).toEqual(['cred_575000'])
    refresh.plan(40_000 + time.now()) // short-lived: refresh at half its life
    time.advance(20_000)
    await new Promise((r) => setImmediate(r))
    expect(sent).toEqual(['cred_575000', 'cred_595000'])
    refresh.stop()
    expect(time.pending).toBe(0)
  })
})
