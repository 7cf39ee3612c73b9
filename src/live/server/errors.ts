/** @module Errors of the live gateway's application API: RPC errors and refused sends. */

import type { JsonValue } from '../protocol/index.ts'

const CODE = /^[A-Za-z0-9_.:-]{1,64}$/

/**
 * An RPC error: thrown by a method to answer with `error` (code, safe message, data), and the
 * rejection of `session.call()` when the client answers with one. Codes use the id character set
 * (`A-Za-z0-9_.:-`, 1–64); the RPC layer's own are `unknown_method`, `invalid_params`,
 * `too_many_calls` and `internal`.
 *
 * @example
 * methods: { withdraw: (p) => { if (!ok(p)) throw new LiveRpcError('invalid_params', 'amount is required') } }
 */
export class LiveRpcError extends Error {
  override readonly name = 'LiveRpcError'
  readonly code: string
  readonly data: JsonValue | undefined

  constructor(code: string, message = '', data?: JsonValue) {
    super(message.length > 1024 ? message.slice(0, 1024) : message)
    this.code = CODE.test(code) ? code : 'internal'
    this.data = data
  }
}

/** Why `session.send()` (or `checkpoint`, `resync`) was refused. */
export type LiveSendErrorCode =
  | 'ended'
  | 'not_your_turn'
  | 'too_large'
  | 'slow_consumer'
  | 'pending'
  | 'duplicate_id'
  | 'unknown_checkpoint'
  | 'resync_pending'
  | 'not_json'

/** A refused `send`, `checkpoint` or `resync` on a live session handle. */
export class LiveSendError extends Error {
  override readonly name = 'LiveSendError'
  readonly code: LiveSendErrorCode

  constructor(code: LiveSendErrorCode, message?: string) {
    super(message ?? code.replaceAll('_', ' '))
    this.code = code
  }
}
