/** @module Session end propagation (SEC-51), heartbeats, refresh and expiry, bye, and draining. */
import { afterEach, describe, expect, it } from 'vitest'
import type { EndReason } from '../../src/core/session.ts'
import { eventually, type Rig, rig, until } from './gateway-helpers.ts'

let r: Rig
afterEach(async () => {
  await r?.close()
})

describe('SEC-51 session end propagation', () => {
  it('SEC-51: sessions.end closes live connections with bye + reason and 4100 (change feed)', async () => {
    const ends: EndReason[] = []
    r = await rig({ watched: true, onEnd: (_s, reason) => void ends.push(reason) })
    const { token, session } = await r.login()
    const a = await r.open(token)
    const b = await r.open(token)
    const other = await r.open((await r.login()).token)
    await r.sessions.end(session.id, 'revoked')
    for (const c of [a.client, b.client]) {
      expect(await c.next('bye')).toEqual({ t: 'bye', reason: 'revoked' })
      expect((await c.closedWith()).code).toBe(4100)
    }
    expect(other.client.closed).toBeNull()
    await eventually(async () => (await r.live.get(a.welcome.sid))?.endReason === 'revoked')
    expect(ends).toEqual(['revoked', 'revoked'])
  })

  it('SEC-51: without a change feed, the heartbeat re-check ends it within heartbeatMs', async () => {
    r = await rig()
    const { token, session } = await r.login()
    const { client, welcome } = await r.open(token)
    await r.sessions.end(session.id, 'password_changed')
    expect(client.closed).toBeNull()
    r.advance(15_000)
    expect(await client.next('bye')).toEqual({ t: 'bye', reason: 'password_changed' })
    expect((await client.closedWith()).code).toBe(4100)
    await eventually(async () => (await r.live.get(welcome.sid))?.endReason === 'password_changed')
  })

  it('SEC-51: a resume of a live session whose Parley session ended gets bye + 4100', async () => {
    r = await rig()
    const { token, session } = await r.login()
    const { client, welcome } = await r.open(token)
    client.ws.terminate()
    await until(() => r.gateway.stats().suspended === 1)
    await r.sessions.end(session.id, 'revoked')
    const c2 = await r.resume(welcome.sid, welcome.token, 0)
    expect(await c2.next('bye')).toEqual({ t: 'bye', reason: 'revoked' })
    expect((await c2.closedWith()).code).toBe(4100)
  })
})

describe('heartbeats', () => {
  it('closes with 4001 when no frame answers a ping within heartbeatMs, and suspends', async () => {
    r = await rig()
    const { client, welcome } = await r.open((await r.login()).token)
    r.advance(15_000)
    expect(await client.next('ping')).toEqual({ t: 'ping', n: 1 })
    r.advance(15_000)
    expect((await client.closedWith()).code).toBe(4001)
    await eventually(async () => (await r.live.get(welcome.sid))?.state === 'suspended')
  })

  it('stays open while pongs answer, and live activity touches the Parley session', async () => {
    r = await rig()
    const { token, session } = await r.login()
    const { client } = await r.open(token)
    for (let n = 1; n <= 6; n++) {
      r.advance(15_000)
      expect(await client.next('ping')).toEqual({ t: 'ping', n })
      client.send({ t: 'pong', n })
      await new Promise((res) => setTimeout(res, 10))
    }
    expect(client.closed).toBeNull()
    await eventually(async () => (await r.sessions.get(session.id)).lastSeenAt > session.lastSeenAt)
  })
})

describe('refresh and credential expiry', () => {
  function verifierRig() {
    const exps = new Map<string, number>()
    return {
      exps,
      verifier: {
        async verify(token: string) {
          const [, sid, exp] = token.split(':')
          if (!token.startsWith('at:') || sid === undefined) throw new Error('bad')
          return { sid, exp: Number(exp) }
        },
      },
    }
  }

  it('announces exp, accepts a refresh for the same session, closes 4102 when it lapses', async () => {
    const { verifier } = verifierRig()
    r = await rig({ verifier, limits: { heartbeatMs: 300_000 } })
    const { session } = await r.login()
    const now = Math.floor(r.clock.now() / 1000)
    const { client, welcome } = await r.open(`at:${session.id}:${now + 60}`)
    expect(welcome.exp).toBe((now + 60) * 1000)
    client.send({ t: 'refresh', cred: `at:${session.id}:${now + 120}` })
    expect(await client.next('refreshed')).toEqual({ t: 'refreshed', exp: (now + 120) * 1000 })
    r.advance(61_000)
    expect(client.closed).toBeNull()
    r.advance(60_000)
    expect((await client.closedWith()).code).toBe(4102)
  })

  it('a refresh with another session credential is 4101', async () => {
    r = await rig()
    const { client } = await r.open((await r.login()).token)
    client.send({ t: 'refresh', cred: (await r.login()).token })
    expect((await client.closedWith()).code).toBe(4101)
  })
})

describe('termination and draining', () => {
  it('a client bye (logout) is answered with bye, recorded, and closed with 4100', async () => {
    const ends: EndReason[] = []
    r = await rig({ onEnd: (_s, reason) => void ends.push(reason) })
    const { client, welcome } = await r.open((await r.login()).token)
    client.send({ t: 'bye', reason: 'logout' })
    expect(await client.next('bye')).toEqual({ t: 'bye', reason: 'logout' })
    expect((await client.closedWith()).code).toBe(4100)
    await eventually(async () => (await r.live.get(welcome.sid))?.endReason === 'logout')
    expect(ends).toEqual(['logout'])
  })

  it('server end(): bye with the reason and 4100', async () => {
    r = await rig()
    const { client, welcome } = await r.open((await r.login()).token)
    expect(await r.gateway.end(welcome.sid, 'revoked')).toBe(true)
    expect(await client.next('bye')).toEqual({ t: 'bye', reason: 'revoked' })
    expect((await client.closedWith()).code).toBe(4100)
  })

  it('close({ drainMs }) sends err 4000 with a retryMs within the window and keeps sessions resumable', async () => {
    r = await rig()
    const opened = await Promise.all([1, 2, 3].map(async () => r.open((await r.login()).token)))
    await r.gateway.close({ drainMs: 5_000 })
    for (const { client, welcome } of opened) {
      const err = await client.next('err')
      expect(err.code).toBe(4000)
      expect(err.retryMs).toBeGreaterThanOrEqual(0)
      expect(err.retryMs).toBeLessThanOrEqual(5_000)
      expect((await client.closedWith()).code).toBe(4000)
      expect((await r.live.get(welcome.sid))?.state).toBe('suspended')
    }
    const late = r.connect()
    await late.closedWith()
  })
})
