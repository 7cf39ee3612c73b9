/**
 * @module Reconnect delays: full-jitter exponential backoff (attempt k waits a random delay in
 * [0, min(30 s, 500 ms × 2^k)]), or the `retryMs` an `err` frame named. Randomness is injected.
 */

/** A uniform random number in [0, 1). */
export type Random = () => number

/** The first attempt's ceiling, in ms. */
export const BACKOFF_BASE_MS = 500
/** No attempt waits longer than this, in ms. */
export const BACKOFF_CAP_MS = 30_000

/** `crypto.getRandomValues` as a {@link Random} (browsers and Node both have it). */
export const cryptoRandom: Random = () => {
  const word = new Uint32Array(1)
  globalThis.crypto.getRandomValues(word)
  return (word[0] ?? 0) / 4_294_967_296
}

/**
 * The largest delay of attempt `attempt` (0-based): min(cap, base × 2^attempt).
 *
 * @example
 * backoffCeiling(3) // 4000
 */
export function backoffCeiling(
  attempt: number,
  baseMs = BACKOFF_BASE_MS,
  capMs = BACKOFF_CAP_MS,
): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt))
}

/**
 * A full-jitter delay for `attempt`: an integer in [0, {@link backoffCeiling}].
 *
 * @example
 * backoffDelay(0, () => 0.5) // 250
 */
export function backoffDelay(
  attempt: number,
  random: Random,
  baseMs = BACKOFF_BASE_MS,
  capMs = BACKOFF_CAP_MS,
): number {
  const ceiling = backoffCeiling(attempt, baseMs, capMs)
  return Math.min(ceiling, Math.floor(random() * (ceiling + 1)))
}

/**
 * The attempts of one outage: `next()` gives each delay, `reset()` after a successful handshake.
 *
 * @example
 * const backoff = new Backoff(cryptoRandom)
 * scheduler.schedule(reconnect, backoff.next(err?.retryMs))
 */
export class Backoff {
  readonly #random: Random
  #attempt = 0

  constructor(random: Random = cryptoRandom) {
    this.#random = random
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.#attempt
  }

  /** The delay before the next attempt: `retryMs` when the server named one, else full jitter. */
  next(retryMs?: number | null): number {
    const delay = retryMs ?? backoffDelay(this.#attempt, this.#random)
    this.#attempt++
    return delay
  }

  reset(): void {
    this.#attempt = 0
  }
}
