/** @module Bounds (SEC-49) and isolation of bad frames (SEC-50). */
import { afterEach, describe, expect, it } from 'vitest'
import type { JsonValue } from '../../src/live/protocol/index.ts'
import { type Rig, rig, until } from './gateway-helpers.ts'

let r: Rig
afterEach(async () => {
  await r?.close()
})

describe('SEC-49 limits', () => {
  it('SEC-49: connections per principal over the bound get 4004', async () => {
    r = await rig({ maxConnectionsPerPrincipal: 1 })
    const { token } = await r.login('alice')
    const first = await r.open(token)
    const c = r.connect()
    await c.opened()
    c.send({ t: 'hello', cred: token })
    expect((await c.next('err')).code).toBe(4004)
    expect((await c.closedWith()).code).toBe(4004)
    expect(first.client.closed).toBeNull()
    // Once the first is gone, a new one fits.
    first.client.ws.close()
    await until(() => r.gateway.stats().connections === 0)
    await r.open(token)
  })

  it('SEC-49: connections per address over the bound get 4004 at once', async () => {
    r = await rig({ maxConnectionsPerAddress: 1 })
    const a = r.connect()
    await a.opened()
    const b = r.connect()
    expect((await b.closedWith()).code).toBe(4004)
    expect(a.closed).toBeNull()
  })

  it('SEC-49: pending handshakes over the bound get HTTP 503', async () => {
    r = await rig({ maxHandshakes: 1 })
    const a = r.connect()
    await a.opened()
    const b = r.connect()
    await b.closedWith()
    expect(b.status).toBe(503)
  })

  it('SEC-49: frames faster than the rate get 4207', async () => {
    r = await rig({ limits: { maxFramesPerSecond: 1, frameBurst: 3 } })
    const { client } = await r.open((await r.login()).token)
    client.send({ t: 'ack', ack: 0 })
    client.send({ t: 'ack', ack: 0 })
    client.send({ t: 'ack', ack: 0 })
    expect((await client.closedWith()).code).toBe(4207)
  })

  it('SEC-49: the rate refills with time', async () => {
    r = await rig({ limits: { maxFramesPerSecond: 1, frameBurst: 2 } })
    const { client } = await r.open((await r.login()).token)
    for (let i = 0; i < 3; i++) {
      r.clock.advance(2_000)
      client.send({ t: 'ack', ack: 0 })
      client.send({ t: 'pong', n: 0 })
      await new Promise((res) => setTimeout(res, 20))
    }
    expect(client.closed).toBeNull()
  })

  it('SEC-49: a frame or a payload over the limit gets 4206', async () => {
    r = await rig({ limits: { maxFrameBytes: 1024, maxPayloadBytes: 512 } })
    const a = await r.open((await r.login()).token)
    expect(a.welcome).toMatchObject({ maxFrameBytes: 1024, maxPayloadBytes: 512 })
    a.client.send({ t: 'msg', seq: 1, data: 'x'.repeat(1500) })
    expect((await a.client.closedWith()).code).toBe(4206)
    const b = await r.open((await r.login()).token)
    b.client.send({ t: 'msg', seq: 1, data: 'x'.repeat(600) })
    expect((await b.client.closedWith()).code).toBe(4206)
  })

  it('SEC-49: pending calls over maxPendingCalls are answered too_many_calls and not run', async () => {
    let runs = 0
    r = await rig({
      limits: { maxPendingCalls: 1 },
      methods: {
        wait: async () => {
          runs++
          await new Promise(() => {})
        },
      },
    })
    const { client } = await r.open((await r.login()).token)
    client.send({ t: 'call', id: 'a', method: 'wait' })
    client.send({ t: 'call', id: 'b', method: 'wait' })
    expect(await client.next('error')).toMatchObject({ id: 'b', code: 'too_many_calls' })
    expect(runs).toBe(1)
  })
})

describe('SEC-50 isolation', () => {
  async function twoSessions() {
    const got: JsonValue[] = []
    r = await rig({
      onMessage: (s, data) => {
        got.push(data)
        void s.send({ echo: data })
      },
    })
    const bad = await r.open((await r.login()).token)
    const good = await r.open((await r.login()).token)
    return { bad: bad.client, good: good.client, got }
  }

  for (const [name, text, code] of [
    ['malformed JSON', '{"t":', 4200],
    ['a non-object', '[1,2]', 4200],
    ['an unknown frame type', '{"t":"nope"}', 4201],
    ['an out-of-state frame (ping from the client)', '{"t":"ping","n":1}', 4202],
    ['a second hello', '{"t":"hello","cred":"plys_x"}', 4202],
    ['a sequence error', '{"t":"msg","seq":5,"data":1}', 4203],
    ['a bye with a reason other than logout', '{"t":"bye","reason":"revoked"}', 4202],
    ['turn frames in full duplex', '{"t":"turn_please"}', 4202],
  ] as const) {
    it(`SEC-50: ${name} closes only its connection (${code}); another session is unaffected`, async () => {
      const { bad, good } = await twoSessions()
      bad.raw(text)
      expect((await bad.next('err')).code).toBe(code)
      expect((await bad.closedWith()).code).toBe(code)
      good.send({ t: 'msg', seq: 1, data: 'ok' })
      expect((await good.next('msg')).data).toEqual({ echo: 'ok' })
      expect(good.closed).toBeNull()
    })
  }

  it('SEC-50: a credit grant over maxCredit closes with 4205', async () => {
    r = await rig()
    const { client } = await r.open((await r.login()).token)
    client.send({ t: 'credit', n: 65_536 })
    expect((await client.next('err')).code).toBe(4205)
    expect((await client.closedWith()).code).toBe(4205)
  })
})
