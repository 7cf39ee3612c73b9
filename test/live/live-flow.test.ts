/**
 * @module LiveClient against the real gateway, on the memory store and on a SQLite file: the
 * slow-consumer policies end to end, `maxBufferedBytes`, checkpoints and resyncs both ways (and
 * durable in the store), dialog control (half duplex, simplex, a raw out-of-turn frame), the
 * cookie credential, in-band refresh of an access token, and the end of the Parley session
 * reaching the client (SEC-51).
 */
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import type { LiveClient } from '../../src/client/live-client.ts'
import type { GapEvent } from '../../src/client/live-events.ts'
import type { LiveClientOptions } from '../../src/client/live-options.ts'
import type { LiveCommit } from '../../src/live/live-store.ts'
import type { JsonValue } from '../../src/live/protocol/index.ts'
import type { LiveSessionHandle } from '../../src/live/server/index.ts'
import { Client } from './gateway-helpers.ts'
import {
  type FlowOptions,
  type FlowRig,
  flowRig,
  GatedLiveStore,
  ORIGIN,
  pauseReading,
  STORE_KINDS,
  type StoreKind,
  settle,
  until,
} from './live-flow-helpers.ts'

let r: FlowRig | undefined
afterEach(async () => {
  await r?.close()
  r = undefined
})

/** Records what a client sees. */
function watch(live: LiveClient) {
  const seen = {
    messages: [] as { seq: number; data: JsonValue }[],
    gaps: [] as GapEvent[],
    closes: [] as number[],
    ended: [] as string[],
    resumed: 0,
  }
  live.on('message', (m) => void seen.messages.push(m))
  live.on('gap', (g) => void seen.gaps.push(g))
  live.on('ended', (e) => void seen.ended.push(e.reason))
  live.on('resumed', () => void seen.resumed++)
  return seen
}

/** A rig, a logged-in user, an open LiveClient and the server's handle on its session. */
async function opened(
  kind: StoreKind,
  options: FlowOptions = {},
  client: Partial<LiveClientOptions> = {},
) {
  const handles: LiveSessionHandle[] = []
  const userOpen = options.onOpen
  r = await flowRig(kind, {
    ...options,
    onOpen: (s) => {
      handles.push(s)
      return userOpen?.(s)
    },
  })
  const rig = r
  const { token, session } = await rig.login()
  const live = rig.client({ credential: () => token, ...client })
  const seen = watch(live)
  live.connect()
  await until(() => live.state === 'open' && handles.length === 1, 'open')
  return { rig, live, seen, handle: handles[0]!, token, session }
}

/** Every seq 1..n is either delivered once (in order) or inside exactly one gap. */
function coverage(seen: ReturnType<typeof watch>, n: number): void {
  const covered: number[] = []
  for (const m of seen.messages) covered.push(m.seq)
  for (const g of seen.gaps) for (let s = g.from; s <= g.to; s++) covered.push(s)
  covered.sort((a, b) => a - b)
  expect(covered).toEqual(Array.from({ length: n }, (_, i) => i + 1))
  const seqs = seen.messages.map((m) => m.seq)
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
}

