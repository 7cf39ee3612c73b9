import { describe, expect, it } from 'vitest'
import { frames, make, pipe } from './engine-helpers.ts'

describe('engine: dialog control', () => {
  it('half duplex: only the holder sends; turn_give follows its queued messages', () => {
    const c = make({ side: 'client', mode: 'half', turn: 'client', credit: 1 })
    const s = make({ side: 'server', mode: 'half', turn: 'client' })
    expect(s.peer.send(1)).toEqual({ ok: false, reason: 'not_your_turn' })
    c.peer.send('a')
    c.peer.send('b')
    expect(c.peer.giveTurn()).toBe(true)
    expect(c.peer.turn).toBe('server')
    expect(frames(c.peer).map((f) => f.t)).toEqual(['msg'])
    c.peer.receive({ t: 'credit', n: 1 })
    const rest = frames(c.peer)
    expect(rest.map((f) => f.t)).toEqual(['msg', 'turn_give'])
    s.peer.receive({ t: 'msg', seq: 1, data: 'a' })
    pipe(rest, s.peer)
    expect(s.peer.turn).toBe('server')
    expect(s.events).toContainEqual({ type: 'turn', holder: 'server' })
  })

  it('half duplex: requestTurn sends turn_please, the holder sees turn_requested', () => {
    const c = make({ side: 'client', mode: 'half', turn: 'server' })
    const s = make({ side: 'server', mode: 'half', turn: 'server' })
    expect(c.peer.requestTurn()).toBe(true)
    pipe(frames(c.peer), s.peer)
    expect(s.events).toContainEqual({ type: 'turn_requested' })
    expect(s.peer.requestTurn()).toBe(false)
  })

  it('attach takes the turn the handshake announced', () => {
    const c = make({ side: 'client', mode: 'half', turn: 'server', attach: false })
    c.peer.attach(0, 1, 1, 'client')
    expect(c.peer.turn).toBe('client')
  })

  it('simplex: only the sending side sends', () => {
    const c = make({ side: 'client', mode: 'simplex', turn: 'server' })
    expect(c.peer.send(1)).toEqual({ ok: false, reason: 'not_your_turn' })
    expect(c.peer.giveTurn()).toBe(false)
  })
})

describe('engine: checkpoints and resync', () => {
  it('mark, confirm: both sides record the same point in both streams', () => {
    const c = make({ side: 'client' })
    const s = make({ side: 'server' })
    c.peer.send(1)
    expect(c.peer.checkpoint('k1', { v: 1 })).toEqual({ ok: true })
    expect(c.peer.checkpoint('k2')).toEqual({ ok: false, reason: 'pending' })
    pipe(frames(c.peer), s.peer)
    expect(s.events).toContainEqual({ type: 'checkpoint', id: 'k1', state: { v: 1 } })
    s.peer.confirmCheckpoint('k1')
    const d = s.peer.flush()
    expect(d.delta.checkpoints.map((k) => k.id)).toEqual(['k1'])
    pipe(d.frames, c.peer)
    const cc = c.peer.snapshot().checkpoints[0]!
    const sc = s.peer.snapshot().checkpoints[0]!
    expect([cc.outSeq, cc.inSeq, cc.by]).toEqual([sc.inSeq, sc.outSeq, 'client'])
    expect(cc.state).toBe('{"v":1}')
    expect(c.peer.checkpoint('k1')).toEqual({ ok: false, reason: 'duplicate_id' })
  })

  it('an unconfirmed ckpt is sent again after attach; a confirmed one is re-confirmed', () => {
    const c = make({ side: 'client' })
    c.peer.checkpoint('k1')
    frames(c.peer)
    c.peer.detach()
    c.peer.attach(0, 10, 10)
    expect(frames(c.peer)).toEqual([{ t: 'ckpt', id: 'k1', seq: 0, ack: 0 }])
    const s = make()
    s.peer.receive({ t: 'ckpt', id: 'k1', seq: 0, ack: 0 })
    s.peer.confirmCheckpoint('k1')
    frames(s.peer)
    s.peer.receive({ t: 'ckpt', id: 'k1', seq: 0, ack: 0 })
    expect(frames(s.peer)).toEqual([{ t: 'ckpt_ok', id: 'k1' }])
  })

  it('a ckpt waits until the messages before it are written', () => {
    const c = make({ side: 'client', credit: 0 })
    c.peer.send(1)
    c.peer.checkpoint('k')
    expect(frames(c.peer)).toEqual([])
    c.peer.receive({ t: 'credit', n: 1 })
    expect(frames(c.peer).map((f) => f.t)).toEqual(['msg', 'ckpt'])
  })

  it('resync abandon: the initiator purges messages until resync_ok; both create the checkpoint', () => {
    const c = make({ side: 'client' })
    const s = make({ side: 'server' })
    expect(c.peer.resync('abandon', 'r1', { s: 0 })).toEqual({ ok: true, n: 1 })
    expect(c.peer.send(1)).toEqual({ ok: false, reason: 'resync_pending' })
    pipe(frames(c.peer), s.peer)
    c.peer.receive({ t: 'msg', seq: 1, data: 'late' })
    expect(c.events).toContainEqual({ type: 'purged', seq: 1 })
    const ev = s.events.find((e) => e.type === 'resync')
    expect(ev).toMatchObject({ n: 1, kind: 'abandon', to: 'r1', checkpoint: null })
    s.peer.resyncDone(1)
    pipe(frames(s.peer), c.peer)
    expect(c.events).toContainEqual({ type: 'resynced', n: 1 })
    expect(c.peer.snapshot().checkpoints.map((k) => k.id)).toEqual(['r1'])
    expect(s.peer.snapshot().checkpoints.map((k) => k.id)).toEqual(['r1'])
  })

  it('resync set to an older checkpoint drops the later ones', () => {
    const c = make({ side: 'client' })
    const s = make({ side: 'server' })
    for (const id of ['a', 'b']) {
      c.peer.checkpoint(id)
      pipe(frames(c.peer), s.peer)
      s.peer.confirmCheckpoint(id)
      pipe(frames(s.peer), c.peer)
    }
    c.peer.resync('set', 'a')
    pipe(frames(c.peer), s.peer)
    s.peer.resyncDone(1)
    expect(s.peer.flush().delta.droppedCheckpoints).toEqual(['b'])
  })

  it('crossing resyncs: the server ignores the client one, the client answers the server one', () => {
    const c = make({ side: 'client' })
    const s = make({ side: 'server' })
    c.peer.resync('abandon', 'x')
    s.peer.resync('abandon', 'y')
    const fc = frames(c.peer)
    pipe(frames(s.peer), c.peer)
    pipe(fc, s.peer)
    expect(s.events.some((e) => e.type === 'resync')).toBe(false)
    expect(c.events.some((e) => e.type === 'resync')).toBe(true)
    expect(c.peer.send(1).ok).toBe(true)
  })
})

