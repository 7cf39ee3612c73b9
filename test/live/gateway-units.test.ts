/** @module Unit tests of the gateway's parts: timer wheel, token bucket, counters, upgrade checks. */
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { resolveCookie } from '../../src/http/cookies.ts'
import { originSet } from '../../src/http/csrf.ts'
import {
  Counter,
  checkUpgrade,
  hashResumeToken,
  newResumeToken,
  TimerWheel,
  TokenBucket,
} from '../../src/live/server/index.ts'
import { ManualScheduler } from './gateway-helpers.ts'

describe('TimerWheel', () => {
  function wheel(tickMs = 100, slots = 8) {
    const clock = new ManualClock(1_000_000)
    const scheduler = new ManualScheduler()
    const w = new TimerWheel({ clock, scheduler, tickMs, slots })
    w.start()
    const step = (ms: number) => {
      clock.advance(ms)
      scheduler.run()
    }
    return { clock, w, step }
  }

  it('fires a timer at the first tick at or after its time, never before', () => {
    const { clock, w, step } = wheel()
    const fired: number[] = []
    w.schedule(clock.now() + 250, () => fired.push(clock.now()))
    step(200)
    expect(fired).toEqual([])
    step(100)
    expect(fired).toEqual([1_000_300])
    expect(w.size).toBe(0)
  })

  it('keeps timers of later rounds in their slot until their round comes', () => {
    const { clock, w, step } = wheel(100, 4)
    const fired: string[] = []
    w.schedule(clock.now() + 100, () => fired.push('soon'))
    w.schedule(clock.now() + 500, () => fired.push('next round')) // same slot, one round later
    step(100)
    expect(fired).toEqual(['soon'])
    step(300)
    expect(fired).toEqual(['soon'])
    step(100)
    expect(fired).toEqual(['soon', 'next round'])
  })

  it('visits each slot once after a long pause, firing everything due', () => {
    const { clock, w, step } = wheel(100, 8)
    const fired: number[] = []
    for (let i = 1; i <= 20; i++) w.schedule(clock.now() + i * 100, () => fired.push(i))
    step(60_000)
    expect(fired.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })

  it('cancels in O(1) and survives a throwing callback', () => {
    const errors: unknown[] = []
    const clock = new ManualClock(0)
    const scheduler = new ManualScheduler()
    const w = new TimerWheel({ clock, scheduler, onError: (e) => errors.push(e) })
    w.start()
    const fired: string[] = []
    const t = w.schedule(100, () => fired.push('cancelled'))
    w.schedule(100, () => {
      throw new Error('boom')
    })
    w.schedule(100, () => fired.push('ok'))
    t.cancel()
    t.cancel()
    clock.advance(100)
    scheduler.run()
    expect(fired).toEqual(['ok'])
    expect(errors).toHaveLength(1)
    w.stop()
    expect(w.size).toBe(0)
  })

  it('uses one interval for everything', () => {
    const clock = new ManualClock(0)
    let intervals = 0
    const w = new TimerWheel({
      clock,
      scheduler: { setInterval: () => ++intervals, clearInterval: () => {} },
    })
    w.start()
    w.start()
    for (let i = 0; i < 1000; i++) w.schedule(i * 10, () => {})
    expect(intervals).toBe(1)
  })
})

describe('TokenBucket', () => {
  it('allows a burst, then the sustained rate', () => {
    const clock = new ManualClock(0)
    const b = new TokenBucket(10, 5, clock)
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true)
    expect(b.take()).toBe(false)
    clock.advance(100)
    expect(b.take()).toBe(true)
    expect(b.take()).toBe(false)
    clock.advance(60_000)
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true)
    expect(b.take()).toBe(false)
  })
})

describe('Counter', () => {
  it('drops keys that reach zero', () => {
    const c = new Counter()
    expect(c.add('a')).toBe(1)
    expect(c.add('a')).toBe(2)
    c.remove('a')
    c.remove('a')
    expect(c.get('a')).toBe(0)
    expect(c.size).toBe(0)
  })
})

describe('upgrade checks and resume tokens', () => {
  const allowed = originSet(['https://app.example'])
  const cookie = resolveCookie({ insecure: true })
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage

  it('SEC-26: reads the cookie only for an allowed Origin', () => {
    const proto = { 'sec-websocket-protocol': 'x, parley.v1' }
    expect(
      checkUpgrade(
        req({ ...proto, origin: 'HTTPS://APP.example:443', cookie: 'parley=t' }),
        allowed,
        cookie,
      ),
    ).toEqual({
      ok: true,
      cookieToken: 't',
    })
    expect(checkUpgrade(req({ ...proto, cookie: 'parley=t' }), allowed, cookie)).toEqual({
      ok: true,
      cookieToken: null,
    })
    expect(
      checkUpgrade(req({ ...proto, origin: 'https://evil.example' }), allowed, cookie),
    ).toMatchObject({ ok: false, status: 403 })
    expect(checkUpgrade(req({ origin: 'https://app.example' }), allowed, cookie)).toMatchObject({
      ok: false,
      status: 400,
    })
  })

  it('SEC-48: resume tokens are 256-bit, prefixed, and stored only as SHA-256', () => {
    const a = newResumeToken()
    expect(a).toMatch(/^plyc_[A-Za-z0-9_-]{43}$/)
    expect(newResumeToken()).not.toBe(a)
    expect(hashResumeToken(a)).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(hashResumeToken(a)).not.toContain(a.slice(5, 20))
  })
})
