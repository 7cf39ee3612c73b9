/** @module One hashed timer wheel for every live-connection timeout, driven by a single interval. */

import type { Clock } from '../../core/clock.ts'

/**
 * Where the wheel gets its one interval from. The default is the global `setInterval`; tests pass
 * a manual scheduler and call its tick after moving a `ManualClock`, so no test sleeps.
 */
export interface Scheduler {
  setInterval(fn: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

/** The real scheduler; its interval is unref'd so that it never keeps a process alive. */
export const systemScheduler: Scheduler = {
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms)
    handle.unref()
    return handle
  },
  clearInterval(handle) {
    clearInterval(handle as ReturnType<typeof setInterval>)
  },
}

/** A scheduled callback; `cancel()` is O(1) and safe to call twice. */
export interface WheelTimer {
  readonly at: number
  cancel(): void
}

class Entry implements WheelTimer {
  readonly at: number
  readonly fn: () => void
  slot: Set<Entry> | null
  constructor(at: number, fn: () => void, slot: Set<Entry>) {
    this.at = at
    this.fn = fn
    this.slot = slot
  }
  cancel(): void {
    this.slot?.delete(this)
    this.slot = null
  }
}

export interface TimerWheelOptions {
  clock: Clock
  scheduler?: Scheduler
  /** Resolution of the wheel in ms (default 20). */
  tickMs?: number
  /** Slots of the wheel (default 1024); a timer further out waits for later rounds. */
  slots?: number
  /** Called when a callback throws (the wheel keeps going). */
  onError?: (err: unknown) => void
}

/**
 * A hashed timer wheel: a timer due at `at` sits in slot `ceil(at / tickMs) % slots` (never
 * before the next tick); each tick visits only the slots whose time has come (never every
 * timer), and fires the entries that are due (entries for a later round stay). Handshake timeouts, heartbeats, credential expiry and
 * resume windows of every connection share it.
 *
 * @example
 * const wheel = new TimerWheel({ clock })
 * wheel.start()
 * const t = wheel.schedule(clock.now() + 15_000, () => ping())
 * t.cancel()
 */
export class TimerWheel {
  readonly tickMs: number
  readonly #clock: Clock
  readonly #scheduler: Scheduler
  readonly #slots: Set<Entry>[]
  readonly #onError: (err: unknown) => void
  /** The last tick number processed. */
  #cursor: number
  #handle: unknown = null

  constructor(options: TimerWheelOptions) {
    this.#clock = options.clock
    this.#scheduler = options.scheduler ?? systemScheduler
    this.tickMs = options.tickMs ?? 20
    const slots = options.slots ?? 1024
    if (!Number.isInteger(this.tickMs) || this.tickMs < 1 || !Number.isInteger(slots) || slots < 1)
      throw new RangeError('tickMs and slots must be positive integers')
    this.#slots = Array.from({ length: slots }, () => new Set<Entry>())
    this.#onError = options.onError ?? (() => {})
    this.#cursor = Math.floor(this.#clock.now() / this.tickMs) - 1
  }

  /** Starts the single interval (idempotent). */
  start(): void {
    if (this.#handle !== null) return
    this.#handle = this.#scheduler.setInterval(() => this.tick(), this.tickMs)
  }

  /** Stops the interval and drops every timer. */
  stop(): void {
    if (this.#handle !== null) this.#scheduler.clearInterval(this.#handle)
    this.#handle = null
    for (const slot of this.#slots) {
      for (const entry of slot) entry.slot = null
      slot.clear()
    }
  }

  /** Timers currently scheduled (for stats and tests). */
  get size(): number {
    let n = 0
    for (const slot of this.#slots) n += slot.size
    return n
  }

  /** Runs `fn` at the first tick at or after `at` (clock ms). */
  schedule(at: number, fn: () => void): WheelTimer {
    const tick = Math.max(Math.ceil(at / this.tickMs), this.#cursor + 1)
    const slot = this.#slots[tick % this.#slots.length]!
    const entry = new Entry(at, fn, slot)
    slot.add(entry)
    return entry
  }

  /** Processes every slot whose time has come since the last tick. Called by the interval. */
  tick(): void {
    const now = this.#clock.now()
    const target = Math.floor(now / this.tickMs)
    if (target <= this.#cursor) return
    // After a long pause visit each slot once, not once per elapsed tick.
    const from = Math.max(this.#cursor + 1, target - this.#slots.length + 1)
    this.#cursor = target
    for (let t = from; t <= target; t++) {
      const slot = this.#slots[t % this.#slots.length]!
      for (const entry of slot) {
        if (entry.at > now) continue
        slot.delete(entry)
        entry.slot = null
        try {
          entry.fn()
        } catch (err) {
          this.#onError(err)
        }
      }
    }
  }
}
