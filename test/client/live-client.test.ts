/**
 * @module `LiveClient` against a tiny in-process `parley.v1` server (live-fake-server.ts, a real
 * `ws` socket and the server-side engine): messages both ways, drops and resumes with replay both
 * ways, reloads that lose nothing, non-resumable ends, RPC across reconnects. Protocol timers
 * (backoff, heartbeat, resume window, refresh) run on a manual scheduler: nothing sleeps for them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LiveClient } from '../../src/client/live-client.ts'
import type { LiveEvents } from '../../src/client/live-events.ts'
import type { LiveClientOptions } from '../../src/client/live-options.ts'
import { MemoryLiveStorage } from '../../src/client/live-outbox.ts'
import { ManualScheduler } from '../../src/client/live-scheduler.ts'
import { FakeLiveServer, TestWebSocket, until } from './live-fake-server.ts'

let server: FakeLiveServer
let time: ManualScheduler
let storage: MemoryLiveStorage
const clients: LiveClient[] = []

beforeEach(async () => {
  server = await FakeLiveServer.start()
  time = new ManualScheduler(Date.now())
  storage = new MemoryLiveStorage()
})

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect({ reconnect: false })
  await server.close()
})

function client(options: Partial<LiveClientOptions> = {}) {
  const live = new LiveClient({
    url: server.url,
    credential: () => 'plys_session_token',
    storage,
    clock: time,
    scheduler: time,
    random: () => 0.5,
    WebSocket: TestWebSocket,
    ...options,
  })
  clients.push(live)
  const seen = record(live)
  return { live, seen }
}

function record(live: LiveClient) {
  const seen = {
    messages: [] as unknown[],
    seqs: [] as number[],
    states: [] as string[],
    ended: [] as LiveEvents['ended'][],
    lost: [] as LiveEvents['lost'][],
    resumed: [] as LiveEvents['resumed'][],
    results: [] as LiveEvents['result'][],
  }
  live.on('message', ({ seq, data }) => {
    seen.seqs.push(seq)
    seen.messages.push(data)
  })
  live.on('state', ({ state }) => seen.states.push(state))
  live.on('ended', (e) => seen.ended.push(e))
  live.on('lost', (e) => seen.lost.push(e))
  live.on('resumed', (e) => seen.resumed.push(e))
  live.on('result', (e) => seen.results.push(e))
  return seen
}

const open = (live: LiveClient) => until(() => live.state === 'open', 'open')

/** Runs the backoff timer (the manual scheduler), then waits for the resume over the socket. */
async function resume(live: LiveClient) {
  await until(() => live.state === 'reconnecting', 'reconnecting')
  time.advance(30_000)
  await open(live)
}

