import { describe, expect, it } from 'vitest'
import { make } from './engine-helpers.ts'

const code = (v: { code: number } | null) => v?.code ?? null

describe('engine: protocol violations', () => {
  it('SEC-50 a msg whose seq is not the next expected is 4203', () => {
    const { peer } = make()
    expect(code(peer.receive({ t: 'msg', seq: 2, data: 1 }))).toBe(4203)
    expect(code(peer.receive({ t: 'msg', seq: 1, data: 1 }))).toBeNull()
    expect(code(peer.receive({ t: 'msg', seq: 1, data: 1 }))).toBe(4203)
  })

  it('SEC-50 a gap not starting at the next expected seq is 4203', () => {
    const { peer } = make()
    expect(code(peer.receive({ t: 'gap', from: 2, to: 3, reason: 'store_lost' }))).toBe(4203)
  })

  it('SEC-50 an ack that decreases or exceeds what we sent is 4203', () => {
    const { peer } = make()
    peer.send(1)
    peer.send(2)
    peer.flush()
    expect(code(peer.receive({ t: 'ack', ack: 3 }))).toBe(4203)
    expect(code(peer.receive({ t: 'ack', ack: 2 }))).toBeNull()
    expect(code(peer.receive({ t: 'ack', ack: 1 }))).toBe(4203)
    expect(code(peer.receive({ t: 'msg', seq: 1, ack: 1, data: 0 }))).toBe(4203)
  })

  it('SEC-50 an ack for a queued message never written is 4203', () => {
    const { peer } = make({ credit: 0 })
    peer.send(1)
    peer.flush()
    expect(code(peer.receive({ t: 'ack', ack: 1 }))).toBe(4203)
  })

  it('SEC-50 a msg without credit is 4205', () => {
    const { peer } = make({ grant: 1 })
    expect(code(peer.receive({ t: 'msg', seq: 1, data: 1 }))).toBeNull()
    expect(code(peer.receive({ t: 'msg', seq: 2, data: 1 }))).toBe(4205)
  })

  it('SEC-50 a credit grant raising the balance over maxCredit is 4205', () => {
    const { peer } = make({ credit: 90 })
    expect(code(peer.receive({ t: 'credit', n: 10 }))).toBeNull()
    expect(code(peer.receive({ t: 'credit', n: 1 }))).toBe(4205)
  })

  it('SEC-50 turn frames in full duplex and simplex are 4202', () => {
    const full = make().peer
    expect(code(full.receive({ t: 'turn_please' }))).toBe(4202)
    expect(code(full.receive({ t: 'turn_give' }))).toBe(4202)
    const simplex = make({ mode: 'simplex', turn: 'client' }).peer
    expect(code(simplex.receive({ t: 'turn_give' }))).toBe(4202)
  })

  it('SEC-50 turn_please from the holder is 4202; turn_give from the side without it is 4204', () => {
    const holderIsClient = make({ mode: 'half', turn: 'client' }).peer
    expect(code(holderIsClient.receive({ t: 'turn_please' }))).toBe(4202)
    const holderIsServer = make({ mode: 'half', turn: 'server' }).peer
    expect(code(holderIsServer.receive({ t: 'turn_give' }))).toBe(4204)
    expect(code(holderIsServer.receive({ t: 'turn_please' }))).toBeNull()
  })

  it('SEC-50 msg, call and ckpt without the turn in half duplex and simplex are 4204', () => {
    for (const mode of ['half', 'simplex'] as const) {
      const { peer } = make({ mode, turn: 'server' })
      expect(code(peer.receive({ t: 'msg', seq: 1, data: 1 }))).toBe(4204)
      expect(code(peer.receive({ t: 'call', id: 'c1', method: 'm' }))).toBe(4204)
      expect(code(peer.receive({ t: 'ckpt', id: 'k', seq: 0, ack: 0 }))).toBe(4204)
    }
  })

  it('SEC-50 a second unconfirmed ckpt from the peer is 4202', () => {
    const { peer } = make()
    expect(code(peer.receive({ t: 'ckpt', id: 'a', seq: 0, ack: 0 }))).toBeNull()
    expect(code(peer.receive({ t: 'ckpt', id: 'a', seq: 0, ack: 0 }))).toBeNull()
    expect(code(peer.receive({ t: 'ckpt', id: 'b', seq: 0, ack: 0 }))).toBe(4202)
  })

  it('SEC-50 a ckpt beyond what was received or sent is 4203', () => {
    const { peer } = make()
    expect(code(peer.receive({ t: 'ckpt', id: 'a', seq: 1, ack: 0 }))).toBe(4203)
    expect(code(peer.receive({ t: 'ckpt', id: 'a', seq: 0, ack: 1 }))).toBe(4203)
  })

  it('SEC-50 a restart to an unknown or unconfirmed checkpoint is 4202', () => {
    const { peer } = make({ side: 'client' })
    expect(code(peer.receive({ t: 'resync', n: 1, kind: 'restart', to: 'nope' }))).toBe(4202)
    peer.receive({ t: 'ckpt', id: 'k1', seq: 0, ack: 0 })
    expect(code(peer.receive({ t: 'resync', n: 1, kind: 'restart', to: 'k1' }))).toBe(4202)
  })

  it('SEC-50 a second resync while the first is unanswered is 4202', () => {
    const { peer } = make({ side: 'client' })
    expect(code(peer.receive({ t: 'resync', n: 1, kind: 'abandon', to: 'x' }))).toBeNull()
    expect(code(peer.receive({ t: 'resync', n: 2, kind: 'abandon', to: 'y' }))).toBe(4202)
  })

  it('SEC-50 frames the connection owns are 4202 in the engine', () => {
    const { peer } = make()
    expect(code(peer.receive({ t: 'ping', n: 1 }))).toBe(4202)
    expect(code(peer.receive({ t: 'bye', reason: 'logout' }))).toBe(4202)
  })
})
