/**
 * The engine's `msg` frames carry their payload's JSON text (written once, at send) and
 * `encodeFrame` splices it in: the text must be byte for byte what encoding the frame afresh
 * writes, and the carried text must stay invisible to equality checks and copies.
 */
import { describe, expect, it } from 'vitest'
import { encodeFrame, type Frame, type JsonValue } from '../../src/live/protocol/index.ts'
import { frames, make, pipe } from './engine-helpers.ts'

/** The encoding of a plain copy of the frame (no carried text): the generic path. */
const fresh = (f: Frame) => encodeFrame({ ...f })

const PAYLOADS: JsonValue[] = [
  { room: 'bench-room-01', user: 'u', text: 'the quick brown fox' },
  'x',
  '',
  'é ü 漢字 😀 \u2028 "quoted" \\ \n',
  0,
  -1.5e-7,
  1e21,
  true,
  null,
  [],
  [1, [2, [3, { a: null }]]],
  { '2': 'b', '1': 'a', z: { y: [] } },
  JSON.parse('{"__proto__":1,"b":["\\ud800"]}') as JsonValue,
]

describe('codec: msg frames with their payload text', () => {
  it('encode byte for byte as the generic encoder does, with and without ack', () => {
    const a = make({ side: 'client', credit: 100, grant: 100 })
    const b = make({ credit: 100, grant: 100 })
    for (const p of PAYLOADS) a.peer.send(p)
    const first = frames(a.peer)
    expect(first.filter((f) => f.t === 'msg')).toHaveLength(PAYLOADS.length)
    for (const f of first) expect(encodeFrame(f)).toBe(fresh(f))
    pipe(first, b.peer)
    for (const p of PAYLOADS) b.peer.send(p)
    const back = frames(b.peer)
    expect(back[0]).toMatchObject({ t: 'msg', ack: PAYLOADS.length })
    for (const f of back) expect(encodeFrame(f)).toBe(fresh(f))
  })

  it('a payload the engine cannot splice (undefined, toJSON) is encoded afresh', () => {
    const a = make({ side: 'client' })
    a.peer.send(undefined as unknown as JsonValue)
    a.peer.send({ toJSON: (key: string) => `key:${key}` } as unknown as JsonValue)
    for (const f of frames(a.peer)) expect(encodeFrame(f)).toBe(fresh(f))
  })

  it('the carried text is invisible: keys, equality, JSON', () => {
    const a = make({ side: 'client' })
    a.peer.send({ n: 1 })
    const [f] = frames(a.peer)
    expect(Object.keys(f!)).toEqual(['t', 'seq', 'data'])
    expect(f).toStrictEqual({ t: 'msg', seq: 1, data: { n: 1 } })
    expect(JSON.parse(JSON.stringify(f))).toStrictEqual({ t: 'msg', seq: 1, data: { n: 1 } })
  })
})
