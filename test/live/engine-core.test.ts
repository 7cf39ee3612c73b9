import { describe, expect, it } from 'vitest'
import { frames, make, pipe } from './engine-helpers.ts'

describe('engine: sequence numbers, acks, replay', () => {
  it('numbers messages from 1 and delivers them in order', () => {
    const a = make({ side: 'client' })
    const b = make()
    expect(a.peer.send('x')).toEqual({ ok: true, seq: 1, queued: false })
    a.peer.send({ y: [1] })
    pipe(frames(a.peer), b.peer)
    expect(b.events).toEqual([
      { type: 'message', seq: 1, data: 'x' },
      { type: 'message', seq: 2, data: { y: [1] } },
    ])
  })

  it('piggy-backs the ack on outgoing msg only when it advanced', () => {
    const a = make({ side: 'client' })
    const b = make()
    a.peer.send(1)
    pipe(frames(a.peer), b.peer)
    b.peer.send('r1')
    b.peer.send('r2')
    expect(frames(b.peer)).toEqual([
      { t: 'msg', seq: 1, ack: 1, data: 'r1' },
      { t: 'msg', seq: 2, data: 'r2' },
    ])
  })

  it('emits a standalone ack at flush when received messages are unacknowledged', () => {
    const a = make({ side: 'client' })
    const b = make()
    a.peer.send(1)
    a.peer.send(2)
    pipe(frames(a.peer), b.peer)
    expect(frames(b.peer)).toEqual([{ t: 'ack', ack: 2 }])
    expect(frames(b.peer)).toEqual([])
  })

  it('trims the replay buffer on ack and reports acked', () => {
    const a = make({ side: 'client' })
    a.peer.send(1)
    a.peer.send(2)
    frames(a.peer)
    expect(a.peer.unacked).toBe(2)
    expect(a.peer.receive({ t: 'ack', ack: 1 })).toBeNull()
    expect(a.peer.unacked).toBe(1)
    expect(a.events).toContainEqual({ type: 'acked', upTo: 1 })
  })

  it('replays unacknowledged messages after attach, from peerLast + 1, unchanged', () => {
    const a = make({ side: 'client' })
    for (let i = 1; i <= 4; i++) a.peer.send(i)
    frames(a.peer)
    a.peer.detach()
    a.peer.send(5)
    expect(frames(a.peer)).toEqual([])
    expect(a.peer.attach(2, 10, 10)).toBeNull()
    expect(frames(a.peer).map((f) => (f.t === 'msg' ? f.seq : f.t))).toEqual([3, 4, 5])
    expect(a.peer.unacked).toBe(3)
  })

  it('SEC-50 attach with peerLast beyond our last seq is a 4203', () => {
    const a = make({ side: 'client' })
    a.peer.send(1)
    a.peer.detach()
    expect(a.peer.attach(2, 10, 10)?.code).toBe(4203)
  })

  it('delivers a gap as an event and counts it as received', () => {
    const b = make()
    expect(b.peer.receive({ t: 'gap', from: 1, to: 3, reason: 'buffer_age' })).toBeNull()
    expect(b.peer.receive({ t: 'msg', seq: 4, data: null })).toBeNull()
    expect(b.events).toEqual([
      { type: 'gap', from: 1, to: 3, reason: 'buffer_age' },
      { type: 'message', seq: 4, data: null },
    ])
    expect(frames(b.peer)).toEqual([{ t: 'ack', ack: 4 }])
  })
})

describe('engine: credit', () => {
  it('each msg consumes one credit; the rest waits and is written when credit arrives', () => {
    const a = make({ side: 'client', credit: 2 })
    a.peer.send(1)
    a.peer.send(2)
    expect(a.peer.send(3)).toEqual({ ok: true, seq: 3, queued: true })
    expect(frames(a.peer).length).toBe(2)
    expect(a.peer.credit).toBe(0)
    expect(a.peer.receive({ t: 'credit', n: 5 })).toBeNull()
    expect(a.events).toContainEqual({ type: 'drain' })
    expect(frames(a.peer)).toEqual([{ t: 'msg', seq: 3, data: 3 }])
    expect(a.peer.credit).toBe(4)
  })

  it('replayed messages consume credit too', () => {
    const a = make({ side: 'client', credit: 5 })
    a.peer.send(1)
    a.peer.send(2)
    frames(a.peer)
    a.peer.detach()
    a.peer.attach(0, 1, 10)
    expect(frames(a.peer)).toEqual([{ t: 'msg', seq: 1, data: 1 }])
  })

  it('auto-credit grants again after half of the grant was received', () => {
    const a = make({ side: 'client', credit: 4 })
    const b = make({ grant: 4, autoCredit: true })
    for (let i = 0; i < 4; i++) a.peer.send(i)
    pipe(frames(a.peer), b.peer)
    const out = frames(b.peer)
    expect(out.filter((f) => f.t === 'credit')).toEqual([{ t: 'credit', n: 4 }])
  })

  it('grant() sends a credit frame, capped at maxCredit', () => {
    const b = make({ grant: 95 })
    b.peer.grant(50)
    expect(frames(b.peer)).toEqual([{ t: 'credit', n: 5 }])
  })
})

describe('engine: snapshot and restore', () => {
  it('a restored Peer continues the same streams and replays its buffer', () => {
    const a = make({ side: 'client' })
    a.peer.send({ k: 1 })
    a.peer.send({ k: 2 })
    frames(a.peer)
    const b = make()
    b.peer.receive({ t: 'msg', seq: 1, data: 'in' })
    expect(a.peer.receive({ t: 'msg', seq: 1, data: 'in' })).toBeNull()
    const state = JSON.parse(JSON.stringify(a.peer.snapshot()))
    const r = make({ side: 'client', state, attach: false })
    expect(r.peer.snapshot()).toEqual(state)
    r.peer.attach(1, 10, 10)
    // The handshake carried our last (1), so no ack is piggy-backed.
    expect(frames(r.peer)).toEqual([{ t: 'msg', seq: 2, data: { k: 2 } }])
    expect(r.peer.send('n')).toEqual({ ok: true, seq: 3, queued: false })
    expect(r.peer.receive({ t: 'msg', seq: 2, data: 'in2' })).toBeNull()
  })

  it('flush delta reports appended messages and the current positions', () => {
    const a = make({ side: 'client' })
    a.peer.send('a')
    const d1 = a.peer.flush().delta
    expect(d1.appended.map((m) => [m.seq, m.json, m.bytes])).toEqual([[1, '"a"', 3]])
    expect(d1.changed).toBe(true)
    expect(a.peer.flush().delta.changed).toBe(false)
    a.peer.receive({ t: 'ack', ack: 1 })
    const d3 = a.peer.flush().delta
    expect([d3.outAcked, d3.changed, d3.appended.length]).toEqual([1, true, 0])
  })

  it('uses only the injected clock for replay age', () => {
    const a = make({ side: 'client', limits: { replayMaxAgeMs: 100 }, credit: 0 })
    a.peer.send(1)
    a.clock.advance(101)
    a.peer.receive({ t: 'credit', n: 1 })
    expect(frames(a.peer)[0]).toEqual({ t: 'gap', from: 1, to: 1, reason: 'buffer_age' })
  })
})
