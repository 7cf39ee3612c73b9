/**
 * @module Brute-force defence (SEC-31): failures counted per account and per client address in the
 * UserStore, with delays that grow after a few free attempts and are bounded.
 */
import { isIPv4, isIPv6 } from 'node:net'
import type { Clock } from '../core/clock.ts'
import { ParleyError } from '../core/errors.ts'
import type { FailureCount, UserStore } from './user-store.ts'

export interface RateLimitOptions {
  /** A window of counting starts at its first failure and lasts this long. Default 15 min. */
  windowMs?: number
  /** Failures of one account from one address allowed in a window before delays start. Default 5. */
  freeAttempts?: number
  /**
   * Failures of one account from all addresses together allowed in a window before delays start
   * (a spread-out attack). Default 20.
   */
  accountLimit?: number
  /** Failures from one address allowed in a window before delays start. Default 20. */
  addressLimit?: number
  /** The first delay; each further failure doubles it. Default 1 s. */
  baseDelayMs?: number
  /** The longest delay, so a lock can never shut a victim out for long. Default 15 min. */
  maxDelayMs?: number
}

export const DEFAULT_RATE_LIMITS: Readonly<Required<RateLimitOptions>> = Object.freeze({
  windowMs: 15 * 60_000,
  freeAttempts: 5,
  accountLimit: 20,
  addressLimit: 20,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
})

/**
 * The wait after `failures` failures when `free` are allowed: 0, then `base * 2^(failures-free)`,
 * at most `max`.
 *
 * @example
 * delayAfter(5, 5, 1000, 900_000) // 1000
 * delayAfter(7, 5, 1000, 900_000) // 4000
 */
export function delayAfter(failures: number, free: number, base: number, max: number): number {
  if (failures < free) return 0
  return Math.min(max, base * 2 ** Math.min(failures - free, 40))
}

/**
 * The address key: IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64).
 *
 * @example
 * addressKey('2001:db8:1:2::7') // 'addr:2001:db8:1:2::/64'
 */
export function addressKey(ip: string | null | undefined): string | null {
  if (typeof ip !== 'string' || ip.length === 0 || ip.length > 64) return null
  const bare = ip.replace(/%.*$/, '')
  if (isIPv4(bare)) return `addr:${bare}`
  if (!isIPv6(bare)) return `addr:${bare.toLowerCase()}`
  const groups = expandIPv6(bare)
  const mapped = groups.slice(0, 6).join(':') === '0:0:0:0:0:ffff'
  if (mapped) {
    const [a, b] = [Number.parseInt(groups[6]!, 16), Number.parseInt(groups[7]!, 16)]
    return `addr:${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`
  }
  return `addr:${groups.slice(0, 4).join(':')}::/64`
}

/** Eight hextets, without leading zeros, of a valid IPv6 address. */
function expandIPv6(ip: string): string[] {
  let text = ip.toLowerCase()
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0')
  return [...left, ...fill, ...right].map((g) => Number.parseInt(g, 16).toString(16))
}

/**
 * The account key, from the normalised username: unknown users are counted just like real ones.
 *
 * @example
 * accountKey('ada') // 'acct:ada'
 */
export function accountKey(username: string): string {
  return `acct:${username}`
}

/**
 * The key of one account tried from one address: the lock an attacker's own address earns, which
 * leaves the victim's other addresses free (SEC-31).
 *
 * @example
 * accountAddressKey('ada', '203.0.113.9') // 'acct-addr:203.0.113.9:ada'
 */
export function accountAddressKey(username: string, ip: string | null | undefined): string {
  return `acct-addr:${addressKey(ip) ?? 'addr:none'}:${username}`
}

/** Most requests that may wait behind one key (an account or an address) in this process. */
const MAX_QUEUED_PER_KEY = 16

export interface FailureOutcome {
  account: FailureCount | null
  address: FailureCount | null
  /** This failure put the account over its free attempts (the first lock of the window). */
  accountLocked: boolean
  /** The count and the free attempts of the account lock this failure started, if any. */
  accountLock: { count: number; free: number } | null
  /** This failure put the address over its limit. */
  addressLocked: boolean
}

/**
 * Per-account and per-address throttling over the UserStore's failure counters.
 *
 * @example
 * const limiter = new RateLimiter(users, clock)
 * await limiter.checkAddress(ip)                 // throws ERR_RATE_LIMITED (429)
 * if (await limiter.accountWaitMs(name) > 0) ... // refuse like a wrong password
 */
export class RateLimiter {
  readonly options: Readonly<Required<RateLimitOptions>>
  readonly #users: UserStore
  readonly #clock: Clock

