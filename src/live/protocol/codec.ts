/** @module Encodes and decodes `parley.v1` text frames; decoding validates strictly, never throws. */

import { CLOSE_CODES, type DecodeCloseCode } from './close-codes.ts'
import type { Frame, FrameType, MsgFrame } from './frames.ts'
import { DEFAULT_LIMITS, type DecodeLimits } from './limits.ts'
import { fitsUtf8, payloadFits, payloadProblem } from './payload.ts'
import { CROSS_FIELD_RULES, type FieldSpec, SCHEMAS } from './schema.ts'

/** The outcome of {@link decodeFrame}: a frame, or the close code and a reason to close with. */
export type DecodeResult =
  | { ok: true; frame: Frame }
  | { ok: false; code: DecodeCloseCode; reason: string }

const MALFORMED = CLOSE_CODES.malformed_frame.code
const UNKNOWN = CLOSE_CODES.unknown_frame_type.code
const TOO_LARGE = CLOSE_CODES.too_large.code

type Fields = Readonly<Record<string, FieldSpec>>
type Entries = readonly (readonly [string, FieldSpec])[]
/** The fields of each frame type as entries, computed once (not per frame). */
const ENTRIES_BY_TYPE: ReadonlyMap<string, Entries> = new Map(
  Object.entries(SCHEMAS).map(([t, fields]) => [t, Object.entries(fields as Fields)]),
)
/** Entries of nested `obj` specs, computed once each. */
const NESTED_ENTRIES = new WeakMap<Fields, Entries>()

function entriesOf(fields: Fields): Entries {
  let entries = NESTED_ENTRIES.get(fields)
  if (entries === undefined) {
    entries = Object.entries(fields)
    NESTED_ENTRIES.set(fields, entries)
  }
  return entries
}

/**
 * Where a `msg` frame built by the engine keeps the JSON text of its payload, exactly as
 * `JSON.stringify(frame.data)` writes it (a non-enumerable property: invisible to equality checks
 * and copies): {@link encodeFrame} splices it in instead of serialising the payload again.
 */
export const MSG_JSON: unique symbol = Symbol('parley.msgJson')

const MSG_JSON_DESCRIPTOR: PropertyDescriptor = { value: '' }

/**
 * Attaches the payload's JSON text to a `msg` frame for {@link encodeFrame}. `json` must be what
 * `JSON.stringify(frame.data)` returns for it now.
 */
export function withPayloadJson(frame: MsgFrame, json: string): MsgFrame {
  MSG_JSON_DESCRIPTOR.value = json
  Object.defineProperty(frame, MSG_JSON, MSG_JSON_DESCRIPTOR)
  MSG_JSON_DESCRIPTOR.value = ''
  return frame
}
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Thrown inside the decoder only, caught at its edge: carries the close code and reason. */
class Reject {
  readonly code: DecodeCloseCode
  readonly reason: string
  constructor(code: DecodeCloseCode, reason: string) {
    this.code = code
    this.reason = reason
  }
}

/**
 * Writes a frame as JSON text: `t` first, then the fields in the fixed order of the schema;
 * absent optional fields are left out. It does not validate: build frames from typed values.
 * Throws only for payloads JSON cannot hold (a cycle, a BigInt).
 *
 * @example
 * encodeFrame({ t: 'msg', seq: 1, ack: 0, data: 'hi' }) // '{"t":"msg","seq":1,"ack":0,"data":"hi"}'
 */
export function encodeFrame(frame: Frame): string {
  if (frame.t === 'msg') {
    const json = (frame as MsgFrame & { [MSG_JSON]?: string })[MSG_JSON]
    // The same text JSON.stringify writes for the whole frame: fields in schema order, no spaces.
    if (json !== undefined)
      return frame.ack === undefined
        ? `{"t":"msg","seq":${frame.seq},"data":${json}}`
        : `{"t":"msg","seq":${frame.seq},"ack":${frame.ack},"data":${json}}`
  }
  const entries = ENTRIES_BY_TYPE.get(frame.t) ?? Object.entries(SCHEMAS[frame.t])
  return JSON.stringify(ordered(frame, entries, { t: frame.t }))
}

function ordered(
  source: object,
  entries: Entries,
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  const src = source as Record<string, unknown>
  for (const [name, spec] of entries) {
    const value = src[name]
    if (value === undefined) continue
    out[name] = spec.kind === 'obj' ? ordered(value as object, entriesOf(spec.fields)) : value
  }
  return out
}

/**
 * Reads one text frame. The size is checked before parsing; the result holds fresh objects with
 * only the known fields (unknown fields are dropped, so `__proto__` keys are inert). Never throws.
 *
 * @example
 * const r = decodeFrame('{"t":"ack","ack":3}')
 * if (r.ok) handle(r.frame); else socket.close(r.code, r.reason)
 */
