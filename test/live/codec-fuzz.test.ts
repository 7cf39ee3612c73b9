/** @module Fuzzes the codec: no input makes decodeFrame throw; bad input gets a documented code. */

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CLOSE_CODES,
  DECODE_CLOSE_CODES,
  DEFAULT_LIMITS,
  type DecodeResult,
  decodeFrame,
  encodeFrame,
  type FieldSpec,
  FRAME_TYPES,
  type Frame,
  SCHEMAS,
} from '../../src/live/protocol/index.ts'
import { anyFrame, FRAME_ARBITRARIES, payload } from './frame-arbitraries.ts'

const RUNS = { numRuns: 300 }
const bytes = (s: string) => new TextEncoder().encode(s).length
const fieldsOf = (t: string) => SCHEMAS[t as Frame['t']] as Readonly<Record<string, FieldSpec>>

/** The contract for any input: a result, never a throw; a refusal carries a decoder close code. */
function decodeChecked(input: string | Uint8Array): DecodeResult {
  let result: DecodeResult | undefined
  expect(() => {
    result = decodeFrame(input)
  }).not.toThrow()
  const r = result!
  if (r.ok) {
    expect(Object.getPrototypeOf(r.frame)).toBe(Object.prototype)
    const known = ['t', ...Object.keys(fieldsOf(r.frame.t))]
    for (const key of Object.keys(r.frame)) expect(known).toContain(key)
    expect(decodeFrame(encodeFrame(r.frame))).toStrictEqual(r)
  } else {
    expect(DECODE_CLOSE_CODES).toContain(r.code)
    expect(r.code).toBeGreaterThanOrEqual(4200)
    expect(r.code).toBeLessThan(4300)
    expect(r.reason.length).toBeGreaterThan(0)
    expect(bytes(r.reason)).toBeLessThanOrEqual(123) // fits a WebSocket close reason
  }
  expect(Object.keys(Object.prototype)).toEqual([])
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  return r
}

/** {@link decodeChecked} as a fast-check predicate (which must return nothing). */
const check = (input: string | Uint8Array): void => void decodeChecked(input)

/** A valid frame as a plain object, ready to be mutated and written out again. */
const rawFrame = anyFrame.map((f) => JSON.parse(encodeFrame(f)) as Record<string, unknown>)

/** Values of a JSON type the field kind does not accept, or out of its range. */
function wrongFor(spec: FieldSpec): fc.Arbitrary<unknown> {
  const containers = [fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.object()]
  switch (spec.kind) {
    case 'int': {
      const max = spec.max === 'maxCredit' ? DEFAULT_LIMITS.maxCredit : spec.max
      return fc.oneof(
        ...containers,
        fc.boolean(),
        fc.string(),
        fc.constantFrom(spec.min - 1, max + 1, 1.5, 2 ** 53, -(2 ** 53), 1e300),
      )
    }
    case 'str':
    case 'enum':
      return fc.oneof(...containers, fc.boolean(), fc.integer())
    case 'bool':
      return fc.oneof(...containers, fc.integer(), fc.string())
    case 'obj':
      return fc.oneof(
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.string(),
        fc.array(fc.nat()),
      )
    case 'json':
      return fc.constant(undefined)
  }
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}

const bomb = (depth: number, open: string, close: string) =>
  `${open.repeat(depth)}${close.repeat(depth)}`