  constructor(users: UserStore, clock: Clock, options: RateLimitOptions = {}) {
    const o = { ...DEFAULT_RATE_LIMITS, ...definedOnly(options) }
    for (const [name, value] of Object.entries(o)) {
      if (!Number.isInteger(value) || value < 1) {
        throw new ParleyError('ERR_CONFIG_INVALID', `limits.${name} must be an integer >= 1`)
      }
    }
    if (o.maxDelayMs < o.baseDelayMs) {
      throw new ParleyError('ERR_CONFIG_INVALID', 'limits.maxDelayMs must be >= baseDelayMs')
    }
    this.options = Object.freeze(o)
    this.#users = users
    this.#clock = clock
  }

  /** Ms until `key` may try again (0 when it may now). */
  async waitMs(key: string, free: number): Promise<number> {
    const { windowMs, baseDelayMs, maxDelayMs } = this.options
    const now = this.#clock.now()
    const failures = await this.#users.getFailures(key, now, windowMs)
    if (failures === null) return 0
    const until = failures.lastAt + delayAfter(failures.count, free, baseDelayMs, maxDelayMs)
    return Math.max(0, until - now)
  }

  /** Throws ERR_RATE_LIMITED with `retryAfterSeconds` when the address must wait. */
  async checkAddress(ip: string | null | undefined): Promise<void> {
    const key = addressKey(ip)
    if (key === null) return
    const wait = await this.waitMs(key, this.options.addressLimit)
    if (wait > 0) {
      throw new ParleyError('ERR_RATE_LIMITED', undefined, {
        details: { retryAfterSeconds: Math.ceil(wait / 1000) },
      })
    }
  }

  /**
   * Ms the account must wait before an attempt from `ip` counts (0 when it may try now): the
   * longer of its lock from this address and its lock from all addresses together.
   */
  async accountWaitMs(username: string | null, ip?: string | null): Promise<number> {
    if (username === null) return 0
    const [here, everywhere] = await Promise.all([
      this.waitMs(accountAddressKey(username, ip), this.options.freeAttempts),
      this.waitMs(accountKey(username), this.options.accountLimit),
    ])
    return Math.max(here, everywhere)
  }

  /**
   * Runs one credential check at a time per address and per account in this process, so a burst
   * of parallel guesses is counted one by one instead of all passing the lock check before the
   * first failure is recorded. Each key queues at most a few requests; beyond that,
   * ERR_RATE_LIMITED. (Several server processes each run one check at a time.)
   */
  async serialize<T>(
    username: string | null,
    ip: string | null | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    const keys = [addressKey(ip), username === null ? null : accountKey(username)].filter(
      (k): k is string => k !== null,
    )
    let run = fn
    for (const key of keys.reverse()) {
      const inner = run
      run = () => this.#queue(key, inner)
    }
    return run()
  }

  readonly #chains = new Map<string, { tail: Promise<unknown>; waiting: number }>()

  async #queue<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let chain = this.#chains.get(key)
    if (chain === undefined) {
      chain = { tail: Promise.resolve(), waiting: 0 }
      this.#chains.set(key, chain)
    }
    if (chain.waiting >= MAX_QUEUED_PER_KEY) {
      throw new ParleyError('ERR_RATE_LIMITED', undefined, { details: { retryAfterSeconds: 1 } })
    }
    chain.waiting++
    const current = chain
    const result = current.tail.then(fn, fn)
    current.tail = result.then(
      () => undefined,
      () => undefined,
    )
    try {
      return await result
    } finally {
      current.waiting--
      if (current.waiting === 0 && this.#chains.get(key) === current) this.#chains.delete(key)
    }
  }

  /**
   * Counts a failure against the address and, unless `accountToo` is false, the account. A
   * refused attempt on a locked account counts only against the address, so nobody can stretch a
   * victim's lock beyond its bound without being throttled first.
   */
  async recordFailure(
    username: string | null,
    ip: string | null | undefined,
    accountToo = true,
  ): Promise<FailureOutcome> {
    const { windowMs, freeAttempts, addressLimit } = this.options
    const now = this.#clock.now()
    const addrKey = addressKey(ip)
    const address =
      addrKey === null ? null : await this.#users.recordFailure(addrKey, now, windowMs)
    const counted = username !== null && accountToo
    const here = counted
      ? await this.#users.recordFailure(accountAddressKey(username, ip), now, windowMs)
      : null
    const account = counted
      ? await this.#users.recordFailure(accountKey(username), now, windowMs)
      : null
    const accountLock =
      here?.count === freeAttempts
        ? { count: here.count, free: freeAttempts }
        : account?.count === this.options.accountLimit
          ? { count: account.count, free: this.options.accountLimit }
          : null
    return {
      account,
      address,
      accountLocked: accountLock !== null,
      accountLock,
      addressLocked: address?.count === addressLimit,
    }
  }

  /** Forgets an account's failures from this address and overall (after a successful check). */
  async clearAccount(username: string, ip?: string | null): Promise<void> {
    await this.#users.clearFailures(accountAddressKey(username, ip))
    await this.#users.clearFailures(accountKey(username))
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
