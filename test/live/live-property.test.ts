/**
 * @module fast-check over the REAL gateway and LiveClient (memory store or SQLite file): random
 * schedules of client and server sends, client and server RPC calls, client disconnects,
 * abrupt socket destruction on the server side, gateway failovers (closed without drain, another
 * one started on the same store) and client reloads (a new LiveClient on the same storage).
 * Whatever happens, every message arrives exactly once and in order both ways (no gap under
 * `wait` with default bounds), every RPC runs exactly once, and credit never goes negative.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { LiveClient } from '../../src/client/live-client.ts'
import { MemoryLiveStorage } from '../../src/client/live-outbox.ts'
import { Peer } from '../../src/live/engine/peer.ts'
import type { PeerContract } from '../../src/live/engine/types.ts'
import type { JsonValue } from '../../src/live/protocol/index.ts'
import { flowRig, type StoreKind, settle } from './live-flow-helpers.ts'

type Cmd =
  | { t: 'csend' }
  | { t: 'ssend' }
  | { t: 'ccall'; slow: boolean }
  | { t: 'scall' }
  | { t: 'disconnect' }
  | { t: 'cut' }
  | { t: 'restart' }
  | { t: 'reload' }
  | { t: 'io' }
  | { t: 'cburst'; n: number }
  | { t: 'sburst'; n: number }

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ t: 'csend' as const }) },
  { weight: 6, arbitrary: fc.constant({ t: 'ssend' as const }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('ccall' as const), slow: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ t: 'scall' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'disconnect' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'cut' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reload' as const }) },
  { weight: 3, arbitrary: fc.constant({ t: 'io' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('cburst' as const), n: fc.integer({ min: 2, max: 8 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('sburst' as const), n: fc.integer({ min: 2, max: 8 }) }),
  },
)

/** Polls `cond`, running the client's due timers (reconnect backoff) in between. */
async function until(tick: () => void, cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (cond()) return
    tick()
    await new Promise((r) => setTimeout(r, 2))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function run(kind: StoreKind, cmds: Cmd[]): Promise<void> {
  /** Everything the server applications (any gateway) saw, and what RPC methods ran. */
  const serverGot: JsonValue[] = []
  const serverRuns = new Map<number, number>()
  const clientRuns = new Map<number, number>()
  const r = await flowRig(kind, {
    onMessage: (_s, data) => void serverGot.push(data),
    methods: {
      inc: (p) => {
        const k = (p as { k: number }).k
        serverRuns.set(k, (serverRuns.get(k) ?? 0) + 1)
        return k
      },
      // Still running when a failover may come (the gateway closes while it awaits).
      slowInc: async (p) => {
        const k = (p as { k: number }).k
        serverRuns.set(k, (serverRuns.get(k) ?? 0) + 1)
        await new Promise((res) => setTimeout(res, 3))
        return k
      },
    },
  })
  const storage = new MemoryLiveStorage()
  const peers: PeerContract[] = []
  const clientGot: JsonValue[] = []
  const gaps: unknown[] = []
  const ended: string[] = []
  const callResults = new Map<number, unknown>()
  const serverCallResults = new Map<number, unknown>()
  const { token } = await r.login()
  let live: LiveClient

  function newClient(): LiveClient {
    const c = r.client({
      credential: () => token,
      storage,
      name: 'prop',
      createPeer: (o) => {
        const p = new Peer(o)
        peers.push(p)
        return p
      },
    })
    c.on('message', ({ data }) => void clientGot.push(data))
    c.on('gap', (g) => void gaps.push(g))
    c.on('ended', ({ reason }) => void ended.push(reason))
    // Answers to calls made before a reload arrive as events (no promise waits for them).
    c.on('result', ({ outcome }) => {
      if (outcome.ok) callResults.set(outcome.data as number, outcome.data)
    })
    c.handle('cinc', (p) => {
      const k = (p as { k: number }).k
      clientRuns.set(k, (clientRuns.get(k) ?? 0) + 1)
      return k
    })
    c.connect()
    return c
  }

  const tick = () => r.tick()
  const checkCredit = () => {
    for (const p of peers) expect(p.credit).toBeGreaterThanOrEqual(0)
  }

  try {
    live = newClient()
    await until(tick, () => live.state === 'open', 'open')
    const sid = live.sid!
    let cSent = 0
    let sSent = 0
    let cCalls = 0
    let sCalls = 0
    /** Server calls made on the gateway running now (a failover forgets the caller's promise). */
    let sPending: Promise<unknown>[] = []
    /** Sends not awaited when made (bursts): they must all resolve. */
    const inFlight: Promise<unknown>[] = []

    for (const c of cmds) {
      switch (c.t) {
        case 'csend':
          await live.send({ c: cSent++ })
          break
        case 'ssend': {
          // After a failover the new gateway holds the session once the client resumed there.
          await until(tick, () => r.gateway.get(sid) !== undefined, 'the session held')
          await r.gateway.send(sid, { s: sSent++ })
          break
        }
        case 'ccall': {
          const k = cCalls++
          live.call(c.slow ? 'slowInc' : 'inc', { k }).then(
            (v) => callResults.set(k, v),
            (err: unknown) => callResults.set(k, { err }),
          )
          break
        }
        case 'scall': {
          const h = r.gateway.get(sid)
          if (h === undefined || h.state === 'ended') break
          const k = sCalls++
          sPending.push(
            h.call('cinc', { k }).then(
              (v) => serverCallResults.set(k, v),
              (err: unknown) => serverCallResults.set(k, { err }),
            ),
          )
          break
        }
        case 'disconnect':
          live.disconnect()
          break
        case 'cut':
          r.cut()
          break
        case 'restart':
          await r.restart()
          sPending = []
          break
        case 'reload':
          // A page reloads between tasks: what the old page queued for this turn has run.
          await settle(1)
          live.disconnect({ reconnect: false })
          live = newClient()
          break
        case 'io':
          await settle(2)
          break
        case 'cburst':
          for (let i = 0; i < c.n; i++) inFlight.push(live.send({ c: cSent++ }))
          break
        case 'sburst':
          // Not awaited, and perhaps right before a failover: close() commits them first.
          if (r.gateway.get(sid) === undefined) break
          for (let i = 0; i < c.n; i++) inFlight.push(r.gateway.send(sid, { s: sSent++ }))
          break
      }
      tick()
      checkCredit()
    }

    // Quiesce: reconnect, then everything sent must arrive and every call must be answered.
    await until(
      tick,
      () => live.state === 'open' && r.gateway.get(sid)?.state === 'open',
      'open at the end',
    )
    await until(tick, () => serverGot.length >= cSent, `server gets ${cSent} messages`)
    await until(tick, () => clientGot.length >= sSent, `client gets ${sSent} messages`)
    await until(tick, () => callResults.size >= cCalls, `${cCalls} call answers`).catch((err) => {
      throw new Error(
        `${err}: results ${JSON.stringify([...callResults])}, runs ${JSON.stringify([...serverRuns])}, state ${live.state}`,
      )
    })
    await Promise.all(sPending)
    await Promise.all(inFlight)
    checkCredit()

    expect(ended).toEqual([])
    expect(gaps).toEqual([])
    expect(serverGot).toEqual(Array.from({ length: cSent }, (_, i) => ({ c: i })))
    expect(clientGot).toEqual(Array.from({ length: sSent }, (_, i) => ({ s: i })))
    for (let k = 0; k < cCalls; k++) {
      expect(callResults.get(k), `call ${k}`).toBe(k)
      expect(serverRuns.get(k), `runs of call ${k}`).toBe(1)
    }
    for (const [k, v] of serverCallResults) {
      expect(v, `server call ${k}`).toBe(k)
      expect(clientRuns.get(k)).toBe(1)
    }
    for (const n of clientRuns.values()) expect(n).toBeLessThanOrEqual(1)
  } finally {
    await r.close()
  }
}

describe('property: LiveClient and the real gateway under disconnects, failovers and reloads', () => {
  it('exactly once, in order, both ways; RPC exactly once; credit never negative', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<StoreKind>('memory', 'sqlite'),
        fc.array(cmd, { minLength: 10, maxLength: 60 }),
        async (kind, cmds) => run(kind, cmds),
      ),
      { numRuns: 25, endOnFailure: true },
    )
  }, 120_000)
})
