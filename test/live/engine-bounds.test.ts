import { describe, expect, it } from 'vitest'
import { frames, make } from './engine-helpers.ts'

describe('engine: replay buffer and queue bounds', () => {
  it('SEC-49 the replay buffer is bounded by count; under drop-oldest evicted messages become a gap on resume', () => {
    const a = make({ limits: { replayMaxCount: 2 }, policy: 'drop-oldest' })
    for (let i = 1; i <= 5; i++) a.peer.send(i)
    frames(a.peer)
    expect(a.peer.unacked).toBe(2)
    a.peer.detach()
    a.peer.attach(1, 10, 10)
    expect(frames(a.peer)).toEqual([
      { t: 'gap', from: 2, to: 3, reason: 'buffer_count' },
      { t: 'msg', seq: 4, data: 4 },
      { t: 'msg', seq: 5, data: 5 },
    ])
  })

  it('SEC-49 the replay buffer is bounded by payload bytes (drop-oldest evicts)', () => {
    const a = make({ limits: { replayMaxBytes: 10 }, policy: 'drop-oldest' })
    a.peer.send('12345678')
    a.peer.send('1234')
    const s = a.peer.snapshot()
    expect([s.outLostTo, s.outLostReason, s.outBuffer.length]).toEqual([1, 'buffer_bytes', 1])
  })

  it('SEC-49 under wait, a full replay buffer refuses new messages instead of losing old ones; an ack makes room and drains', () => {
    const a = make({ limits: { replayMaxCount: 2, replayMaxBytes: 1_000 } })
    expect(a.peer.send(1)).toMatchObject({ ok: true, seq: 1 })
    expect(a.peer.send(2)).toMatchObject({ ok: true, seq: 2 })
    expect(a.peer.send(3)).toEqual({ ok: false, reason: 'queue_full' })
    frames(a.peer)
    const s = a.peer.snapshot()
    expect([s.outLostTo, s.outBuffer.map((m) => m.seq)]).toEqual([0, [1, 2]])
    expect(a.peer.receive({ t: 'ack', ack: 1 })).toBeNull()
    expect(a.events.some((e) => e.type === 'drain')).toBe(true)
    expect(a.peer.send(3)).toMatchObject({ ok: true, seq: 3 })
    // bytes likewise
    const b = make({ limits: { replayMaxBytes: 10 } })
    expect(b.peer.send('12345678')).toMatchObject({ ok: true })
    expect(b.peer.send('1234')).toEqual({ ok: false, reason: 'queue_full' })
  })

  it('SEC-49 under disconnect, a full replay buffer is 4003 (the peer resumes and gets everything)', () => {
    const a = make({ limits: { replayMaxCount: 2 }, policy: 'disconnect' })
    a.peer.send(1)
    a.peer.send(2)
    expect(a.peer.send(3)).toMatchObject({
      ok: false,
      reason: 'disconnect',
      violation: { code: 4003 },
    })
    expect(a.peer.snapshot().outLostTo).toBe(0)
  })

  it('SEC-49 the replay buffer is bounded by age (injected clock)', () => {
    const a = make({ limits: { replayMaxAgeMs: 50 } })
    a.peer.send(1)
    a.clock.advance(60)
    a.peer.send(2)
    expect(a.peer.snapshot().outLostReason).toBe('buffer_age')
    expect(a.peer.unacked).toBe(1)
  })

  it('SEC-49 no gap on resume when the peer already has the evicted messages', () => {
    const a = make({ limits: { replayMaxCount: 1 }, policy: 'drop-oldest' })
    a.peer.send(1)
    a.peer.send(2)
    frames(a.peer)
    a.peer.detach()
    a.peer.attach(1, 10, 10)
    expect(frames(a.peer)).toEqual([{ t: 'msg', seq: 2, data: 2 }])
  })

  it('SEC-49 queue full under wait: queue_full, nothing assigned', () => {
    const a = make({ credit: 0, limits: { maxQueued: 2 } })
    a.peer.send(1)
    a.peer.send(2)
    expect(a.peer.send(3)).toEqual({ ok: false, reason: 'queue_full' })
    expect(a.peer.snapshot().outSeq).toBe(2)
  })

  it('SEC-49 queue full under disconnect: a 4003 violation', () => {
    const a = make({ credit: 0, policy: 'disconnect', limits: { maxQueued: 1 } })
    a.peer.send(1)
    const r = a.peer.send(2)
    expect(r.ok).toBe(false)
    if (!r.ok && r.reason === 'disconnect') expect(r.violation.code).toBe(4003)
    else throw new Error('expected disconnect')
  })

  it('SEC-49 queue full under drop-oldest: the oldest unsent go, a slow_consumer gap takes their place', () => {
    const a = make({ credit: 1, policy: 'drop-oldest', limits: { maxQueued: 2 } })
    a.peer.send(1)
    frames(a.peer)
    for (let i = 2; i <= 5; i++) a.peer.send(i)
    expect(a.peer.receive({ t: 'credit', n: 5 })).toBeNull()
    expect(frames(a.peer)).toEqual([
      { t: 'gap', from: 2, to: 3, reason: 'slow_consumer' },
      { t: 'msg', seq: 4, data: 4 },
      { t: 'msg', seq: 5, data: 5 },
    ])
    // The gap is replayed too, after a resume from the same position.
    a.peer.detach()
    a.peer.attach(1, 10, 10)
    expect(frames(a.peer).map((f) => f.t)).toEqual(['gap', 'msg', 'msg'])
  })

  it('SEC-49 drop-oldest never drops a message already written', () => {
    const a = make({ credit: 2, policy: 'drop-oldest', limits: { maxQueued: 1 } })
    a.peer.send(1)
    a.peer.send(2)
    frames(a.peer)
    a.peer.send(3)
    a.peer.send(4)
    a.peer.receive({ t: 'credit', n: 5 })
    expect(frames(a.peer)).toEqual([
      { t: 'gap', from: 3, to: 3, reason: 'slow_consumer' },
      { t: 'msg', seq: 4, data: 4 },
    ])
  })

  it('SEC-49 an inbound call over maxPendingCalls is answered too_many_calls without an event', () => {
    const b = make({ limits: { maxPendingCalls: 1 } })
    b.peer.receive({ t: 'call', id: 'c1', method: 'm' })
    b.peer.receive({ t: 'call', id: 'c2', method: 'm' })
    expect(b.events.filter((e) => e.type === 'call').length).toBe(1)
    expect(frames(b.peer)).toEqual([
      { t: 'error', id: 'c2', code: 'too_many_calls', message: 'too many unanswered calls' },
    ])
    // Its id is not spent: once c1 is answered, c2 may run.
    b.peer.answer('c1', { ok: true })
    b.peer.receive({ t: 'call', id: 'c2', method: 'm' })
    expect(b.events.filter((e) => e.type === 'call').length).toBe(2)
  })

  it('SEC-49 outbound calls are bounded by maxPendingCalls', () => {
    const a = make({ limits: { maxPendingCalls: 1 } })
    expect(a.peer.call('m')).toEqual({ ok: true, id: 'c1' })
    expect(a.peer.call('m')).toEqual({ ok: false, reason: 'too_many_calls' })
  })
})
