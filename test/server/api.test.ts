import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { storeUnavailable } from '../../src/core/errors.ts'
import { parseToken } from '../../src/core/token.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'
import { harness } from './harness.ts'

type H = Awaited<ReturnType<typeof harness>>
let h: H
afterEach(async () => {
  await h?.app.close()
})

async function newSession(principal = 'alice', extra: Record<string, unknown> = {}) {
  const res = await h.call('POST', '/v1/sessions', { principal, ...extra })
  expect(res.status).toBe(201)
  return res.body as { session: { id: string; version: number }; token: string }
}

describe('service API', () => {
  it('answers /healthz and /readyz without a key', async () => {
    h = await harness()
    expect((await h.call('GET', '/healthz', undefined, null)).body).toEqual({ status: 'ok' })
    expect((await h.call('GET', '/readyz', undefined, null)).body).toEqual({
      status: 'ready',
      store: 'memory',
    })
  })

  it('creates, validates, touches, updates and ends a session', async () => {
    h = await harness()
    const { session, token } = await newSession('alice', {
      ip: '203.0.113.5',
      userAgent: 'UA/1',
      auth: { factors: ['password'], level: 1 },
      data: { cart: 3 },
    })
    expect(session).toMatchObject({
      principal: 'alice',
      state: 'active',
      client: { ip: '203.0.113.5', userAgent: 'UA/1' },
      data: { cart: 3 },
    })
    expect(token).toMatch(/^plys_/)
    const valid = await h.call('POST', '/v1/sessions/validate', { token }, h.keys.read)
    expect(valid.status).toBe(200)
    expect(valid.body.session.id).toBe(session.id)
    expect(valid.body.session).not.toHaveProperty('secretHash')
    h.clock.advance(5 * 60_000)
    const touched = await h.call('POST', `/v1/sessions/${session.id}/touch`, undefined, h.keys.read)
    expect(touched.body.session.lastSeenAt).toBe(h.clock.now())
    const updated = await h.call('PATCH', `/v1/sessions/${session.id}`, {
      expectedVersion: 1,
      data: { cart: 4 },
    })
    expect(updated.body.session).toMatchObject({ version: 2, data: { cart: 4 } })
    const conflict = await h.call('PATCH', `/v1/sessions/${session.id}`, {
      expectedVersion: 1,
      data: { cart: 5 },
    })
    expect(conflict).toMatchObject({ status: 409, body: { code: 'ERR_VERSION_CONFLICT' } })
    const got = await h.call('GET', `/v1/sessions/${session.id}`, undefined, h.keys.read)
    expect(got.body.session.data).toEqual({ cart: 4 })
  })

  it('SEC-14 SEC-19: after an end, the old token is refused at once on this node, with the reason', async () => {
    h = await harness()
    const { session, token } = await newSession()
    const ended = await h.call('POST', `/v1/sessions/${session.id}/end`, {
      reason: 'logout',
      ip: '198.51.100.4',
    })
    expect(ended.body).toMatchObject({
      ended: true,
      session: { state: 'ended', endReason: 'logout' },
    })
    const replay = await h.call('POST', '/v1/sessions/validate', { token })
    expect(replay).toMatchObject({
      status: 401,
      body: { code: 'ERR_SESSION_ENDED', reason: 'logout' },
    })
    expect(replay.type).toContain('application/problem+json')
    const again = await h.call('POST', `/v1/sessions/${session.id}/end`, { reason: 'revoked' })
    expect(again.body).toMatchObject({ ended: false, session: { endReason: 'logout' } })
  })

  it('SEC-05: a client cannot choose its session id: ids come only from Parley', async () => {
    h = await harness()
    const chosen = await h.call('POST', '/v1/sessions', {
      principal: 'mallory',
      id: 'AAAAAAAAAAAAAAAAAAAAAA',
    })
    expect(chosen).toMatchObject({ status: 400, body: { code: 'ERR_VALIDATION' } })
    const planted = `plys_AAAAAAAAAAAAAAAAAAAAAA.${'B'.repeat(43)}`
    expect((await h.call('POST', '/v1/sessions/validate', { token: planted })).body.code).toBe(
      'ERR_SESSION_INVALID',
    )
    const { session } = await newSession('mallory')
    expect(session.id).not.toBe('AAAAAAAAAAAAAAAAAAAAAA')
    expect(await h.store.get('AAAAAAAAAAAAAAAAAAAAAA')).toBeNull()
  })

  it('SEC-03: a wrong secret, an unknown id and a malformed token get the same 401 body', async () => {
    h = await harness()
    const { token } = await newSession()
    const wrong = `${token.slice(0, -3)}AAA`
    const bodies = []
    for (const t of [
      wrong,
      token.replace(/^plys_./, 'plys_A'),
      'nonsense',
      `plyk_${token.slice(5)}`,
    ]) {
      const res = await h.call('POST', '/v1/sessions/validate', { token: t })
      expect(res.status).toBe(401)
      bodies.push(res.body)
    }
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1)
    expect(bodies[0].code).toBe('ERR_SESSION_INVALID')
  })

  it('SEC-10: idle and absolute timeouts are enforced by the server against its clock; the client cannot extend them', async () => {
    h = await harness({
      policy: {
        idleTimeoutMs: 10 * 60_000,
        absoluteTimeoutMs: 60 * 60_000,
        touchIntervalMs: 60_000,
      },
    })
    const { token } = await newSession()
    h.clock.advance(10 * 60_000)
    expect((await h.call('POST', '/v1/sessions/validate', { token })).body).toMatchObject({
      code: 'ERR_SESSION_ENDED',
      reason: 'idle_timeout',
    })
    const second = await newSession()
    for (let i = 0; i < 6; i++) {
      h.clock.advance(9 * 60_000)
      expect((await h.call('POST', '/v1/sessions/validate', { token: second.token })).status).toBe(
        200,
      )
    }
    h.clock.advance(9 * 60_000)
    expect(
      (await h.call('POST', '/v1/sessions/validate', { token: second.token })).body,
    ).toMatchObject({ reason: 'absolute_timeout' })
    const extend = await h.call('POST', '/v1/sessions/validate', {
      token: second.token,
      idleExpiresAt: 9e15,
    })
    expect(extend.body.code).toBe('ERR_VALIDATION')
  })

  it('SEC-17: lists a principal’s sessions, ends all but one, ends all, and ends every session (with confirmation)', async () => {
    h = await harness()
    const a = await newSession('bob')
    await newSession('bob')
    await newSession('carol')
    const principalUrl = `/v1/principals/${encodeURIComponent('bob')}`
    expect(
      (await h.call('GET', `${principalUrl}/sessions`, undefined, h.keys.read)).body.sessions,
    ).toHaveLength(2)
    const others = await h.call('POST', `${principalUrl}/sessions/end`, {
      exceptSessionId: a.session.id,
    })
    expect(others.body.sessions).toHaveLength(1)
    expect(others.body.sessions[0].endReason).toBe('revoked_all')
    expect(
      (await h.call('GET', `${principalUrl}/sessions`)).body.sessions.map(
        (s: { id: string }) => s.id,
      ),
    ).toEqual([a.session.id])
    expect(
      (await h.call('POST', '/v1/sessions/end-all', { reason: 'revoked_all' })).body.code,
    ).toBe('ERR_VALIDATION')
    const all = await h.call('POST', '/v1/sessions/end-all', { confirm: 'end-all-sessions' })
    expect(all.body).toEqual({ ended: 2 })
    expect((await h.call('GET', '/v1/principals/carol/sessions')).body.sessions).toEqual([])
  })

  it('SEC-57: the audit trail of a session and a principal, with actor, ip and reason, and no secret', async () => {
    h = await harness()
    const { session, token } = await newSession('dana', { ip: '192.0.2.10', userAgent: 'Phone' })
    await h.call('POST', `/v1/sessions/${session.id}/end`, {
      reason: 'logout',
      ip: '192.0.2.11',
      userAgent: 'Phone',
    })
    const events = (
      await h.call('GET', `/v1/sessions/${session.id}/events`, undefined, h.keys.read)
    ).body.events
    expect(events.map((e: { type: string }) => e.type)).toEqual([
      'session.created',
      'session.ended',
    ])
    expect(events[1]).toMatchObject({
      reason: 'logout',
      ip: '192.0.2.11',
      actor: expect.stringMatching(/^api_key:/),
    })
    const byPrincipal = await h.call('GET', '/v1/principals/dana/events?limit=1')
    expect(byPrincipal.body.events).toHaveLength(1)
    expect(JSON.stringify(events)).not.toContain(parseToken('session', token)!.secret)
    expect((await h.call('GET', '/v1/principals/dana/events?limit=0')).status).toBe(400)
  })

  it('SEC-52: no key, a malformed, unknown, revoked or wrong-secret key is 401; a read key cannot manage (403)', async () => {
    h = await harness()
    const { token } = await newSession()
    for (const key of [null, 'nope', token, `${h.keys.manage.slice(0, -2)}xx`]) {
      const res = await h.call('POST', '/v1/sessions/validate', { token }, key)
      expect(res).toMatchObject({ status: 401, body: { code: 'ERR_API_KEY_INVALID' } })
    }
    expect((await h.call('POST', '/v1/sessions', { principal: 'x' }, h.keys.read)).body.code).toBe(
      'ERR_API_KEY_SCOPE',
    )
    expect((await h.call('POST', '/v1/sessions', { principal: 'x' }, h.keys.read)).status).toBe(403)
    const readId = parseToken('apiKey', h.keys.read)!.id
    await h.store.revokeApiKey(readId, { at: h.clock.now(), actor: 'test' })
    h.clock.advance(1000) // the documented key cache bound
    expect((await h.call('POST', '/v1/sessions/validate', { token }, h.keys.read)).body.code).toBe(
      'ERR_API_KEY_INVALID',
    )
    const unauthorised = await h.call('GET', '/v1/principals/alice/sessions', undefined, null)
    expect(Object.keys(unauthorised.body).sort()).toEqual(['code', 'status', 'title', 'type'])
  })

  it('SEC-53: unknown fields, wrong types, oversized or malformed bodies and wrong media types are 4xx with a code', async () => {
    h = await harness()
    const cases: [unknown, number, string][] = [
      [{ principal: 'a', admin: true }, 400, 'ERR_VALIDATION'],
      [{ principal: 42 }, 400, 'ERR_VALIDATION'],
      [{}, 400, 'ERR_VALIDATION'],
      [{ principal: 'x'.repeat(257) }, 400, 'ERR_VALIDATION'],
      [{ principal: 'a', ip: 'not an ip' }, 400, 'ERR_VALIDATION'],
      [{ principal: 'a', auth: { level: 'high' } }, 400, 'ERR_VALIDATION'],
      [{ principal: 'a', data: { big: 'x'.repeat(9000) } }, 400, 'ERR_VALIDATION'],
      [{ principal: 'a', data: { big: 'x'.repeat(20_000) } }, 413, 'ERR_BODY_TOO_LARGE'],
      ['{"principal": ', 400, 'ERR_VALIDATION'],
      ['[1,2]', 400, 'ERR_VALIDATION'],
      ['null', 400, 'ERR_VALIDATION'],
    ]
    for (const [body, status, code] of cases) {
      const res = await h.call('POST', '/v1/sessions', body)
      expect([res.status, res.body.code], JSON.stringify(body).slice(0, 80)).toEqual([status, code])
      expect(res.type).toContain('application/problem+json')
    }
    const text = await h.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { authorization: `Bearer ${h.keys.manage}`, 'content-type': 'text/plain' },
      payload: 'principal=a',
    })
    expect([text.statusCode, JSON.parse(text.body).code]).toEqual([
      415,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
    ])
    expect((await h.call('GET', '/v1/sessions/not-an-id')).body.code).toBe('ERR_VALIDATION')
    expect((await h.call('GET', '/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA')).body.code).toBe(
      'ERR_SESSION_NOT_FOUND',
    )
    expect((await h.call('GET', '/v2/anything')).body.code).toBe('ERR_NOT_FOUND')
    expect(await h.sessions.list('a')).toEqual([])
  })

  it('SEC-53: random bodies on every route never cause a 5xx and never create a session', async () => {
    h = await harness()
    const routes = [
      ['POST', '/v1/sessions'],
      ['POST', '/v1/sessions/validate'],
      ['PATCH', '/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA'],
      ['POST', '/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA/end'],
      ['POST', '/v1/principals/alice/sessions/end'],
      ['POST', '/v1/sessions/end-all'],
    ] as const
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(
          fc.json(),
          fc.string(),
          fc.object().map((o) => JSON.stringify(o)),
        ),
        async ([method, url], payload) => {
          const res = await h.call(method, url, payload)
          expect(res.status).toBeGreaterThanOrEqual(200)
          expect(res.status).toBeLessThan(500)
        },
      ),
      { numRuns: 300 },
    )
    const created = (await h.store.events({ principal: 'alice' })).length
    expect(created).toBe(0)
  })

  it('SEC-56 SEC-58: a store failure is a 503 that fails closed; an unknown error is a bare 500 that leaks nothing', async () => {
    const inner = new MemoryStore()
    let mode: 'ok' | 'down' | 'bug' = 'ok'
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver)
        if (typeof value !== 'function') return value
        if (prop === 'createApiKey' || prop === 'getApiKey') return value.bind(target)
        return (...args: unknown[]) => {
          if (mode === 'down')
            return Promise.reject(
              storeUnavailable(new Error('connect ECONNREFUSED 10.0.0.1:6379 key parley:s:abc')),
            )
          if (mode === 'bug')
            return Promise.reject(new Error('SELECT secret_hash FROM sessions: internal detail'))
          return value.apply(target, args)
        }
      },
    })
    h = await harness({ store })
    const { token } = await newSession()
    mode = 'down'
    const down = await h.call('POST', '/v1/sessions/validate', { token })
    expect(down).toMatchObject({ status: 503, body: { code: 'ERR_STORE_UNAVAILABLE' } })
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|parley:s|10\.0\.0\.1/)
    expect((await h.call('GET', '/readyz', undefined, null)).status).toBe(503)
    mode = 'bug'
    const bug = await h.call('POST', '/v1/sessions/validate', { token })
    expect(bug.status).toBe(500)
    expect(bug.body).toEqual({
      type: 'urn:parley:error:ERR_INTERNAL',
      title: 'Internal error',
      status: 500,
      code: 'ERR_INTERNAL',
    })
    expect(h.logs.join('')).toContain('internal detail')
    mode = 'ok'
    expect((await h.call('POST', '/v1/sessions/validate', { token })).status).toBe(200)
  })

  it('SEC-04: no token or key issued during a full flow appears in the logs, even at trace level', async () => {
    h = await harness({ logRequests: true })
    const { session, token } = await newSession('erin')
    await h.call('POST', '/v1/sessions/validate', { token })
    await h.call('POST', '/v1/sessions/validate', { token: `${token}x` })
    await h.call('POST', `/v1/sessions/${session.id}/end`, { reason: 'logout' })
    await h.call('POST', '/v1/sessions/validate', { token })
    const text = h.logs.join('')
    expect(text.length).toBeGreaterThan(200)
    for (const secret of [
      token,
      parseToken('session', token)!.secret,
      h.keys.manage,
      parseToken('apiKey', h.keys.manage)!.secret,
    ]) {
      expect(text).not.toContain(secret)
    }
  })

  it('SEC-14: every answer carries Cache-Control: no-store (and nosniff), so the back button brings nothing back', async () => {
    h = await harness()
    const res = await h.call('GET', '/healthz', undefined, null)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
  })

  it('serves an OpenAPI 3.1 document generated from the validating schemas', async () => {
    h = await harness()
    const doc = (await h.call('GET', '/openapi.json', undefined, null)).body
    expect(doc.openapi).toBe('3.1.0')
    const ops = Object.values(
      doc.paths as Record<string, Record<string, { operationId: string }>>,
    ).flatMap((p) => Object.values(p).map((o) => o.operationId))
    expect(ops.sort()).toEqual(
      [
        'createSession',
        'endAllSessions',
        'endPrincipalSessions',
        'endSession',
        'getSession',
        'listSessions',
        'principalEvents',
        'sessionEvents',
        'touchSession',
        'updateSession',
        'validateSession',
      ].sort(),
    )
    const create = doc.paths['/v1/sessions'].post
    expect(create.requestBody.content['application/json'].schema.additionalProperties).toBe(false)
    expect(doc.paths['/v1/sessions/{id}'].get.parameters[0]).toMatchObject({
      name: 'id',
      in: 'path',
      required: true,
    })
  })
})
