/** @module The field table of every `parley.v1` frame: order, types and bounds, for codec and docs. */

import { END_REASONS } from '../../core/session.ts'
import type { FrameOf, FrameType } from './frames.ts'
import { DIALOG_MODES, GAP_REASONS, RESYNC_KINDS, SIDES } from './frames.ts'
import { BOUNDS } from './limits.ts'

/** One field: its kind and bounds. `max: 'maxCredit'` is read from the decode limits. */
export type FieldSpec = { optional?: true } & (
  | { kind: 'int'; min: number; max: number | 'maxCredit' }
  | { kind: 'str'; min: number; max: number; pattern?: RegExp; charset?: string }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'bool' }
  | { kind: 'json' }
  | { kind: 'obj'; fields: Readonly<Record<string, FieldSpec>> }
)

const opt = <S extends FieldSpec>(spec: S): S & { optional: true } => ({ ...spec, optional: true })
const int = (min: number, max: number | 'maxCredit' = BOUNDS.maxInt): FieldSpec => ({
  kind: 'int',
  min,
  max,
})
const str = (max: number, pattern?: RegExp, charset?: string): FieldSpec =>
  pattern === undefined
    ? { kind: 'str', min: 1, max }
    : { kind: 'str', min: 1, max, pattern, charset: charset ?? '' }
const oneOf = (values: readonly string[]): FieldSpec => ({ kind: 'enum', values })
const json: FieldSpec = { kind: 'json' }

const SEQ = int(1)
const ACK = int(0)
const SID = str(BOUNDS.sessionIdChars, /^[A-Za-z0-9_-]+$/, 'A-Za-z0-9_-')
const TOKEN = str(BOUNDS.resumeTokenChars, /^[\x21-\x7e]+$/, 'printable ASCII')
const ID = str(BOUNDS.idChars, /^[A-Za-z0-9_.:-]+$/, 'A-Za-z0-9_.:-')
const METHOD = str(BOUNDS.methodChars, /^[A-Za-z0-9_.:/-]+$/, 'A-Za-z0-9_.:/-')
const CRED = str(BOUNDS.credentialChars)
const range = (b: { min: number; max: number }): FieldSpec => int(b.min, b.max)

type Schema = { readonly [K in FrameType]: { [F in Exclude<keyof FrameOf<K>, 't'>]-?: FieldSpec } }

/**
 * Fields of each frame, in the order the encoder writes them (after `t`). The TypeScript types in
 * frames.ts and this table name the same fields; `satisfies` checks it.
 */
export const SCHEMAS = {
  hello: {
    cred: opt(CRED),
    resume: opt({ kind: 'obj', fields: { sid: SID, token: TOKEN, last: ACK } }),
    mode: opt(oneOf(DIALOG_MODES)),
    credit: opt(int(0, 'maxCredit')),
  },
  welcome: {
    sid: SID,
    token: TOKEN,
    resumed: { kind: 'bool' },
    last: ACK,
    mode: oneOf(DIALOG_MODES),
    turn: opt(oneOf(SIDES)),
    credit: int(0, 'maxCredit'),
    heartbeatMs: range(BOUNDS.heartbeatMs),
    resumeWindowMs: range(BOUNDS.resumeWindowMs),
    maxFrameBytes: range(BOUNDS.maxFrameBytes),
    maxPayloadBytes: int(0, BOUNDS.maxFrameBytes.max),
    maxPendingCalls: range(BOUNDS.maxPendingCalls),
    exp: opt(ACK),
  },
  msg: { seq: SEQ, ack: opt(ACK), data: json },
  ack: { ack: ACK },
  gap: { from: SEQ, to: SEQ, reason: oneOf(GAP_REASONS) },
  ping: { n: ACK, ack: opt(ACK) },
  pong: { n: ACK, ack: opt(ACK) },
  refresh: { cred: CRED },
  refreshed: { exp: opt(ACK) },
  ckpt: { id: ID, seq: ACK, ack: ACK, state: opt(json) },
  ckpt_ok: { id: ID },
  resync: { n: SEQ, kind: oneOf(RESYNC_KINDS), to: ID, state: opt(json) },
  resync_ok: { n: SEQ },
  turn_please: {},
  turn_give: {},
  credit: { n: int(1, 'maxCredit') },
  call: { id: ID, method: METHOD, params: opt(json) },
  result: { id: ID, data: opt(json) },
  error: {
    id: ID,
    code: ID,
    message: opt({ kind: 'str', min: 0, max: BOUNDS.messageChars }),
    data: opt(json),
  },
  err: {
    code: int(4000, 4999),
    message: { kind: 'str', min: 0, max: BOUNDS.messageChars },
    retryMs: opt(range(BOUNDS.retryMs)),
  },
  bye: { reason: oneOf(END_REASONS) },
} as const satisfies Schema

/** Rules that involve more than one field; each returns a reason, or null when the frame is fine. */
export const CROSS_FIELD_RULES: { readonly [K in FrameType]?: (f: FrameOf<K>) => string | null } = {
  hello: (f) =>
    (f.cred === undefined) === (f.resume === undefined)
      ? 'hello: exactly one of cred and resume'
      : null,
  welcome: (f) => {
    if ((f.mode === 'full') !== (f.turn === undefined))
      return 'welcome.turn: present exactly when mode is half or simplex'
    return f.maxPayloadBytes > f.maxFrameBytes
      ? 'welcome.maxPayloadBytes: more than maxFrameBytes'
      : null
  },
  gap: (f) => (f.to < f.from ? 'gap.to: less than from' : null),
}
