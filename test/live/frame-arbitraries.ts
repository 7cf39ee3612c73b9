/** @module fast-check arbitraries: one per `parley.v1` frame type, valid under the default limits. */

import fc from 'fast-check'
import { END_REASONS } from '../../src/core/session.ts'
import {
  DEFAULT_LIMITS,
  DIALOG_MODES,
  type Frame,
  type FrameType,
  GAP_REASONS,
  RESYNC_KINDS,
  SIDES,
} from '../../src/live/protocol/index.ts'

const MAX = Number.MAX_SAFE_INTEGER
const seq = fc.integer({ min: 1, max: MAX })
const ack = fc.integer({ min: 0, max: MAX })
const credit = fc.integer({ min: 0, max: DEFAULT_LIMITS.maxCredit })
const id = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/)
const sid = fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/)
const token = fc.stringMatching(/^[\x21-\x7e]{1,512}$/)
const cred = fc.string({ minLength: 1, maxLength: 300, unit: 'binary' })
const text = fc.string({ maxLength: 200, unit: 'binary' })
/** Any JSON value (never -0, never deeper than the limit): parsed from generated JSON text. */
export const payload = fc.json({ maxDepth: 4 }).map((s) => JSON.parse(s) as unknown)

/** Builds a frame from required and optional fields; absent optional keys stay absent. */
function frame<T extends FrameType>(
  t: T,
  required: Record<string, fc.Arbitrary<unknown>>,
  optional: Record<string, fc.Arbitrary<unknown>> = {},
): fc.Arbitrary<Frame> {
  return fc
    .record(
      { ...required, ...optional },
      { requiredKeys: Object.keys(required), noNullPrototype: true },
    )
    .map((fields) => ({ t, ...fields }) as Frame)
}

const welcome = fc
  .record({
    mode: fc.constantFrom(...DIALOG_MODES),
    turn: fc.constantFrom(...SIDES),
    maxFrameBytes: fc.integer({ min: 1_024, max: 16_777_216 }),
  })
  .chain(({ mode, turn, maxFrameBytes }) =>
    frame(
      'welcome',
      {
        sid,
        token,
        resumed: fc.boolean(),
        last: ack,
        mode: fc.constant(mode),
        ...(mode === 'full' ? {} : { turn: fc.constant(turn) }),
        credit,
        heartbeatMs: fc.integer({ min: 1_000, max: 300_000 }),
        resumeWindowMs: fc.integer({ min: 0, max: 86_400_000 }),
        maxFrameBytes: fc.constant(maxFrameBytes),
        maxPayloadBytes: fc.integer({ min: 0, max: maxFrameBytes }),
        maxPendingCalls: fc.integer({ min: 0, max: 65_536 }),
      },
      { exp: ack },
    ),
  )

const gap = fc
  .tuple(seq, seq, fc.constantFrom(...GAP_REASONS))
  .map(([a, b, reason]): Frame => ({ t: 'gap', from: Math.min(a, b), to: Math.max(a, b), reason }))

/** One arbitrary per frame type. */
export const FRAME_ARBITRARIES: { [K in FrameType]: fc.Arbitrary<Frame> } = {
  hello: fc.oneof(
    frame('hello', { cred }, { mode: fc.constantFrom(...DIALOG_MODES), credit }),
    frame(
      'hello',
      { resume: fc.record({ sid, token, last: ack }, { noNullPrototype: true }) },
      { credit },
    ),
  ),
  welcome,
  msg: frame('msg', { seq, data: payload }, { ack }),
  ack: frame('ack', { ack }),
  gap,
  ping: frame('ping', { n: ack }, { ack }),
  pong: frame('pong', { n: ack }, { ack }),
  refresh: frame('refresh', { cred }),
  refreshed: frame('refreshed', {}, { exp: ack }),
  ckpt: frame('ckpt', { id, seq: ack, ack }, { state: payload }),
  ckpt_ok: frame('ckpt_ok', { id }),
  resync: frame(
    'resync',
    { n: seq, kind: fc.constantFrom(...RESYNC_KINDS), to: id },
    { state: payload },
  ),
  resync_ok: frame('resync_ok', { n: seq }),
  turn_please: frame('turn_please', {}),
  turn_give: frame('turn_give', {}),
  credit: frame('credit', { n: fc.integer({ min: 1, max: DEFAULT_LIMITS.maxCredit }) }),
  call: frame(
    'call',
    { id, method: fc.stringMatching(/^[A-Za-z0-9_.:/-]{1,128}$/) },
    { params: payload },
  ),
  result: frame('result', { id }, { data: payload }),
  error: frame('error', { id, code: id }, { message: text, data: payload }),
  err: frame(
    'err',
    { code: fc.integer({ min: 4000, max: 4999 }), message: text },
    { retryMs: fc.integer({ min: 0, max: 3_600_000 }) },
  ),
  bye: frame('bye', { reason: fc.constantFrom(...END_REASONS) }),
}

/** Any valid frame. */
export const anyFrame: fc.Arbitrary<Frame> = fc.oneof(...Object.values(FRAME_ARBITRARIES))
