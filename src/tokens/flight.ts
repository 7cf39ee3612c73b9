/** @module Small async helpers of the token module: single-flight calls and store-error wrapping. */
import { isParleyError, storeUnavailable } from '../core/errors.ts'

/**
 * Coalesces concurrent calls: while one run is in flight, every caller shares its promise.
 *
 * @example
 * const loads = new SingleFlight<void>()
 * await Promise.all([loads.run(load), loads.run(load)]) // one load
 */
export class SingleFlight<T> {
  #current: Promise<T> | null = null

  get busy(): boolean {
    return this.#current !== null
  }

  run(fn: () => Promise<T>): Promise<T> {
    if (this.#current !== null) return this.#current
    const p: Promise<T> = Promise.resolve()
      .then(fn)
      .finally(() => {
        if (this.#current === p) this.#current = null
      })
    this.#current = p
    return p
  }
}

/**
 * Runs a store call; a failure that is not already a ParleyError (a raw driver error) becomes
 * ERR_STORE_UNAVAILABLE, so callers fail closed with a 503 (SEC-56).
 *
 * @example
 * const record = await storeCall(() => tokens.getRefresh(id))
 */
export async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw isParleyError(err) ? err : storeUnavailable(err)
  }
}
