/** @module Golden frames: exact text in, exact object out, and back to the exact same text. */

import { describe, expect, it } from 'vitest'
import {
  DEFAULT_LIMITS,
  decodeFrame,
  encodeFrame,
  FRAME_TYPES,
  type Frame,
} from '../../src/live/protocol/index.ts'

const SID = 'q2Jf0sYtR1mZ8xW4vB7nLw'
const GOLDEN: [string, Frame][] = [
  ['{"t":"hello","cred":"plys_abc.def"}', { t: 'hello', cred: 'plys_abc.def' }],
  [
    `{"t":"hello","resume":{"sid":"${SID}","token":"plyr_x.y","last":41},"credit":16}`,
    { t: 'hello', resume: { sid: SID, token: 'plyr_x.y', last: 41 }, credit: 16 },
  ],
  [
    `{"t":"welcome","sid":"${SID}","token":"plyr_n.m","resumed":false,"last":0,"mode":"full","credit":256,"heartbeatMs":15000,"resumeWindowMs":120000,"maxFrameBytes":65536,"maxPayloadBytes":61440,"maxPendingCalls":64,"exp":1767225600000}`,
    {
      t: 'welcome',
      sid: SID,
      token: 'plyr_n.m',
      resumed: false,
      last: 0,
      mode: 'full',
      credit: 256,
      heartbeatMs: 15_000,
      resumeWindowMs: 120_000,
      maxFrameBytes: 65_536,
      maxPayloadBytes: 61_440,
      maxPendingCalls: 64,
      exp: 1_767_225_600_000,
    },
  ],
  [
    `{"t":"welcome","sid":"${SID}","token":"plyr_n.m","resumed":true,"last":7,"mode":"half","turn":"server","credit":0,"heartbeatMs":1000,"resumeWindowMs":0,"maxFrameBytes":1024,"maxPayloadBytes":1024,"maxPendingCalls":0}`,
    {
      t: 'welcome',
      sid: SID,
      token: 'plyr_n.m',
      resumed: true,
      last: 7,
      mode: 'half',
      turn: 'server',
      credit: 0,
      heartbeatMs: 1_000,
      resumeWindowMs: 0,
      maxFrameBytes: 1_024,
      maxPayloadBytes: 1_024,
      maxPendingCalls: 0,
    },
  ],
  [
    '{"t":"msg","seq":1,"ack":0,"data":{"text":"héllo","n":[1,2.5,null,true]}}',
    { t: 'msg', seq: 1, ack: 0, data: { text: 'héllo', n: [1, 2.5, null, true] } },
  ],
  ['{"t":"msg","seq":9007199254740991,"data":null}', { t: 'msg', seq: 2 ** 53 - 1, data: null }],
  ['{"t":"ack","ack":12}', { t: 'ack', ack: 12 }],
  [
    '{"t":"gap","from":5,"to":9,"reason":"buffer_bytes"}',
    { t: 'gap', from: 5, to: 9, reason: 'buffer_bytes' },
  ],
  ['{"t":"ping","n":3,"ack":20}', { t: 'ping', n: 3, ack: 20 }],
  ['{"t":"pong","n":3}', { t: 'pong', n: 3 }],
  ['{"t":"refresh","cred":"eyJhbGciOi.x.y"}', { t: 'refresh', cred: 'eyJhbGciOi.x.y' }],
  ['{"t":"refreshed","exp":1767225900000}', { t: 'refreshed', exp: 1_767_225_900_000 }],
  [
    '{"t":"ckpt","id":"c-1","seq":10,"ack":4,"state":{"page":2}}',
    { t: 'ckpt', id: 'c-1', seq: 10, ack: 4, state: { page: 2 } },
  ],
  ['{"t":"ckpt_ok","id":"c-1"}', { t: 'ckpt_ok', id: 'c-1' }],
  [
    '{"t":"resync","n":1,"kind":"restart","to":"c-1"}',
    { t: 'resync', n: 1, kind: 'restart', to: 'c-1' },
  ],
  [
    '{"t":"resync","n":2,"kind":"set","to":"c-9","state":[1]}',
    { t: 'resync', n: 2, kind: 'set', to: 'c-9', state: [1] },
  ],
  ['{"t":"resync_ok","n":2}', { t: 'resync_ok', n: 2 }],
  ['{"t":"turn_please"}', { t: 'turn_please' }],
  ['{"t":"turn_give"}', { t: 'turn_give' }],
  ['{"t":"credit","n":64}', { t: 'credit', n: 64 }],
  [
    '{"t":"call","id":"r1","method":"doc.save","params":{"id":7}}',
    { t: 'call', id: 'r1', method: 'doc.save', params: { id: 7 } },
  ],
  ['{"t":"result","id":"r1","data":"saved"}', { t: 'result', id: 'r1', data: 'saved' }],
  ['{"t":"result","id":"r2"}', { t: 'result', id: 'r2' }],
  [
    '{"t":"error","id":"r1","code":"unknown_method","message":"no such method"}',
    { t: 'error', id: 'r1', code: 'unknown_method', message: 'no such method' },
  ],
  [
    '{"t":"err","code":4000,"message":"draining","retryMs":2500}',
    { t: 'err', code: 4000, message: 'draining', retryMs: 2500 },
  ],
  ['{"t":"err","code":4204,"message":""}', { t: 'err', code: 4204, message: '' }],
  ['{"t":"bye","reason":"revoked"}', { t: 'bye', reason: 'revoked' }],
]

