/** @module A token bucket for the inbound frame rate of one connection (SEC-49, close 4207). */

import type { Clock } from '../../core/clock.ts'

/**
 * Allows `ratePerSecond` frames per second on average and bursts of up to `burst` frames. Time
 * comes from the injected clock; the bucket refills lazily at each `take()` (no timer).
 *
 * @example
 * const bucket = new TokenBucket(100, 200, clock)
 * if (!bucket.take()) close(4207)
 */
export class TokenBucket {
  readonly #rate: number
  readonly #burst: number
  readonly #clock: Clock
  #tokens: number
  #last: number

  constructor(ratePerSecond: number, burst: number, clock: Clock) {
    this.#rate = ratePerSecond / 1000
    this.#burst = Math.max(1, burst)
    this.#clock = clock
    this.#tokens = this.#burst
    this.#last = clock.now()
  }

  /** Takes one token; false when the bucket is empty (the frame is over the rate). */
  take(): boolean {
    const now = this.#clock.now()
    if (now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate)
      this.#last = now
    }
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