describe('SEC-50: the codec answers any input with a frame or a documented close code, never a throw', () => {
  it('decodes only to codes from the 4200 range that the close-code table documents', () => {
    const documented = Object.values(CLOSE_CODES).map((c) => c.code as number)
    for (const code of DECODE_CLOSE_CODES) expect(documented).toContain(code)
  })

  it('SEC-50: survives arbitrary strings, JSON-ish strings and bytes', () => {
    const jsonish = fc.string({
      unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 't', 'msg', 'ack', '1', '-', 'e'),
      maxLength: 60,
    })
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), check), RUNS)
    fc.assert(fc.property(jsonish, check), RUNS)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), RUNS)
  })

  it('survives arbitrary JSON values, also with a known t and known field names', () => {
    const names = [...new Set(FRAME_TYPES.flatMap((t) => Object.keys(fieldsOf(t))))]
    const lookalike = fc
      .tuple(
        fc.constantFrom(...FRAME_TYPES),
        fc.dictionary(fc.constantFrom(...names), fc.jsonValue({ maxDepth: 3 })),
      )
      .map(([t, fields]) => JSON.stringify({ ...fields, t }))
    fc.assert(
      fc.property(fc.jsonValue(), (v) => void decodeChecked(JSON.stringify(v))),
      RUNS,
    )
    fc.assert(fc.property(lookalike, check), { numRuns: 1_000 })
  })

  it('refuses a valid frame with a required field removed (4200)', () => {
    const case_ = rawFrame.chain((o) =>
      fc.tuple(fc.constant(o), fc.constantFrom(...Object.keys(o))),
    )
    fc.assert(
      fc.property(case_, ([generated, key]) => {
        const o = structuredClone(generated) // fast-check reuses values while shrinking
        const spec = key === 't' ? undefined : fieldsOf(o.t as string)[key]
        delete o[key]
        const r = decodeChecked(JSON.stringify(o))
        if (spec === undefined || spec.optional !== true) expect(r).toMatchObject({ code: 4200 })
      }),
      RUNS,
    )
  })

  it('refuses a field of the wrong type or out of range (4200)', () => {
    const case_ = rawFrame
      .filter((o) =>
        Object.keys(o).some((k) => k !== 't' && fieldsOf(o.t as string)[k]?.kind !== 'json'),
      )
      .chain((o) => {
        const keys = Object.keys(o).filter(
          (k) => k !== 't' && fieldsOf(o.t as string)[k]?.kind !== 'json',
        )
        return fc
          .constantFrom(...keys)
          .chain((key) =>
            fc.tuple(fc.constant(o), fc.constant(key), wrongFor(fieldsOf(o.t as string)[key]!)),
          )
      })
    fc.assert(
      fc.property(case_, ([generated, key, value]) => {
        const o = structuredClone(generated) // fast-check reuses values while shrinking
        o[key] = value
        expect(decodeChecked(JSON.stringify(o))).toMatchObject({ ok: false, code: 4200 })
      }),
      RUNS,
    )
  })

  it('refuses huge strings in any field with 4200 or 4206, and oversized input with 4206', () => {
    const case_ = rawFrame.chain((o) =>
      fc.tuple(
        fc.constant(o),
        fc.constantFrom(...Object.keys(o)),
        fc.integer({ min: 1, max: 70_000 }),
      ),
    )
    fc.assert(
      fc.property(case_, ([generated, key, n]) => {
        const o = structuredClone(generated) // fast-check reuses values while shrinking
        o[key] = 'é'.repeat(n)
        const text = JSON.stringify(o)
        const r = decodeChecked(text)
        if (bytes(text) > DEFAULT_LIMITS.maxFrameBytes) expect(r).toMatchObject({ code: 4206 })
        else if (key === 't') expect(r).toMatchObject({ code: 4201 })
        else {
          const spec = fieldsOf(o.t as string)[key]!
          // A free-text field (cred, message) takes any string within its length bound.
          const fits = spec.kind === 'str' && spec.pattern === undefined && n <= spec.max
          if (spec.kind !== 'json') expect(r.ok).toBe(fits)
          if (
            spec.kind === 'json' &&
            bytes(JSON.stringify(o[key])) > DEFAULT_LIMITS.maxPayloadBytes
          )
            expect(r).toMatchObject({ code: 4206 })
        }
      }),
      { numRuns: 60 },
    )
    fc.assert(
      fc.property(anyFrame, fc.integer({ min: 0, max: 5_000 }), (f, extra) => {
        const text = encodeFrame(f)
        const padded = text + ' '.repeat(DEFAULT_LIMITS.maxFrameBytes + 1 + extra - bytes(text))
        expect(decodeChecked(padded)).toMatchObject({ code: 4206 })
        expect(decodeChecked(new TextEncoder().encode(padded))).toMatchObject({ code: 4206 })
      }),
      { numRuns: 40 },
    )
  })

  it('refuses nesting-depth bombs in a payload (4206) and ignores them in unknown fields', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: DEFAULT_LIMITS.maxDepth + 1, max: 30_000 }),
        fc.boolean(),
        (depth, arrays) => {
          const nested = arrays
            ? bomb(depth, '[', ']')
            : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
          const inPayload = `{"t":"msg","seq":1,"data":${nested}}`
          const inUnknown = `{"t":"ack","ack":1,"x":${nested}}`
          if (bytes(inPayload) <= DEFAULT_LIMITS.maxFrameBytes) {
            expect(decodeChecked(inPayload)).toMatchObject({ ok: false, code: 4206 })
            expect(decodeChecked(inUnknown)).toStrictEqual({
              ok: true,
              frame: { t: 'ack', ack: 1 },
            })
          } else expect(decodeChecked(inPayload)).toMatchObject({ code: 4206 })
        },
      ),
      { numRuns: 60 },
    )
  })

  it('treats __proto__, constructor and prototype keys as inert data', () => {
    const key = fc.constantFrom('__proto__', 'constructor', 'prototype')
    const value = fc.oneof(fc.object(), fc.constant({ polluted: true, ack: 999 }), fc.jsonValue())
    fc.assert(
      fc.property(rawFrame, key, value, (generated, k, v) => {
        const o = structuredClone(generated) // fast-check reuses values while shrinking
        const expected = decodeFrame(JSON.stringify(o))
        setOwn(o, k, v)
        const inner = o.resume
        if (typeof inner === 'object' && inner !== null)
          setOwn(inner as Record<string, unknown>, k, v)
        expect(decodeChecked(JSON.stringify(o))).toStrictEqual(expected)
      }),
      RUNS,
    )
    const r = decodeChecked(
      '{"t":"msg","seq":1,"data":{"__proto__":{"polluted":1},"constructor":2}}',
    )
    expect(r.ok && Object.getPrototypeOf(r.frame.t === 'msg' ? r.frame.data : null)).toBe(
      Object.prototype,
    )
  })

  it('round-trips every valid frame: decode(encode(f)) equals f', () => {
    for (const [t, arb] of Object.entries(FRAME_ARBITRARIES)) {
      fc.assert(
        fc.property(arb, (f) => {
          expect(f.t).toBe(t)
          const text = encodeFrame(f)
          expect(decodeFrame(text)).toStrictEqual({ ok: true, frame: f })
          expect(encodeFrame((decodeFrame(text) as { frame: Frame }).frame)).toBe(text)
        }),
        { numRuns: 200 },
      )
    }
    fc.assert(
      fc.property(payload, (data) => {
        expect(decodeFrame(encodeFrame({ t: 'msg', seq: 1, data: data as never }))).toMatchObject({
          ok: true,
        })
      }),
      RUNS,
    )
  })
})