describe('codec golden frames', () => {
  it('covers every frame type', () => {
    expect(new Set(GOLDEN.map(([, f]) => f.t))).toEqual(new Set(FRAME_TYPES))
  })

  it.each(GOLDEN)('decodes %s exactly', (text, frame) => {
    expect(decodeFrame(text)).toStrictEqual({ ok: true, frame })
    expect(decodeFrame(new TextEncoder().encode(text))).toStrictEqual({ ok: true, frame })
  })

  it.each(GOLDEN)('encodes to %s exactly', (text, frame) => {
    expect(encodeFrame(frame)).toBe(text)
  })

  it('writes fields in the fixed order, whatever order the object has', () => {
    const shuffled: Frame = { data: [1], ack: 2, seq: 3, t: 'msg' }
    expect(encodeFrame(shuffled)).toBe('{"t":"msg","seq":3,"ack":2,"data":[1]}')
    expect(decodeFrame('{"data":[1],"ack":2,"seq":3,"t":"msg"}')).toStrictEqual({
      ok: true,
      frame: { t: 'msg', seq: 3, ack: 2, data: [1] },
    })
  })

  it('drops unknown fields (versioning rule), also inside resume', () => {
    const text = `{"t":"hello","v":2,"resume":{"sid":"${SID}","token":"k","last":0,"x":1},"cred2":"z"}`
    expect(decodeFrame(text)).toStrictEqual({
      ok: true,
      frame: { t: 'hello', resume: { sid: SID, token: 'k', last: 0 } },
    })
  })
})

const REJECTS: [string, number, string][] = [
  ['', 4200, 'not JSON'],
  ['{"t":"ack","ack":1', 4200, 'not JSON'],
  ['[{"t":"ack","ack":1}]', 4200, 'not a JSON object'],
  ['null', 4200, 'not a JSON object'],
  ['"ack"', 4200, 'not a JSON object'],
  ['{"ack":1}', 4200, 't: missing or not a string'],
  ['{"t":7}', 4200, 't: missing or not a string'],
  ['{"t":"hi"}', 4201, 'unknown frame type'],
  ['{"t":"constructor"}', 4201, 'unknown frame type'],
  ['{"t":"__proto__"}', 4201, 'unknown frame type'],
  ['{"t":"ack"}', 4200, 'ack.ack: missing'],
  ['{"t":"ack","ack":-1}', 4200, 'ack.ack: expected an integer from 0 to 9007199254740991'],
  ['{"t":"ack","ack":1.5}', 4200, 'ack.ack: expected an integer from 0 to 9007199254740991'],
  ['{"t":"ack","ack":"1"}', 4200, 'ack.ack: expected an integer from 0 to 9007199254740991'],
  [
    '{"t":"ack","ack":9007199254740992}',
    4200,
    'ack.ack: expected an integer from 0 to 9007199254740991',
  ],
  ['{"t":"msg","seq":0,"data":1}', 4200, 'msg.seq: expected an integer from 1 to 9007199254740991'],
  ['{"t":"msg","seq":1}', 4200, 'msg.data: missing'],
  ['{"t":"msg","seq":1,"data":1e400}', 4200, 'msg.data: a number is out of range'],
  ['{"t":"credit","n":65537}', 4200, 'credit.n: expected an integer from 1 to 65536'],
  ['{"t":"hello"}', 4200, 'hello: exactly one of cred and resume'],
  [
    '{"t":"hello","cred":"a","resume":{"sid":"s","token":"k","last":0}}',
    4200,
    'hello: exactly one of cred and resume',
  ],
  ['{"t":"hello","resume":[]}', 4200, 'hello.resume: expected an object'],
  [
    '{"t":"hello","resume":{"sid":"a b","token":"k","last":0}}',
    4200,
    'hello.resume.sid: expected 1 to 128 characters from A-Za-z0-9_-',
  ],
  ['{"t":"hello","cred":""}', 4200, 'hello.cred: expected a string of 1 to 8192 characters'],
  ['{"t":"gap","from":5,"to":4,"reason":"store_lost"}', 4200, 'gap.to: less than from'],
  ['{"t":"gap","from":1,"to":1,"reason":"lost"}', 4200, 'gap.reason: not an allowed value'],
  ['{"t":"bye","reason":"bored"}', 4200, 'bye.reason: not an allowed value'],
  ['{"t":"err","code":1000,"message":""}', 4200, 'err.code: expected an integer from 4000 to 4999'],
  [
    `{"t":"msg","seq":1,"data":${'['.repeat(33)}${']'.repeat(33)}}`,
    4206,
    'msg.data: nested over 32 deep',
  ],
]

