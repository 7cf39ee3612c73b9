/**
 * @module RPC bookkeeping of the live client: the promises of calls we made, by call id (they
 * outlive reconnects: the engine re-sends unanswered calls after each resume), and the handlers
 * that answer the server's calls.
 */
import type { CallOutcome } from '../live/engine/types.ts'
import type { JsonValue } from '../live/protocol/frames.ts'
import { LiveCallError } from './live-errors.ts'

/** Answers one inbound call: its return value is the result; a thrown `LiveCallError` its error. */
export type CallHandler = (
  params: JsonValue | undefined,
  call: { id: string; method: string },
) => unknown

/** The wire form of an RPC error code (`error.code`: 1..64 id characters). */
const ERROR_CODE = /^[A-Za-z0-9_.:-]{1,64}$/

interface Waiter {
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/**
 * The calls this page waits for.
 *
 * @example
 * const answer = book.wait(id) // later: book.settle(id, { ok: true, data: 42 })
 */
export class CallBook {
  readonly #waiting = new Map<string, Waiter>()

  get size(): number {
    return this.#waiting.size
  }

  /** The promise of call `id`: resolved with `result.data`, rejected with a {@link LiveCallError}. */
  wait(id: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
    })
  }

  /** Settles call `id`; false when no promise waits for it (a call made before a reload). */
  settle(id: string, outcome: CallOutcome): boolean {
    const waiter = this.#waiting.get(id)
    if (waiter === undefined) return false
    this.#waiting.delete(id)
    if (outcome.ok) waiter.resolve(outcome.data)
    else waiter.reject(new LiveCallError(outcome.code, outcome.message, outcome.data))
    return true
  }

  /** Rejects every waiting call with `error` (the session ended). */
  failAll(error: unknown): void {
    const waiters = [...this.#waiting.values()]
    this.#waiting.clear()
    for (const w of waiters) w.reject(error)
  }
}

/**
 * The handlers of the server's calls, by method name.
 *
 * @example
 * handlers.set('ui.confirm', async ({ text }) => window.confirm(text))
 * const outcome = await handlers.run('ui.confirm', { text: 'Delete?' }, 'c7')
 */
export class CallHandlers {
  readonly #handlers = new Map<string, CallHandler>()

  /** Registers the handler of `method` (replacing one before); returns the function that removes it. */
  set(method: string, handler: CallHandler): () => void {
    this.#handlers.set(method, handler)
    return () => {
      if (this.#handlers.get(method) === handler) this.#handlers.delete(method)
    }
  }

  /** Runs the handler of `method`; every failure becomes an `error` outcome, never a throw. */
  async run(method: string, params: JsonValue | undefined, id: string): Promise<CallOutcome> {
    const handler = this.#handlers.get(method)
    if (handler === undefined)
      return { ok: false, code: 'unknown_method', message: 'no handler for this method' }
    try {
      const data = toJson(await handler(params, { id, method }))
      return data === undefined ? { ok: true } : { ok: true, data }
    } catch (err) {
      if (err instanceof LiveCallError && ERROR_CODE.test(err.code)) {
        const data = toJson(err.data)
        const message = err.message.slice(0, 1024)
        const outcome: CallOutcome = { ok: false, code: err.code, message }
        return data === undefined ? outcome : { ...outcome, data }
      }
      queueMicrotask(() => {
        throw err // reported by the platform; the server only learns `internal`
      })
      return { ok: false, code: 'internal', message: 'the handler failed' }
    }
  }
}

/** `value` as plain JSON (dates become strings, functions vanish), or undefined. */
function toJson(value: unknown): JsonValue | undefined {
  if (value === undefined) return undefined
  const text = JSON.stringify(value)
  return text === undefined ? undefined : (JSON.parse(text) as JsonValue)
}
