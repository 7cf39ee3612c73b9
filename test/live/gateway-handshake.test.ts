/** @module The gateway's door: handshake (SEC-47), Origin and cookie (SEC-26), subprotocol. */
import { afterEach, describe, expect, it } from 'vitest'
import { COOKIE, ORIGIN, type Rig, rig } from './gateway-helpers.ts'

let r: Rig
afterEach(async () => {
  await r?.close()
})

describe('SEC-47 handshake', () => {
  it('welcomes a valid session token with settings and a resume token', async () => {
    r = await rig()
    const { token } = await r.login()
    const { welcome } = await r.open(token)
    expect(welcome).toMatchObject({
      t: 'welcome',
      resumed: false,
      last: 0,
      mode: 'full',
      credit: 256,
      heartbeatMs: 15_000,
      resumeWindowMs: 120_000,
      maxFrameBytes: 65_536,
    })
    expect(welcome.sid).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(welcome.token).toMatch(/^plyc_[A-Za-z0-9_-]{43}$/)
    const stored = await r.live.get(welcome.sid)
    expect(stored?.tokenHash).not.toContain(welcome.token)
    expect(JSON.stringify(stored)).not.toContain(welcome.token.slice(5))
    expect(r.gateway.stats()).toEqual({ connections: 1, suspended: 0, handshakes: 0 })
  })

  it('SEC-47: accepts no frame before welcome (first frame not hello: 4202)', async () => {
    r = await rig()
    const c = r.connect()
    await c.opened()
    c.send({ t: 'msg', seq: 1, data: 'x' })
    expect((await c.next('err')).code).toBe(4202)
    expect((await c.closedWith()).code).toBe(4202)
  })

  it('SEC-47: a frame right after hello, before welcome, is 4202', async () => {
    r = await rig()
    const { token } = await r.login()
    const c = r.connect()
    await c.opened()
    c.send({ t: 'hello', cred: token })
    c.send({ t: 'msg', seq: 1, data: 'early' })
    expect((await c.closedWith()).code).toBe(4202)
    expect(c.of('welcome')).toHaveLength(0)
  })

  it('SEC-47: closes a silent connection with 4002 after the handshake timeout', async () => {
    r = await rig()
    const c = r.connect()
    await c.opened()
    r.advance(9_000)
    expect(c.closed).toBeNull()
    expect(r.gateway.stats().handshakes).toBe(1)
    r.advance(1_000)
    expect((await c.closedWith()).code).toBe(4002)
    expect(c.of('err')[0]?.code).toBe(4002)
    expect(r.gateway.stats().handshakes).toBe(0)
  })

  it('SEC-47: a bad, unknown or ended credential is 4101', async () => {
    r = await rig()
    for (const cred of ['plys_nope', 'x'.repeat(40)]) {
      const c = r.connect()
      await c.opened()
      c.send({ t: 'hello', cred })
      const err = await c.next('err')
      expect(err.code).toBe(4101)
      expect(err.message).not.toContain(cred)
      expect((await c.closedWith()).code).toBe(4101)
    }
    const { token, session } = await r.login()
    await r.sessions.end(session.id, 'logout')
    const c = r.connect()
    await c.opened()
    c.send({ t: 'hello', cred: token })
    expect((await c.closedWith()).code).toBe(4101)
  })

  it('SEC-47: malformed hello (neither cred nor resume) is 4200', async () => {
    r = await rig()
    const c = r.connect()
    await c.opened()
    c.send({ t: 'hello' })
    expect((await c.closedWith()).code).toBe(4200)
  })
})

describe('SEC-26 Origin and the session cookie', () => {
  it('SEC-26: refuses an upgrade from a foreign Origin with HTTP 403, cookie or not', async () => {
    r = await rig()
    const { token } = await r.login()
    const c = r.connect({ origin: 'https://evil.example', cookie: `${COOKIE}=${token}` })
    await c.closedWith()
    expect(c.status).toBe(403)
    const n = r.connect({ origin: 'null' })
    await n.closedWith()
    expect(n.status).toBe(403)
  })

  it('SEC-26: accepts the cookie as credential (cred "cookie") from an allowed Origin', async () => {
    r = await rig()
    const { token, session } = await r.login()
    const { welcome } = await r.open(
      'cookie',
      {},
      { origin: ORIGIN, cookie: `a=b; ${COOKIE}=${token}` },
    )
    expect(r.gateway.get(welcome.sid)?.sessionId).toBe(session.id)
  })

  it('SEC-26: without Origin the cookie is ignored: cred "cookie" is 4101', async () => {
    r = await rig()
    const { token } = await r.login()
    const c = r.connect({ cookie: `${COOKIE}=${token}` })
    await c.opened()
    c.send({ t: 'hello', cred: 'cookie' })
    expect((await c.closedWith()).code).toBe(4101)
  })

  it('a non-browser client without Origin may present a credential in hello', async () => {
    r = await rig()
    const { token } = await r.login()
    const { welcome } = await r.open(token)
    expect(welcome.resumed).toBe(false)
  })

  it('refuses an upgrade without parley.v1 (HTTP 400) and leaves other paths alone', async () => {
    r = await rig()
    const c = r.connect({}, 'chat.v2')
    await c.closedWith()
    expect(c.status).toBe(400)
  })
})

describe('attach, modes and logs', () => {
  it('attach() handles its path only and leaves other upgrades to other listeners', async () => {
    r = await rig()
    const { WebSocketServer } = await import('ws')
    const other = new WebSocketServer({ noServer: true })
    r.server.on('upgrade', (req, socket, head) => {
      if (req.url === '/other') other.handleUpgrade(req, socket, head, (ws) => ws.send('hi'))
    })
    const c = r.connect({}, 'whatever', '/other')
    await c.opened()
    expect(r.gateway.stats().handshakes).toBe(0)
    other.close()
  })

  it('negotiates half duplex (the server holds the turn first) or imposes a configured mode', async () => {
    r = await rig()
    const { welcome } = await r.open((await r.login()).token, { mode: 'half' })
    expect(welcome).toMatchObject({ mode: 'half', turn: 'server' })
    await r.close()
    r = await rig({ mode: 'simplex', turn: 'client' })
    const forced = await r.open((await r.login()).token, { mode: 'full' })
    expect(forced.welcome).toMatchObject({ mode: 'simplex', turn: 'client' })
  })

  it('never logs credentials, resume tokens or payloads', async () => {
    const lines: string[] = []
    const log = (obj: object, msg?: string) => lines.push(`${msg} ${JSON.stringify(obj)}`)
    r = await rig({
      logger: { debug: log, info: log, warn: log, error: log },
      onMessage: () => {
        throw new Error('handler failed')
      },
    })
    const { token } = await r.login()
    const { client, welcome } = await r.open(token)
    client.send({ t: 'msg', seq: 1, data: 'PAYLOAD-SECRET' })
    const bad = r.connect()
    await bad.opened()
    bad.send({ t: 'hello', cred: 'plys_WRONG-CREDENTIAL' })
    await bad.closedWith()
    const stale = await r.resume(welcome.sid, 'plyc_STALE-TOKEN', 0)
    await stale.closedWith()
    await new Promise((res) => setTimeout(res, 20))
    const all = lines.join('\n')
    expect(lines.length).toBeGreaterThan(0)
    for (const secret of [
      token,
      welcome.token,
      'PAYLOAD-SECRET',
      'WRONG-CREDENTIAL',
      'STALE-TOKEN',
    ])
      expect(all).not.toContain(secret)
  })
})