describe.each(STORE_KINDS)('LiveClient and gateway on the %s store', (kind) => {
  describe('slow-consumer policies through the gateway', () => {
    it('drop-oldest: the client gets an explicit slow_consumer gap and every other message', async () => {
      const { rig, live, seen, handle } = await opened(
        kind,
        { policy: 'drop-oldest', maxQueued: 3 },
        { credit: 2 },
      )
      const resume = pauseReading(rig.sockets.at(-1)!)
      const N = 12
      for (let i = 1; i <= N; i++) expect(await handle.send({ i })).toBe(i)
      await settle()
      resume()
      await until(() => seen.messages.at(-1)?.seq === N, 'the last message')
      expect(seen.gaps.length).toBeGreaterThan(0)
      for (const g of seen.gaps) expect(g.reason).toBe('slow_consumer')
      coverage(seen, N)
      for (const m of seen.messages) expect(m.data).toEqual({ i: m.seq })
      // The newest maxQueued messages are never the ones dropped.
      expect(seen.messages.slice(-3).map((m) => m.seq)).toEqual([N - 2, N - 1, N])
      expect(live.state).toBe('open')
    })

    it('disconnect: an overflow closes with 4003, the client resumes and gets everything', async () => {
      const { rig, live, seen, handle } = await opened(
        kind,
        { policy: 'disconnect', maxQueued: 2 },
        { credit: 2 },
      )
      const resume = pauseReading(rig.sockets.at(-1)!)
      const sent: number[] = []
      let refused: unknown = null
      for (let i = 1; i <= 6; i++) {
        try {
          sent.push(await handle.send({ i }))
        } catch (err) {
          refused = err
          break
        }
      }
      expect(refused).toMatchObject({ code: 'slow_consumer' })
      expect(sent).toEqual([1, 2, 3, 4])
      resume()
      await until(() => live.state === 'reconnecting', 'reconnecting after 4003')
      rig.tick()
      await until(() => seen.messages.length === 4, 'replay after resume')
      expect(seen.resumed).toBe(1)
      expect(seen.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4])
      expect(seen.gaps).toEqual([])
      // The session goes on after the resume.
      expect(await handle.send({ i: 5 })).toBe(5)
      await until(() => seen.messages.length === 5, 'a new message')
    })

    it('wait: send() waits on a full queue and completes once the client grants credit', async () => {
      const { rig, seen, handle } = await opened(
        kind,
        { policy: 'wait', maxQueued: 2 },
        { credit: 2 },
      )
      const resume = pauseReading(rig.sockets.at(-1)!)
      for (let i = 1; i <= 4; i++) expect(await handle.send(i)).toBe(i) // 2 written, 2 queued
      let done: number | null = null
      const fifth = handle.send(5).then((seq) => {
        done = seq
      })
      await settle()
      expect(done).toBeNull() // no credit, full queue: it waits
      resume()
      await fifth
      expect(done).toBe(5)
      await until(() => seen.messages.length === 5, 'all five')
      expect(seen.messages.map((m) => m.data)).toEqual([1, 2, 3, 4, 5])
      expect(seen.gaps).toEqual([])
    })

    it('wait: a send waiting while the client is away completes after the resume (drain on replay)', async () => {
      const { rig, live, seen, handle } = await opened(
        kind,
        { policy: 'wait', maxQueued: 2 },
        { credit: 16 },
      )
      live.disconnect({ reconnect: false })
      await until(() => rig.gateway.stats().suspended === 1, 'suspended')
      expect(await handle.send('a')).toBe(1)
      expect(await handle.send('b')).toBe(2)
      let third: number | null = null
      const waiting = handle.send('c').then((seq) => {
        third = seq
      })
      await settle()
      expect(third).toBeNull()
      live.connect()
      // The resume hands the server 16 credits: the queue drains without any credit frame.
      await waiting
      expect(third).toBe(3)
      await until(() => seen.messages.length === 3, 'all three')
      expect(seen.messages.map((m) => m.data)).toEqual(['a', 'b', 'c'])
    })

    it('maxBufferedBytes: a client that stops reading is closed with 4003, memory stays bounded, it resumes', async () => {
      const maxBufferedBytes = 64 * 1024
      const { rig, live, seen, handle } = await opened(
        kind,
        { maxBufferedBytes, maxQueued: 4096, limits: { replayMaxBytes: 64 * 1024 * 1024 } },
        { credit: 60_000 },
      )
      const resume = pauseReading(rig.sockets.at(-1)!)
      const payload = 'x'.repeat(30_000)
      let n = 0
      // Far more than the kernel buffers take: the socket's own buffer must cross the bound.
      while (rig.gateway.stats().suspended === 0 && n < 2_000) {
        await handle.send({ n: ++n, payload })
        if (n % 20 === 0) await settle(1)
      }
      await until(() => rig.gateway.stats().suspended === 1, 'suspension after 4003')
      expect(n).toBeLessThan(2_000)
      // What the server still holds for this socket is about the bound, not everything sent.
      for (const s of rig.serverSockets)
        expect(s.writableLength).toBeLessThanOrEqual(maxBufferedBytes + 2 * 31_000)
      resume()
      await until(() => live.state === 'reconnecting', 'the client sees the close')
      rig.tick()
      await until(() => seen.messages.at(-1)?.seq === n, 'everything after the resume')
      expect(seen.messages.map((m) => m.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1))
      expect(seen.gaps).toEqual([])
    }, 30_000)
  })

  describe('checkpoints', () => {
    it('client marks: onCheckpoint runs, the client promise resolves, the store holds it', async () => {
      const taken: [string, JsonValue | undefined][] = []
      const { rig, live, handle } = await opened(kind, {
        onCheckpoint: async (_s, id, state) => {
          taken.push([id, state])
        },
      })
      await live.send('before')
      await live.checkpoint('c1', { page: 3 })
      expect(taken).toEqual([['c1', { page: 3 }]])
      const stored = await rig.live.checkpoints(handle.id)
      expect(stored).toHaveLength(1)
      expect(stored[0]).toMatchObject({ id: 'c1', by: 'client', state: '{"page":3}', inSeq: 1 })
    })

    it('a refusing onCheckpoint leaves it unconfirmed and not stored', async () => {
      const { rig, live, handle } = await opened(kind, {
        onCheckpoint: () => {
          throw new Error('not now')
        },
      })
      let confirmed = false
      void live.checkpoint('c1').then(() => {
        confirmed = true
      })
      await settle()
      expect(confirmed).toBe(false)
      expect(await rig.live.checkpoints(handle.id)).toEqual([])
    })

    it('server marks: the client auto-confirms, handle.checkpoint resolves, the store holds it', async () => {
      const { rig, live, handle } = await opened(kind)
      const events: string[] = []
      live.on('checkpoint', ({ id }) => events.push(id))
      await handle.send('m1')
      await handle.checkpoint('s1', { at: 'm1' })
      expect(events).toEqual(['s1'])
      const stored = await rig.live.checkpoints(handle.id)
      expect(stored).toEqual([expect.objectContaining({ id: 's1', by: 'server', outSeq: 1 })])
    })
  })

  describe('resync', () => {
    it('client resyncs (restart, abandon, set) reach onResync and change the stored checkpoints', async () => {
      const resyncs: { kind: string; to: string; known: boolean }[] = []
      const { rig, live, handle } = await opened(kind, {
        onResync: (_s, rs) => {
          resyncs.push({ kind: rs.kind, to: rs.to, known: rs.checkpoint !== null })
        },
      })
      await live.checkpoint('c1', 1)
      await live.checkpoint('c2', 2)
      await live.resync('restart', 'c2')
      await live.resync('abandon', 'c3', { fresh: true })
      await live.resync('set', 'c1')
      expect(resyncs).toEqual([
        { kind: 'restart', to: 'c2', known: true },
        { kind: 'abandon', to: 'c3', known: false },
        { kind: 'set', to: 'c1', known: true },
      ])
      const ids = async () => (await rig.live.checkpoints(handle.id)).map((c) => c.id)
      // `set` to c1 discarded the later ones.
      expect(await ids()).toEqual(['c1'])
      expect(await live.send('after')).toBeGreaterThan(0)
    })

    it('server resyncs reach the client, which confirms; the store follows', async () => {
      const { rig, live, handle } = await opened(kind)
      const seen: { kind: string; to: string; state: JsonValue | undefined }[] = []
      live.on('resync', (e) => void seen.push({ kind: e.kind, to: e.to, state: e.state }))
      await handle.checkpoint('s1')
      await handle.checkpoint('s2')
      await handle.resync('restart', 's1')
      await handle.resync('abandon', 's3', { reset: 1 })
      await handle.resync('set', 's1')
      expect(seen).toEqual([
        { kind: 'restart', to: 's1', state: undefined },
        { kind: 'abandon', to: 's3', state: { reset: 1 } },
        { kind: 'set', to: 's1', state: undefined },
      ])
      expect((await rig.live.checkpoints(handle.id)).map((c) => c.id)).toEqual(['s1'])
    })
  })

  describe('dialog control', () => {
    it('half duplex: the SDK refuses a send without the turn; turn handover works both ways', async () => {
      const got: JsonValue[] = []
      const { live, handle } = await opened(
        kind,
        { onMessage: (_s, d) => void got.push(d) },
        { mode: 'half' },
      )
      expect(handle.mode).toBe('half')
      expect(handle.turn).toBe('server')
      await expect(live.send('no turn')).rejects.toMatchObject({ code: 'not_your_turn' })
      const turns: string[] = []
      live.on('turn', ({ holder }) => turns.push(holder))
      expect(live.requestTurn()).toBe(true)
      await handle.send('mine first')
      expect(handle.giveTurn()).toBe(true)
      await until(() => turns.includes('client'), 'the turn')
      expect(await live.send('now mine')).toBe(1)
      await until(() => got.length === 1, 'delivery')
      expect(got).toEqual(['now mine'])
      await expect(handle.send('not mine')).rejects.toMatchObject({ code: 'not_your_turn' })
    })

    it('half duplex: a raw msg without the turn is closed with 4204', async () => {
      r = await flowRig(kind, { mode: 'half' })
      const { token } = await r.login()
      const c = new Client(r.url)
      await c.opened()
      c.send({ t: 'hello', cred: token })
      const w = await c.next('welcome')
      expect(w).toMatchObject({ mode: 'half', turn: 'server' })
      c.send({ t: 'msg', seq: 1, data: 'out of turn' })
      expect((await c.next('err')).code).toBe(4204)
      expect((await c.closedWith()).code).toBe(4204)
      c.ws.terminate()
    })

    it('simplex: only the named side sends', async () => {
      const got: JsonValue[] = []
      const { live, seen, handle } = await opened(
        kind,
        { mode: 'simplex', turn: 'client', onMessage: (_s, d) => void got.push(d) },
        {},
      )
      expect(handle.mode).toBe('simplex')
      expect(await live.send('up')).toBe(1)
      await until(() => got.length === 1, 'delivery')
      await expect(handle.send('down')).rejects.toMatchObject({ code: 'not_your_turn' })
      expect(live.requestTurn()).toBe(false)
      expect(seen.messages).toEqual([])
    })
  })

  describe('credentials', () => {
    it('the session cookie from an allowed Origin opens a session with cred "cookie"', async () => {
      r = await flowRig(kind)
      const { token } = await r.login()
      r.setHeaders({ Origin: ORIGIN, Cookie: `parley=${token}` })
      const live = r.client({ credential: () => 'cookie' })
      live.connect()
      await until(() => live.state === 'open', 'open')
      expect(await live.send('hi')).toBe(1)
    })

    it('the cookie from a foreign Origin is refused before the upgrade', async () => {
      r = await flowRig(kind)
      const { token } = await r.login()
      r.setHeaders({ Origin: 'https://evil.example', Cookie: `parley=${token}` })
      const live = r.client({ credential: () => 'cookie' })
      live.connect()
      await until(() => live.state === 'reconnecting', 'refused')
      expect(r.gateway.stats().connections).toBe(0)
    })

    it('an access token is refreshed in band before it expires; the connection stays', async () => {
      const verifier = {
        async verify(tokenText: string) {
          const [tag, sid, exp] = tokenText.split(':')
          if (tag !== 'at' || sid === undefined) throw new Error('bad token')
          return { sid, exp: Number(exp) }
        },
      }
      r = await flowRig(kind, { verifier, limits: { heartbeatMs: 300_000 } })
      const rig = r
      const { session } = await rig.login()
      let issued = 0
      const credential = () => {
        issued++
        return `at:${session.id}:${Math.floor(rig.clock.now() / 1000) + 120}`
      }
      const live = rig.client({ credential, refreshLeewayMs: 30_000 })
      const seen = watch(live)
      live.connect()
      await until(() => live.state === 'open', 'open')
      expect(issued).toBe(1)
      const sockets = rig.sockets.length
      rig.advance(95_000) // past exp - leeway: the client refreshes
      await until(() => issued === 2, 'refresh requested')
      await settle()
      rig.advance(60_000) // past the first token's expiry
      await settle()
      expect(live.state).toBe('open')
      expect(rig.sockets.length).toBe(sockets)
      expect(seen.ended).toEqual([])
      rig.advance(200_000) // and again, with the refreshed one's expiry
      await until(() => issued === 3, 'second refresh')
      expect(live.state).toBe('open')
    })
  })

  it('a resume commits what welcome.last acknowledges before the welcome goes out', async () => {
    const gate = new GatedLiveStore()
    r = await flowRig(kind, {}, (live) => gate.wrap(live))
    const rig = r
    onTestFinished(() => {
      gate.hold = false // a failure must not leave the store's commits hanging
      gate.release()
    })
    const { token } = await rig.login()
    const c1 = new Client(rig.url)
    await c1.opened()
    c1.send({ t: 'hello', cred: token })
    const w1 = await c1.next('welcome')
    gate.hold = true
    c1.send({ t: 'msg', seq: 1, data: 'one' })
    await until(() => gate.waiting.length === 1, 'the commit of msg 1 in flight')
    c1.send({ t: 'msg', seq: 2, data: 'two' }) // received; its commit waits for the cycle
    await settle()
    c1.ws.terminate()
    const c2 = new Client(rig.url)
    await c2.opened()
    c2.send({ t: 'hello', resume: { sid: w1.sid, token: w1.token, last: 0 } })
    await settle()
    gate.release() // msg 1's commit goes through; every later one waits again
    const inLast = (w: { commits: LiveCommit[] }) => w.commits.find((x) => x.id === w1.sid)?.inLast
    await until(() => gate.waiting.some((w) => inLast(w) === 2), 'the commit of msg 2')
    await settle()
    // welcome.last = 2 would tell the client msg 2 is safe: not before it is in the store.
    expect(c2.of('welcome')).toEqual([])
    expect((await rig.live.get(w1.sid))?.inLast).toBe(1)
    gate.hold = false
    gate.release()
    const w2 = await c2.next('welcome')
    expect(w2.last).toBe(2)
    expect((await rig.live.get(w1.sid))?.inLast).toBe(2)
    c2.ws.terminate()
  })

  it('SEC-51: ending the Parley session ends the live session; the client gets the reason', async () => {
    const { rig, live, seen, session } = await opened(kind)
    await rig.sessions.end(session.id, 'revoked')
    rig.advance(15_000) // the next heartbeat re-checks the session (SQLite's feed may be first)
    await until(() => live.state === 'ended', 'ended')
    expect(seen.ended).toEqual(['revoked'])
  })
})
