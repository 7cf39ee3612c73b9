/**
 * @module Errors of the live client: `LiveCallError` (a call answered with `error`, or one that
 * could not be made) and `LiveError` (a request the client refused or could not complete).
 */
import type { JsonValue } from '../live/protocol/frames.ts'

/** Why the client refused or dropped a request. */
export type LiveErrorCode =
  /** Half duplex or simplex: this side does not hold the turn. */
  | 'not_your_turn'
  /** Our resync waits for its confirmation: no message, call or checkpoint until then. */
  | 'resync_pending'
  /** A checkpoint of ours waits for its confirmation. */
  | 'checkpoint_pending'
  /** The checkpoint id was used before in this session. */
  | 'duplicate_id'
  /** `resync` named a checkpoint this side does not know. */
  | 'unknown_checkpoint'
  /** The payload is over the server's `maxPayloadBytes` or not JSON. */
  | 'too_large'
  /** The live session ended (or was closed) before the request completed. */
  | 'session_ended'

/**
 * A request the live client refused or could not complete.
 *
 * @example
 * try { await live.send(x) } catch (err) { if (err instanceof LiveError && err.code === 'not_your_turn') wait() }
 */
export class LiveError extends Error {
  readonly code: LiveErrorCode
  constructor(code: LiveErrorCode, message: string) {
    super(message)
    this.name = 'LiveError'
    this.code = code
  }
}

/**
 * A call that failed: the callee's `error` answer (`unknown_method`, `invalid_params`,
 * `too_many_calls`, `internal` or an application code), or `session_ended` when the session
 * ended first. Throw one from a `handle()` handler to answer with that code.
 *
 * @example
 * try { await live.call('cart.add', { sku }) } catch (err) {
 *   if (err instanceof LiveCallError && err.code === 'out_of_stock') showSoldOut(err.data)
 * }
 */
export class LiveCallError extends Error {
  readonly code: string
  readonly data: JsonValue | undefined
  constructor(code: string, message = '', data?: JsonValue) {
    super(message === '' ? code : message)
    this.name = 'LiveCallError'
    this.code = code
    this.data = data
  }
}
