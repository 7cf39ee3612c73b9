/**
 * @module Time for the live client: the injected clock and timer scheduler, their defaults, and
 * `ManualScheduler`, a clock and scheduler in one that moves only when told to (tests).
 */
import { systemNow } from './clock.ts'

/** A source of the current time in ms since the epoch (`ManualClock` of Parley fits). */
export interface LiveClock {
  now(): number
}

/** Cancels a scheduled callback; calling it after the callback ran does nothing. */
export type Cancel = () => void

/** Runs callbacks later. The live client sets every timer through one (heartbeat, backoff, refresh). */
export interface LiveScheduler {
  schedule(fn: () => void, ms: number): Cancel
}

/** The system clock, through src/client/clock.ts. */
export const liveSystemClock: LiveClock = Object.freeze({ now: () => systemNow() })

/** `setTimeout` of the platform. */
export const systemScheduler: LiveScheduler = Object.freeze({
  schedule(fn: () => void, ms: number): Cancel {
    const handle = globalThis.setTimeout(fn, Math.max(0, ms))
    return () => globalThis.clearTimeout(handle)
  },
})

interface Timer {
  at: number
  order: number
  fn: () => void
}

/**
 * A clock and a scheduler that move only with `advance()`: due callbacks run in time order, each
 * with the clock set to its due time (callbacks they schedule run too, when due).
 *
 * @example
 * const time = new ManualScheduler()
 * const live = new LiveClient({ url, credential, clock: time, scheduler: time })
 * time.advance(30_000) // thirty seconds later, instantly
 */
export class ManualScheduler implements LiveClock, LiveScheduler {
  #now: number
  #order = 0
  readonly #timers = new Set<Timer>()

  constructor(start = 1_700_000_000_000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  schedule(fn: () => void, ms: number): Cancel {
    const timer: Timer = { at: this.#now + Math.max(0, ms), order: this.#order++, fn }
    this.#timers.add(timer)
    return () => {
      this.#timers.delete(timer)
    }
  }

  /** Callbacks waiting. */
  get pending(): number {
    return this.#timers.size
  }

  /** Moves time forward by `ms`, running every callback that falls due, in order. */
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('time only moves forward')
    const end = this.#now + ms
    for (let next = this.#due(end); next !== null; next = this.#due(end)) {
      this.#timers.delete(next)
      this.#now = next.at
      next.fn()
    }
    this.#now = end
    return end
  }

  #due(end: number): Timer | null {
    let first: Timer | null = null
    for (const t of this.#timers) {
      if (t.at > end) continue
      if (first === null || t.at < first.at || (t.at === first.at && t.order < first.order))
        first = t
    }
    return first
  }
}
