/** @module Resume (SEC-48), replay both ways, the resume window, and exactly-once RPC across resumes. */
import { afterEach, describe, expect, it } from 'vitest'
import type { EndReason } from '../../src/core/session.ts'
import type { JsonValue } from '../../src/live/protocol/index.ts'
import { eventually, type Rig, rig, secondGateway, until } from './gateway-helpers.ts'

let r: Rig
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
  await r?.close()
})

function echoRig(got: JsonValue[] = []) {
  return rig({
    onMessage: (s, data) => {
      got.push(data)
      void s.send({ echo: data })
    },
  })
}

async function suspended(sid: string): Promise<void> {
  await until(() => r.gateway.stats().suspended === 1, 'suspension')
  await eventually(async () => (await r.live.get(sid))?.state === 'suspended', 'stored suspension')
}

describe('SEC-48 resume tokens', () => {
  it('SEC-48: a resume rotates the token; the stale one is refused with 4103 and the holder keeps working', async () => {
    const got: JsonValue[] = []
    r = await echoRig(got)
    const { token } = await r.login()
    const { client: c1, welcome: w1 } = await r.open(token)
    c1.send({ t: 'msg', seq: 1, data: 'a' })
    expect(await c1.next('msg')).toMatchObject({ seq: 1, data: { echo: 'a' } })
    c1.ws.terminate()
    await suspended(w1.sid)

    const c2 = await r.resume(w1.sid, w1.token, 1)
    const w2 = await c2.next('welcome')
    expect(w2).toMatchObject({ sid: w1.sid, resumed: true, last: 1 })
    expect(w2.token).not.toBe(w1.token)
    // The holder's first frame proves it got the new token; the store drops the previous one.
    c2.send({ t: 'ack', ack: 1 })
    await eventually(async () => (await r!.live.get(w1.sid))?.prevTokenHash === null)

    const stale = await r.resume(w1.sid, w1.token, 1)
    expect((await stale.next('err')).code).toBe(4103)
    expect((await stale.closedWith()).code).toBe(4103)

    c2.send({ t: 'msg', seq: 2, data: 'b' })
    expect(await c2.next('msg')).toMatchObject({ seq: 2, data: { echo: 'b' } })
    expect(c2.closed).toBeNull()
    expect(got).toEqual(['a', 'b'])
  })

  it('SEC-48: a welcome lost with its transport: the previous token resumes once more, until the client proves it has the new one', async () => {
    r = await echoRig()
    const { client: c1, welcome: w1 } = await r.open((await r.login()).token)
    c1.ws.terminate()
    await suspended(w1.sid)
    const c2 = await r.resume(w1.sid, w1.token, 0)
    await c2.next('welcome') // ...that the client never got: the transport dies at once
    c2.ws.terminate()
    await suspended(w1.sid)
    const c3 = await r.resume(w1.sid, w1.token, 0)
    const w3 = await c3.next('welcome')
    expect(w3).toMatchObject({ sid: w1.sid, resumed: true })
    c3.send({ t: 'ack', ack: 0 }) // proof of the new token
    await eventually(async () => (await r!.live.get(w1.sid))?.prevTokenHash === null)
    const again = await r.resume(w1.sid, w1.token, 0)
    expect((await again.closedWith()).code).toBe(4103)
    expect(c3.closed).toBeNull()
  })

  it('SEC-48: a foreign or unknown token is 4103 and does not disturb the session', async () => {
    r = await echoRig()
    const a = await r.open((await r.login()).token)
    const b = await r.open((await r.login()).token)
    const foreign = await r.resume(a.welcome.sid, b.welcome.token, 0)
    expect((await foreign.closedWith()).code).toBe(4103)
    const unknown = await r.resume('AAAAAAAAAAAAAAAAAAAAAA', a.welcome.token, 0)
    expect((await unknown.closedWith()).code).toBe(4103)
    a.client.send({ t: 'msg', seq: 1, data: 'still here' })
    expect((await a.client.next('msg')).data).toEqual({ echo: 'still here' })
  })

  it('SEC-48: a valid resume supersedes the connection that holds the session (4104)', async () => {
    r = await echoRig()
    const { client: c1, welcome: w1 } = await r.open((await r.login()).token)
    const c2 = await r.resume(w1.sid, w1.token, 0)
    const w2 = await c2.next('welcome')
    expect(w2.resumed).toBe(true)
    expect((await c1.closedWith()).code).toBe(4104)
    c2.send({ t: 'msg', seq: 1, data: 'new' })
    expect((await c2.next('msg')).data).toEqual({ echo: 'new' })
    expect(r.gateway.stats()).toMatchObject({ connections: 1, suspended: 0 })
  })
})