describe('engine: RPC', () => {
  it('caller ids c1, c2...; answers arrive as result events; unknown ids are ignored', () => {
    const c = make({ side: 'client' })
    const s = make()
    expect(c.peer.call('a', [1])).toEqual({ ok: true, id: 'c1' })
    expect(c.peer.call('b')).toEqual({ ok: true, id: 'c2' })
    pipe(frames(c.peer), s.peer)
    s.peer.answer('c1', { ok: true, data: 7 })
    s.peer.answer('c2', { ok: false, code: 'invalid_params', message: 'no' })
    s.peer.answer('c2', { ok: true })
    const out = frames(s.peer)
    expect(out).toEqual([
      { t: 'result', id: 'c1', data: 7 },
      { t: 'error', id: 'c2', code: 'invalid_params', message: 'no' },
    ])
    pipe(out, c.peer)
    pipe([{ t: 'result', id: 'c9' }], c.peer)
    expect(c.events.filter((e) => e.type === 'result')).toEqual([
      { type: 'result', id: 'c1', outcome: { ok: true, data: 7 } },
      { type: 'result', id: 'c2', outcome: { ok: false, code: 'invalid_params', message: 'no' } },
    ])
    expect(c.peer.pendingCalls).toBe(0)
  })

  it('pending calls are sent again after attach with the same ids, after the replay', () => {
    const c = make({ side: 'client' })
    c.peer.call('m')
    c.peer.send('x')
    frames(c.peer)
    c.peer.detach()
    c.peer.attach(0, 10, 10)
    expect(frames(c.peer).map((f) => `${f.t}:${'id' in f ? f.id : ''}`)).toEqual([
      'msg:',
      'call:c1',
    ])
  })

  it('a duplicate call id answers the recorded outcome or waits for the running one', () => {
    const s = make()
    s.peer.receive({ t: 'call', id: 'c1', method: 'm' })
    s.peer.receive({ t: 'call', id: 'c1', method: 'm' })
    expect(s.events.filter((e) => e.type === 'call').length).toBe(1)
    expect(frames(s.peer)).toEqual([])
    s.peer.answer('c1', { ok: true, data: 1 })
    frames(s.peer)
    s.peer.receive({ t: 'call', id: 'c1', method: 'm' })
    expect(frames(s.peer)).toEqual([{ t: 'result', id: 'c1', data: 1 }])
    // The outcome survives a snapshot (a client page reload).
    const r = make({ state: s.peer.snapshot() })
    r.peer.receive({ t: 'call', id: 'c1', method: 'm' })
    expect(frames(r.peer)).toEqual([{ t: 'result', id: 'c1', data: 1 }])
    expect(r.events).toEqual([])
  })
})
