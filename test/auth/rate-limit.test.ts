import { describe, expect, it } from 'vitest'
import { addressKey, delayAfter, RateLimiter } from '../../src/auth/rate-limit.ts'
import { ManualClock } from '../../src/core/clock.ts'
import { MemoryUserStore } from '../../src/store/memory/index.ts'
import { rejection } from './helpers.ts'

describe('rate limiting', () => {
  it('SEC-31: delays grow by doubling after the free attempts and are bounded', () => {
    expect([4, 5, 6, 7, 8].map((n) => delayAfter(n, 5, 1000, 900_000))).toEqual([
      0, 1000, 2000, 4000, 8000,
    ])
    expect(delayAfter(15, 5, 1000, 900_000)).toBe(900_000)
    expect(delayAfter(10_000, 5, 1000, 900_000)).toBe(900_000)
  })

  it('SEC-31: an address over its limit gets ERR_RATE_LIMITED (429) with retryAfterSeconds', async () => {
    const clock = new ManualClock()
    const limiter = new RateLimiter(new MemoryUserStore(), clock, { addressLimit: 3 })
    for (let i = 0; i < 3; i++) {
      await limiter.checkAddress('198.51.100.7')
      await limiter.recordFailure(`user${i}`, '198.51.100.7')
    }
    const err = await rejection(() => limiter.checkAddress('198.51.100.7'))
    expect(err.code).toBe('ERR_RATE_LIMITED')
    expect(err.status).toBe(429)
    expect(err.details).toEqual({ retryAfterSeconds: 1 })
    await limiter.checkAddress('198.51.100.8') // another address is not affected
    await limiter.checkAddress(null) // no address: nothing to count
    clock.advance(1000)
    await limiter.checkAddress('198.51.100.7')
    await limiter.recordFailure('user9', '198.51.100.7')
    expect((await rejection(() => limiter.checkAddress('198.51.100.7'))).details).toEqual({
      retryAfterSeconds: 2,
    })
    clock.advance(15 * 60_000) // the window passes
    await limiter.checkAddress('198.51.100.7')
  })

  it('SEC-31: IPv6 clients are counted by their /64; IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:0db8:0001:0002:ffff::9'))
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'))
    expect(addressKey('::ffff:192.0.2.1')).toBe(addressKey('192.0.2.1'))
    expect(addressKey('fe80::1%eth0')).toBe('addr:fe80:0:0:0::/64')
    expect(addressKey(null)).toBeNull()
  })

  it('SEC-31: a successful sign-in clears the account counter, from this address and overall', async () => {
    const clock = new ManualClock()
    const limiter = new RateLimiter(new MemoryUserStore(), clock)
    for (let i = 0; i < 5; i++) await limiter.recordFailure('ada', '192.0.2.1')
    expect(await limiter.accountWaitMs('ada', '192.0.2.1')).toBe(1000)
    expect(await limiter.accountWaitMs('ada', '192.0.2.2')).toBe(0) // the victim's own address
    for (let i = 0; i < 15; i++) await limiter.recordFailure('ada', `198.51.100.${i}`)
    expect(await limiter.accountWaitMs('ada', '192.0.2.2')).toBe(1000) // 20 overall: locked everywhere
    await limiter.clearAccount('ada', '192.0.2.1')
    expect(await limiter.accountWaitMs('ada', '192.0.2.1')).toBe(0)
    expect(await limiter.accountWaitMs('ada', '192.0.2.2')).toBe(0)
  })

  it('SEC-31: parallel checks are counted one at a time per account and address, and queues are bounded', async () => {
    const limiter = new RateLimiter(new MemoryUserStore(), new ManualClock())
    let running = 0
    let most = 0
    const check = () =>
      limiter.serialize('ada', '192.0.2.1', async () => {
        running++
        most = Math.max(most, running)
        await new Promise((r) => setImmediate(r))
        running--
        return true
      })
    const results = await Promise.allSettled(Array.from({ length: 30 }, check))
    expect(most).toBe(1)
    const refused = results.filter((r) => r.status === 'rejected')
    expect(refused.length).toBeGreaterThan(0)
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason.code).toBe('ERR_RATE_LIMITED')
  })

  it('refuses nonsense limits', () => {
    expect(
      () => new RateLimiter(new MemoryUserStore(), new ManualClock(), { windowMs: 0 }),
    ).toThrow()
    expect(
      () =>
        new RateLimiter(new MemoryUserStore(), new ManualClock(), {
          maxDelayMs: 10,
          baseDelayMs: 100,
        }),
    ).toThrow()
  })
})