describe('resume after transport loss', () => {
  it('replays both ways: nothing lost, nothing twice, order kept', async () => {
    const got: JsonValue[] = []
    r = await rig({ onMessage: (_s, data) => void got.push(data) })
    const { client: c1, welcome: w1 } = await r.open((await r.login()).token)
    await r.gateway.send(w1.sid, 'one')
    expect(await c1.next('msg')).toMatchObject({ seq: 1, data: 'one' })
    c1.send({ t: 'ack', ack: 1 })
    c1.send({ t: 'msg', seq: 1, data: 'x' })
    c1.send({ t: 'msg', seq: 2, data: 'y' })
    await until(() => got.length === 2)
    c1.ws.terminate()
    await suspended(w1.sid)
    // The server goes on sending while the client is away.
    expect(await r.gateway.send(w1.sid, 'two')).toBe(2)
    expect(await r.gateway.send(w1.sid, 'three')).toBe(3)

    const c2 = await r.resume(w1.sid, w1.token, 1)
    const w2 = await c2.next('welcome')
    expect(w2.last).toBe(2)
    expect(await c2.next('msg')).toMatchObject({ seq: 2, data: 'two' })
    expect(await c2.next('msg')).toMatchObject({ seq: 3, data: 'three' })
    // The client replays what the server had not received (seq 3), and only that.
    c2.send({ t: 'msg', seq: 3, data: 'z' })
    await until(() => got.length === 3)
    expect(got).toEqual(['x', 'y', 'z'])
    // A duplicate is a sequence error, never a second delivery.
    c2.send({ t: 'msg', seq: 3, data: 'z' })
    expect((await c2.closedWith()).code).toBe(4203)
    expect(got).toEqual(['x', 'y', 'z'])
  })

  it('resumes on another gateway (failover) from the store, with its replay', async () => {
    r = await rig()
    const { client: c1, welcome: w1 } = await r.open((await r.login()).token)
    await r.gateway.send(w1.sid, 'one')
    await r.gateway.send(w1.sid, 'two')
    await c1.next('msg')
    await c1.next('msg')
    c1.send({ t: 'ack', ack: 1 })
    c1.send({ t: 'msg', seq: 1, data: 'x' })
    await eventually(async () => (await r.live.get(w1.sid))?.inLast === 1, 'commit')
    c1.ws.terminate()
    await suspended(w1.sid)

    const b = await secondGateway(r)
    cleanups.push(() => b.close())
    const c2 = await b.resume(w1.sid, w1.token, 1)
    const w2 = await c2.next('welcome')
    expect(w2).toMatchObject({ resumed: true, last: 1 })
    expect(await c2.next('msg')).toMatchObject({ seq: 2, data: 'two' })
    // The first process's copy is fenced off: its next commit fails and it lets go.
    expect(b.gateway.get(w1.sid)?.state).toBe('open')
  })

  it('ends a suspended session with resume_window_expired when its window passes', async () => {
    const ends: EndReason[] = []
    r = await rig({ onEnd: (_s, reason) => void ends.push(reason) })
    const { client: c1, welcome: w1 } = await r.open((await r.login()).token)
    c1.ws.terminate()
    await suspended(w1.sid)
    r.advance(119_000)
    expect(ends).toEqual([])
    r.advance(1_000)
    await until(() => ends.length === 1)
    expect(ends).toEqual(['resume_window_expired'])
    await eventually(async () => (await r.live.get(w1.sid))?.endReason === 'resume_window_expired')
    expect(r.gateway.stats().suspended).toBe(0)
    const late = await r.resume(w1.sid, w1.token, 0)
    expect(await late.next('bye')).toMatchObject({ reason: 'resume_window_expired' })
    expect((await late.closedWith()).code).toBe(4100)
  })
})