describe('codec golden rejections', () => {
  it.each(REJECTS)('refuses %s with %i', (text, code, reason) => {
    expect(decodeFrame(text)).toStrictEqual({ ok: false, code, reason })
  })

  it('refuses a frame over maxFrameBytes, counting UTF-8 bytes, not characters', () => {
    const over = { ok: false, code: 4206, reason: 'frame over 65536 bytes' }
    expect(decodeFrame(`"${'x'.repeat(65_534)}"`)).toMatchObject({ code: 4200 }) // 65 536 bytes: parsed
    expect(decodeFrame(`"${'x'.repeat(65_535)}"`)).toStrictEqual(over)
    expect(decodeFrame(`"${'é'.repeat(32_767)}"`)).toMatchObject({ code: 4200 }) // 65 536 bytes
    expect(decodeFrame(`"${'é'.repeat(32_768)}"`)).toStrictEqual(over)
    expect(decodeFrame(`"${'😀'.repeat(16_384)}"`)).toStrictEqual(over)
  })

  it('refuses bytes that are not UTF-8, and a byte-order mark', () => {
    expect(decodeFrame(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({
      code: 4200,
      reason: 'not UTF-8',
    })
    const bom = new Uint8Array([
      0xef,
      0xbb,
      0xbf,
      ...new TextEncoder().encode('{"t":"ack","ack":1}'),
    ])
    expect(decodeFrame(bom)).toMatchObject({ code: 4200, reason: 'not JSON' })
  })

  it('checks the byte size before parsing, with the limits given', () => {
    const limits = { ...DEFAULT_LIMITS, maxFrameBytes: 20 }
    expect(decodeFrame('{"t":"ack","ack":1}', limits)).toMatchObject({ ok: true })
    expect(decodeFrame('{"t":"ack","ack":123}', limits)).toMatchObject({ ok: false, code: 4206 })
    expect(decodeFrame(new Uint8Array(21), limits)).toMatchObject({ ok: false, code: 4206 })
    expect(decodeFrame('{"t":"credit","n":9}', { ...DEFAULT_LIMITS, maxCredit: 8 })).toMatchObject({
      ok: false,
      code: 4200,
    })
  })

  it('bounds a payload by its encoded size, not by the frame size', () => {
    const limits = { ...DEFAULT_LIMITS, maxPayloadBytes: 10 }
    expect(decodeFrame('{"t":"msg","seq":1,"data":"12345678"}', limits)).toMatchObject({ ok: true })
    expect(decodeFrame('{"t":"msg","seq":1,"data":"123456789"}', limits)).toStrictEqual({
      ok: false,
      code: 4206,
      reason: 'msg.data: over 10 bytes',
    })
    // 1e20 is four characters here but 21 digits once encoded again.
    expect(decodeFrame('{"t":"msg","seq":1,"data":1e20}', limits)).toMatchObject({ code: 4206 })
  })
})
