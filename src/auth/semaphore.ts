/** @module Semaphore: bounds how many slow tasks (password hashes) run at once; the rest queue. */

/**
 * A counting semaphore with a FIFO queue.
 *
 * @example
 * const gate = new Semaphore(4)
 * const tag = await gate.run(() => hashOnThreadPool(password))
 */
export class Semaphore {
  readonly limit: number
  #active = 0
  #queue: (() => void)[] = []
  #peak = 0

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be an integer >= 1')
    this.limit = limit
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#queue.length
  }

  /** The most tasks that ever ran at once (for tests and metrics). */
  get peak(): number {
    return this.#peak
  }

  /** Runs `task` once a slot is free; the slot is released when it settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) {
      await new Promise<void>((resolve) => this.#queue.push(resolve))
    } else {
      this.#active++
    }
    this.#peak = Math.max(this.#peak, this.#active)
    try {
      return await task()
    } finally {
      const next = this.#queue.shift()
      // The slot passes straight to the next waiter, so `active` stays counted.
      if (next !== undefined) next()
      else this.#active--
    }
  }
}