describe('RPC exactly once', () => {
  it('runs a method once across a resume and across a failover; answers again from the record', async () => {
    let runs = 0
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    r = await rig({
      methods: {
        charge: async (params) => {
          runs++
          await gate
          return { charged: params }
        },
      },
    })
    const { client: c1, welcome: w1 } = await r.open((await r.login()).token)
    c1.send({ t: 'call', id: 'k1', method: 'charge', params: 5 })
    await until(() => runs === 1)
    c1.ws.terminate()
    await suspended(w1.sid)
    release()

    const c2 = await r.resume(w1.sid, w1.token, 0)
    const w2 = await c2.next('welcome')
    c2.send({ t: 'call', id: 'k1', method: 'charge', params: 5 })
    expect(await c2.next('result')).toEqual({ t: 'result', id: 'k1', data: { charged: 5 } })
    expect(runs).toBe(1)

    c2.ws.terminate()
    await until(() => r.gateway.stats().suspended === 1)
    const b = await secondGateway(r)
    cleanups.push(() => b.close())
    const c3 = await b.resume(w1.sid, w2.token, 0)
    await c3.next('welcome')
    c3.send({ t: 'call', id: 'k1', method: 'charge', params: 5 })
    expect(await c3.next('result')).toEqual({ t: 'result', id: 'k1', data: { charged: 5 } })
    expect(runs).toBe(1)
  })

  it('a call still running on a failed process is answered internal, never run again', async () => {
    let runs = 0
    r = await rig({
      methods: {
        slow: async () => {
          runs++
          await new Promise(() => {})
        },
      },
    })
    const { client: c1, welcome: w1 } = await r.open((await r.login()).token)
    c1.send({ t: 'call', id: 'k9', method: 'slow' })
    await until(() => runs === 1)
    c1.ws.terminate()
    await suspended(w1.sid)
    const b = await secondGateway(r)
    cleanups.push(() => b.close())
    const c2 = await b.resume(w1.sid, w1.token, 0)
    await c2.next('welcome')
    c2.send({ t: 'call', id: 'k9', method: 'slow' })
    expect(await c2.next('error')).toEqual({
      t: 'error',
      id: 'k9',
      code: 'internal',
      message: 'interrupted by a server failure; it may have run',
    })
    expect(runs).toBe(1)
  })

  it('maps LiveRpcError to its code, other throws to a generic internal, unknown methods', async () => {
    const { LiveRpcError } = await import('../../src/live/server/index.ts')
    r = await rig({
      methods: {
        bad: () => {
          throw new LiveRpcError('invalid_params', 'amount is required', { field: 'amount' })
        },
        boom: () => {
          throw new Error('secret stack detail')
        },
        add: (p) => (p as number[]).reduce((a, b) => a + b, 0),
      },
    })
    const { client } = await r.open((await r.login()).token)
    client.send({ t: 'call', id: '1', method: 'bad' })
    client.send({ t: 'call', id: '2', method: 'boom' })
    client.send({ t: 'call', id: '3', method: 'add', params: [1, 2, 3] })
    client.send({ t: 'call', id: '4', method: 'constructor' })
    const answers = new Map<string, unknown>()
    while (answers.size < 4) {
      const f = await client.next()
      if (f.t === 'result' || f.t === 'error') answers.set(f.id, f)
    }
    expect(answers.get('1')).toEqual({
      t: 'error',
      id: '1',
      code: 'invalid_params',
      message: 'amount is required',
      data: { field: 'amount' },
    })
    expect(answers.get('2')).toEqual({
      t: 'error',
      id: '2',
      code: 'internal',
      message: 'internal error',
    })
    expect(answers.get('3')).toEqual({ t: 'result', id: '3', data: 6 })
    expect(answers.get('4')).toMatchObject({ code: 'unknown_method' })
  })
})

describe('fencing and store failures', () => {
  it('SEC-48: a resume on another process fences the old holder: its next commit closes it with 4104', async () => {
    r = await rig()
    const { client: c1, welcome: w1 } = await r.open((await r.login()).token)
    const b = await secondGateway(r)
    cleanups.push(() => b.close())
    const c2 = await b.resume(w1.sid, w1.token, 0)
    expect((await c2.next('welcome')).resumed).toBe(true)
    await r.gateway.send(w1.sid, 'from the old process').catch(() => {})
    expect((await c1.closedWith()).code).toBe(4104)
    expect(c1.of('msg')).toHaveLength(0) // commit before write: nothing went out
    expect(r.gateway.get(w1.sid)).toBeUndefined()
    expect(c2.closed).toBeNull()
  })

  it('a failing store closes with 4005 (resumable) and writes nothing it could not commit', async () => {
    r = await rig()
    const { client, welcome } = await r.open((await r.login()).token)
    const commit = r.live.commit.bind(r.live)
    r.live.commit = async () => {
      throw new Error('store down')
    }
    await r.gateway.send(welcome.sid, 'lost?').catch(() => {})
    expect((await client.closedWith()).code).toBe(4005)
    expect(client.of('msg')).toHaveLength(0)
    r.live.commit = commit
  })

  it('what a failed commit left unsaved is written with the next one: the store never has a hole another process would replay wrong', async () => {
    r = await rig()
    const { client, welcome } = await r.open((await r.login()).token)
    const commit = r.live.commit.bind(r.live)
    r.live.commit = async () => {
      throw new Error('store down')
    }
    await r.gateway.send(welcome.sid, 'during the outage').catch(() => {})
    expect((await client.closedWith()).code).toBe(4005)
    r.live.commit = commit // the store is back; the client resumes here
    const c2 = await r.resume(welcome.sid, welcome.token, 0)
    expect((await c2.next('welcome')).resumed).toBe(true)
    expect(await c2.next('msg')).toMatchObject({ seq: 1, data: 'during the outage' })
    await r.gateway.send(welcome.sid, 'after')
    expect(await c2.next('msg')).toMatchObject({ seq: 2, data: 'after' })
    await eventually(async () => (await r!.live.get(welcome.sid))?.outSeq === 2, 'commit')
    const stored = await r.live.messages(welcome.sid, 0, 10)
    expect(stored.map((m) => [m.seq, m.json])).toEqual([
      [1, '"during the outage"'],
      [2, '"after"'],
    ])
  })
})