export function decodeFrame(
  text: string | Uint8Array,
  limits: DecodeLimits = DEFAULT_LIMITS,
): DecodeResult {
  try {
    return { ok: true, frame: decode(text, limits) }
  } catch (err) {
    if (err instanceof Reject) return { ok: false, code: err.code, reason: err.reason }
    return { ok: false, code: MALFORMED, reason: 'frame could not be decoded' }
  }
}

function decode(input: string | Uint8Array, limits: DecodeLimits): Frame {
  const text = toText(input, limits.maxFrameBytes)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new Reject(MALFORMED, 'not JSON')
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Reject(MALFORMED, 'not a JSON object')
  const t = own(raw, 't')
  if (typeof t !== 'string') throw new Reject(MALFORMED, 't: missing or not a string')
  const entries = ENTRIES_BY_TYPE.get(t)
  if (entries === undefined) throw new Reject(UNKNOWN, 'unknown frame type')
  const frame = readFields(
    raw,
    entries,
    t,
    { t },
    { limits, sourceChars: text.length },
  ) as unknown as Frame
  const rule = CROSS_FIELD_RULES[t as FrameType] as ((f: Frame) => string | null) | undefined
  const problem = rule?.(frame) ?? null
  if (problem !== null) throw new Reject(MALFORMED, problem)
  return frame
}

function toText(input: string | Uint8Array, maxBytes: number): string {
  if (typeof input === 'string') {
    if (!fitsUtf8(input, maxBytes)) throw new Reject(TOO_LARGE, `frame over ${maxBytes} bytes`)
    return input
  }
  if (!(input instanceof Uint8Array)) throw new Reject(MALFORMED, 'not text')
  if (input.byteLength > maxBytes) throw new Reject(TOO_LARGE, `frame over ${maxBytes} bytes`)
  try {
    return UTF8.decode(input)
  } catch {
    throw new Reject(MALFORMED, 'not UTF-8')
  }
}

function own(obj: object, key: string): unknown {
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined
}

interface Context {
  limits: DecodeLimits
  sourceChars: number
}

function readFields(
  raw: object,
  entries: Entries,
  path: string,
  out: Record<string, unknown>,
  ctx: Context,
): Record<string, unknown> {
  for (const [name, spec] of entries) {
    if (!Object.hasOwn(raw, name)) {
      if (spec.optional === true) continue
      throw new Reject(MALFORMED, `${path}.${name}: missing`)
    }
    out[name] = readField((raw as Record<string, unknown>)[name], spec, path, name, ctx)
  }
  return out
}

/** The field's place in the frame (`msg.seq`) is written only into an error's reason. */
function readField(
  value: unknown,
  spec: FieldSpec,
  path: string,
  name: string,
  ctx: Context,
): unknown {
  switch (spec.kind) {
    case 'int': {
      const max = spec.max === 'maxCredit' ? ctx.limits.maxCredit : spec.max
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= spec.min)
        if (value <= max) return value
      throw new Reject(MALFORMED, `${path}.${name}: expected an integer from ${spec.min} to ${max}`)
    }
    case 'str':
      if (typeof value === 'string' && value.length >= spec.min && value.length <= spec.max)
        if (spec.pattern === undefined || spec.pattern.test(value)) return value
      throw new Reject(MALFORMED, `${path}.${name}: expected ${strRule(spec)}`)
    case 'enum':
      if (typeof value === 'string' && spec.values.includes(value)) return value
      throw new Reject(MALFORMED, `${path}.${name}: not an allowed value`)
    case 'bool':
      if (typeof value === 'boolean') return value
      throw new Reject(MALFORMED, `${path}.${name}: expected a boolean`)
    case 'obj':
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new Reject(MALFORMED, `${path}.${name}: expected an object`)
      return readFields(value, entriesOf(spec.fields), `${path}.${name}`, {}, ctx)
    case 'json':
      return readPayload(value, path, name, ctx)
  }
}

function strRule(spec: Extract<FieldSpec, { kind: 'str' }>): string {
  const chars = `${spec.min} to ${spec.max} characters`
  return spec.charset === undefined ? `a string of ${chars}` : `${chars} from ${spec.charset}`
}

function readPayload(value: unknown, path: string, name: string, ctx: Context): unknown {
  const { maxDepth, maxPayloadBytes } = ctx.limits
  const problem = payloadProblem(value, maxDepth)
  if (problem === 'depth')
    throw new Reject(TOO_LARGE, `${path}.${name}: nested over ${maxDepth} deep`)
  if (problem === 'number') throw new Reject(MALFORMED, `${path}.${name}: a number is out of range`)
  if (!payloadFits(value, ctx.sourceChars, maxPayloadBytes))
    throw new Reject(TOO_LARGE, `${path}.${name}: over ${maxPayloadBytes} bytes`)
  return value
}
