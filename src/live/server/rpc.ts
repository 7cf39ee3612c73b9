/**
 * @module Exactly-once RPC on the server side: each inbound call id is claimed in the store
 * before its method runs, so a call re-sent after a resume (on this process or another) runs
 * once; methods run with a typed context, and only `LiveRpcError`s reach the client as such.
 */

import type { CallOutcome } from '../engine/types.ts'
import type { JsonValue } from '../protocol/index.ts'
import { fitsUtf8 } from '../protocol/payload.ts'
import type { GatewayCore } from './core.ts'
import { LiveRpcError } from './errors.ts'
import type { LiveSession } from './live-session.ts'

const INTERRUPTED: CallOutcome = {
  ok: false,
  code: 'internal',
  message: 'interrupted by a server failure; it may have run',
}
const INTERNAL: CallOutcome = { ok: false, code: 'internal', message: 'internal error' }

/**
 * Handles a `call` event of the engine: claim the id, run the method when the claim is new,
 * record the outcome, answer. A store failure closes the connection with 4005 (resumable: the
 * client re-sends the call, and the claim decides again).
 */
export async function handleCall(
  core: GatewayCore,
  live: LiveSession,
  id: string,
  method: string,
  params: JsonValue | undefined,
): Promise<void> {
  if (!live.startCall(id)) return
  const gen = live.gen
  const until = () => core.clock.now() + core.limits.resumeWindowMs
  try {
    const claim = await core.store.claimCall(live.id, id, gen, until())
    let outcome: CallOutcome | null
    if (claim.state === 'done') outcome = claim.outcome
    else if (claim.state === 'running') outcome = claim.gen < gen ? INTERRUPTED : null
    else {
      outcome = await runMethod(core, live, id, method, params)
      await core.store.finishCall(live.id, id, outcome, until())
    }
    if (outcome === null || live.state === 'ended') return
    live.peer.answer(id, outcome)
    core.markDirty(live)
  } catch (err) {
    core.logger?.error?.({ liveId: live.id, callId: id, err }, 'live: call bookkeeping failed')
    // The client re-sends it after resuming; the store then says whether it ran (interrupted).
    live.peer.abandonCall(id)
    live.conn?.fail(4005, 'the session store is unavailable')
  } finally {
    live.endCall(id)
  }
}

/** Runs a method and turns what it returned or threw into an outcome. Never throws. */
export async function runMethod(
  core: GatewayCore,
  live: LiveSession,
  id: string,
  method: string,
  params: JsonValue | undefined,
): Promise<CallOutcome> {
  const methods = core.handlers.methods
  const fn = methods !== undefined && Object.hasOwn(methods, method) ? methods[method] : undefined
  if (typeof fn !== 'function')
    return { ok: false, code: 'unknown_method', message: 'unknown method' }
  let value: unknown
  try {
    value = await fn(params, { session: live.handle, id, method })
  } catch (err) {
    if (err instanceof LiveRpcError) {
      const o: CallOutcome = { ok: false, code: err.code }
      if (err.message !== '') o.message = err.message
      if (err.data !== undefined) o.data = err.data
      return o
    }
    core.logger?.error?.({ liveId: live.id, method, err }, 'live: method failed')
    return INTERNAL
  }
  if (value === undefined) return { ok: true }
  const json = safeJson(value)
  if (json === undefined || !fitsUtf8(json, core.limits.maxPayloadBytes)) {
    core.logger?.error?.(
      { liveId: live.id, method },
      'live: method result is not JSON or too large',
    )
    return INTERNAL
  }
  return { ok: true, data: JSON.parse(json) as JsonValue }
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value)
  } catch {
    return undefined
  }
}