describe('LiveClient against a parley.v1 server', () => {
  it('opens a session and carries messages both ways, in order, exactly once', async () => {
    const { live, seen } = client()
    live.connect()
    await open(live)
    expect(server.hellos[0]).toEqual({ t: 'hello', cred: 'plys_session_token' })
    expect(live.sid).toBe(server.only.sid)
    expect(
      await Promise.all([live.send({ n: 1 }), live.send({ n: 2 }), live.send('three')]),
    ).toEqual([1, 2, 3])
    const s = server.only
    await until(() => s.received.length === 3, 'server receives')
    expect(s.received).toEqual([{ n: 1 }, { n: 2 }, 'three'])
    for (const n of [1, 2, 3]) server.send(s, { tick: n })
    await until(() => seen.messages.length === 3, 'client receives')
    expect(seen.messages).toEqual([{ tick: 1 }, { tick: 2 }, { tick: 3 }])
    expect(seen.seqs).toEqual([1, 2, 3])
    expect(seen.states).toEqual(['connecting', 'open'])
  })

  it('sends made before the first welcome wait for it', async () => {
    const { live } = client()
    const first = live.send('early')
    live.connect()
    expect(await first).toBe(1)
    await until(() => server.only.received.length === 1, 'server receives')
  })

  it('resumes after a drop mid-stream and replays both ways: nothing lost, nothing twice', async () => {
    const { live, seen } = client()
    live.connect()
    await open(live)
    const s = server.only
    await live.send('c1')
    server.send(s, 's1')
    await until(() => s.received.length === 1 && seen.messages.length === 1, 'first exchange')
    server.drop(s) // the server's side is gone; the client has not noticed yet
    server.send(s, 's2') // buffered on the server, for replay
    server.send(s, 's3')
    await live.send('c2') // may hit the dead socket: the client replays it
    await until(() => live.state === 'reconnecting', 'client notices')
    await live.send('c3') // while reconnecting: queued in the outbox
    await resume(live)
    await until(() => s.received.length === 3 && seen.messages.length === 3, 'replay')
    expect(s.received).toEqual(['c1', 'c2', 'c3'])
    expect(seen.messages).toEqual(['s1', 's2', 's3'])
    expect(seen.seqs).toEqual([1, 2, 3])
    expect(server.hellos[1]).toMatchObject({ t: 'hello', resume: { sid: s.sid, last: 1 } })
    expect(seen.resumed).toEqual([
      { sid: s.sid, replayedOut: 2, replayedInAfter: 1, restored: false },
    ])
    expect(seen.states).toEqual(['connecting', 'open', 'reconnecting', 'open'])
  })

  it('a reload (a new LiveClient on the same storage) resumes and loses nothing', async () => {
    const first = client()
    first.live.connect()
    await open(first.live)
    const s = server.only
    server.hold.add('slow')
    const answer = first.live.call('slow', { x: 1 })
    await first.live.send('c1')
    await until(() => s.received.length === 1 && s.held.size === 1, 'server has c1 and the call')
    first.live.disconnect({ reconnect: false }) // the page goes away (no bye)
    await first.live.send('c2') // accepted while offline, before the unload: persisted
    server.send(s, 's1')
    void answer.catch(() => undefined) // this page's promise dies with the page

    const second = client() // the reload
    expect(second.live.sid).toBe(s.sid)
    second.live.connect()
    await open(second.live)
    for (const held of s.held.values()) held({ ok: true, data: 'done' })
    await until(() => s.received.length === 2, 'server gets c2')
    await until(() => second.seen.messages.length === 1, 'client gets s1')
    await until(() => second.seen.results.length === 1, 'the result of the call from before')
    expect(s.received).toEqual(['c1', 'c2'])
    expect(second.seen.messages).toEqual(['s1'])
    expect(second.seen.results).toEqual([{ id: 'c1', outcome: { ok: true, data: 'done' } }])
    expect(second.seen.resumed[0]).toMatchObject({ replayedOut: 1, restored: true })
    expect(s.resumes).toBe(1)
    expect(await second.live.send('c3')).toBe(3) // seqs go on from the stored state
  })

  it('a reload whose resume is refused reports the old session ended and its outbox lost, then starts anew', async () => {
    const first = client()
    first.live.connect()
    await open(first.live)
    const old = server.only
    first.live.disconnect({ reconnect: false })
    await first.live.send('unsent')
    server.sessions.clear() // the server forgot it: 4103

    const second = client()
    second.live.connect()
    await until(() => second.seen.ended.length === 1, 'ended')
    expect(second.seen.lost).toEqual([{ sid: old.sid, seqs: [1], calls: [] }])
    expect(second.seen.ended).toEqual([
      { sid: old.sid, reason: 'resume_token_invalid', code: 4103 },
    ])
    await open(second.live)
    expect(second.live.sid).not.toBe(old.sid)
    expect(await second.live.send('fresh')).toBe(1)
  })

  it('a non-resumable close ends the session (bye reason), rejecting what waits', async () => {
    const { live, seen } = client()
    live.connect()
    await open(live)
    const s = server.only
    server.hold.add('slow')
    const answer = expect(live.call('slow')).rejects.toMatchObject({
      name: 'LiveCallError',
      code: 'session_ended',
    })
    await until(() => s.held.size === 1, 'call arrives')
    server.end(s, 'revoked')
    await until(() => live.state === 'ended', 'ended')
    await answer
    expect(seen.ended).toEqual([{ sid: s.sid, reason: 'revoked', code: 4100 }])
    expect(seen.lost).toEqual([{ sid: s.sid, seqs: [], calls: [{ id: 'c1', method: 'slow' }] }])
    await expect(live.send('late')).rejects.toMatchObject({ code: 'session_ended' })
    time.advance(120_000)
    expect(server.hellos).toHaveLength(1) // never resumes
    expect(storage.load('default')).toBeNull()
  })

  it('a refused credential ends with the close code name', async () => {
    const { live, seen } = client({ credential: async () => 'bad' })
    live.connect()
    await until(() => live.state === 'ended', 'ended')
    expect(seen.ended).toEqual([{ sid: null, reason: 'credential_invalid', code: 4101 }])
  })

  it('an RPC resolves across a reconnect (the engine re-sends it; exactly once at the server)', async () => {
    const { live } = client()
    live.connect()
    await open(live)
    const s = server.only
    server.hold.add('slow')
    const slow = live.call('slow', { n: 1 })
    await until(() => s.held.size === 1, 'call arrives')
    server.drop(s)
    await until(() => live.state === 'reconnecting', 'reconnecting')
    const echo = live.call('echo', { made: 'offline' })
    await resume(live)
    for (const held of s.held.values()) held({ ok: true, data: 'slow done' })
    await expect(slow).resolves.toBe('slow done')
    await expect(echo).resolves.toEqual({ made: 'offline' })
    expect(s.calls).toEqual(['slow', 'echo'])
    await expect(live.call('nope')).rejects.toMatchObject({ code: 'unknown_method' })
  })

  it('answers the server calls with handle(), and unknown methods with unknown_method', async () => {
    const { live } = client()
    live.handle('sum', (p) => (p as number[]).reduce((a, b) => a + b, 0))
    const events: string[] = []
    live.on('call', ({ method }) => events.push(method))
    live.connect()
    await open(live)
    const s = server.only
    server.call(s, 'sum', [1, 2, 3])
    server.call(s, 'nope')
    await until(() => s.results.length === 2, 'answers')
    expect(s.results).toEqual(
      expect.arrayContaining([
        { ok: true, data: 6 },
        { ok: false, code: 'unknown_method', message: 'no handler for this method' },
      ]),
    )
    expect(events).toEqual(['sum', 'nope'])
  })

  it('no frame within 2 × heartbeatMs: the client drops the transport and resumes', async () => {
    const { live, seen } = client()
    live.connect()
    await open(live)
    time.advance(29_999)
    expect(live.state).toBe('open')
    time.advance(1)
    expect(live.state).toBe('reconnecting')
    await resume(live)
    expect(seen.resumed).toHaveLength(1)
  })

  it('stops resuming when the resume window has passed since the transport was lost', async () => {
    const { live, seen } = client()
    live.connect()
    await open(live)
    const s = server.only
    await server.close() // the server is gone for good
    await until(() => live.state === 'reconnecting', 'reconnecting')
    for (let i = 0; i < 4 && live.state !== 'ended'; i++) {
      time.advance(30_000)
      await until(() => live.state === 'reconnecting' || live.state === 'ended', 'attempt fails')
    }
    expect(seen.ended).toEqual([{ sid: s.sid, reason: 'resume_window_expired', code: null }])
    server = await FakeLiveServer.start() // for afterEach
  })

  it('close() says bye (logout) after what was sent, and ends', async () => {
    const { live, seen } = client()
    live.connect()
    await open(live)
    void live.send('last words')
    await live.close()
    expect(server.only.received).toEqual(['last words'])
    expect(server.only.ended).toBe('logout')
    expect(seen.ended).toEqual([{ sid: server.only.sid, reason: 'logout', code: 4100 }])
    expect(storage.load('default')).toBeNull()
  })

  it('refreshes the credential in-band ahead of welcome.exp', async () => {
    await server.close()
    server = await FakeLiveServer.start({ exp: () => time.now() + 120_000, heartbeatMs: 300_000 })
    let n = 0
    const { live } = client({ credential: () => `cred_${n++}` })
    live.connect()
    await open(live)
    time.advance(90_000)
    await until(() => server.refreshes.length === 1, 'refresh')
    expect(server.refreshes).toEqual(['cred_1'])
    time.advance(90_000) // `refreshed` named the next expiry
    await until(() => server.refreshes.length === 2, 'second refresh')
    expect(server.refreshes).toEqual(['cred_1', 'cred_2'])
    expect(live.state).toBe('open')
  })
})
