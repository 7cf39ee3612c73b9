/** @module Encodes and decodes `parley.v1` text frames; decoding validates strictly, never throws. */

import { CLOSE_CODES, type DecodeCloseCode } from './close-codes.ts'
import type { Frame, FrameType } from './frames.ts'
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
const SCHEMA_BY_TYPE: ReadonlyMap<string, Fields> = new Map(Object.entries(SCHEMAS))
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
  return JSON.stringify(ordered(frame, SCHEMAS[frame.t], { t: frame.t }))
}

function ordered(
  source: object,
  fields: Fields,
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  const src = source as Record<string, unknown>
  for (const [name, spec] of Object.entries(fields)) {
    const value = src[name]
    if (value === undefined) continue
    out[name] = spec.kind === 'obj' ? ordered(value as object, spec.fields) : value
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
  const fields = SCHEMA_BY_TYPE.get(t)
  if (fields === undefined) throw new Reject(UNKNOWN, 'unknown frame type')
  const frame = readFields(
    raw,
    fields,
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
  fields: Fields,
  path: string,
  out: Record<string, unknown>,
  ctx: Context,
): Record<string, unknown> {
  for (const [name, spec] of Object.entries(fields)) {
    const where = `${path}.${name}`
    if (!Object.hasOwn(raw, name)) {
      if (spec.optional === true) continue
      throw new Reject(MALFORMED, `${where}: missing`)
    }
    out[name] = readField((raw as Record<string, unknown>)[name], spec, where, ctx)
  }
  return out
}

function readField(value: unknown, spec: FieldSpec, where: string, ctx: Context): unknown {
  switch (spec.kind) {
    case 'int': {
      const max = spec.max === 'maxCredit' ? ctx.limits.maxCredit : spec.max
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= spec.min)
        if (value <= max) return value
      throw new Reject(MALFORMED, `${where}: expected an integer from ${spec.min} to ${max}`)
    }
    case 'str':
      if (typeof value === 'string' && value.length >= spec.min && value.length <= spec.max)
        if (spec.pattern === undefined || spec.pattern.test(value)) return value
      throw new Reject(MALFORMED, `${where}: expected ${strRule(spec)}`)
    case 'enum':
      if (typeof value === 'string' && spec.values.includes(value)) return value
      throw new Reject(MALFORMED, `${where}: not an allowed value`)
    case 'bool':
      if (typeof value === 'boolean') return value
      throw new Reject(MALFORMED, `${where}: expected a boolean`)
    case 'obj':
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new Reject(MALFORMED, `${where}: expected an object`)
      return readFields(value, spec.fields, where, {}, ctx)
    case 'json':
      return readPayload(value, where, ctx)
  }
}

function strRule(spec: Extract<FieldSpec, { kind: 'str' }>): string {
  const chars = `${spec.min} to ${spec.max} characters`
  return spec.charset === undefined ? `a string of ${chars}` : `${chars} from ${spec.charset}`
}

function readPayload(value: unknown, where: string, ctx: Context): unknown {
  const { maxDepth, maxPayloadBytes } = ctx.limits
  const problem = payloadProblem(value, maxDepth)
  if (problem === 'depth') throw new Reject(TOO_LARGE, `${where}: nested over ${maxDepth} deep`)
  if (problem === 'number') throw new Reject(MALFORMED, `${where}: a number is out of range`)
  if (!payloadFits(value, ctx.sourceChars, maxPayloadBytes))
    throw new Reject(TOO_LARGE, `${where}: over ${maxPayloadBytes} bytes`)
  return value
}
