/** @module The injected clock: the only place in Parley that reads the system time. */

/** A source of the current time in milliseconds since the Unix epoch. */
export interface Clock {
  now(): number
}

/** The real clock. Every other module receives a {@link Clock} instead of calling `Date.now()`. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() })

/**
 * A clock that moves only when told to: for tests and simulations.
 *
 * @example
 * const clock = new ManualClock(0)
 * clock.advance(30 * 60_000) // thirty minutes later, instantly
 */
export class ManualClock implements Clock {
  #now: number
  constructor(start = 1_700_000_000_000) {
    this.#now = start
  }
  now(): number {
    return this.#now
  }
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('a clock only moves forward')
    this.#now += ms
    return this.#now
  }
  set(at: number): void {
    if (at < this.#now) throw new RangeError('a clock only moves forward')
    this.#now = at
  }
}
