/** @module Remote mode against a scripted service API: cache bound, shared calls, fail closed. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { issueToken } from '../../src/core/token.ts'
import { RemoteValidator } from '../../src/http/remote.ts'
import { listen, type StartedApp } from './adapter-contract.case.ts'

const apiKey = issueToken('apiKey').token
let answer: (token: string) => { status: number; body: unknown }
let seen: { token: string; touch: boolean; authorization: string | undefined }[]
let service: StartedApp

function session(token: string) {
  return {
    id: token.slice(5, 27),
    principal: 'alice',
    state: 'active',
    auth: { factors: [], level: 0, authenticatedAt: 0 },
    client: { ip: null, userAgent: null },
    data: { plan: 'pro' },
  }
}

beforeEach(async () => {
  seen = []
  answer = (token) => ({ status: 200, body: { session: session(token) } })
  service = await listen(
    createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = ''
      req.on('data', (d) => (raw += d))
      req.on('end', () => {
        const body = JSON.parse(raw) as { token: string; touch: boolean }
        seen.push({ ...body, authorization: req.headers.authorization })
        const a = answer(body.token)
        res.writeHead(a.status, { 'content-type': 'application/json' })
        res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body))
      })
    }),
  )
})
afterEach(async () => {
  await service.close()
})

function validator(options: { cacheMs?: number; maxEntries?: number } = {}, touch = true) {
  const clock = new ManualClock()
  return {
    clock,
    remote: new RemoteValidator({ url: service.url, apiKey, ...options }, clock, touch),
  }
}

describe('remote validator', () => {
  it('asks the service API with the API key and the touch setting', async () => {
    const { remote } = validator({}, false)
    const { token } = issueToken('session')
    const s = await remote.validate(token)
    expect(s.principal).toBe('alice')
    expect(seen).toEqual([{ token, touch: false, authorization: `Bearer ${apiKey}` }])
  })

  it('never sends a malformed token to the service', async () => {
    const { remote } = validator()
    await expect(remote.validate('plys_nope')).rejects.toMatchObject({
      code: 'ERR_SESSION_INVALID',
    })
    expect(seen).toEqual([])
  })

  it('concurrent requests for one token share one call; each caller gets its own copy', async () => {
    const { remote } = validator()
    const { token } = issueToken('session')
    const [a, b] = await Promise.all([remote.validate(token), remote.validate(token)])
    expect(seen).toHaveLength(1)
    expect(a).toEqual(b)
    a.data.plan = 'changed'
    expect((await remote.validate(token)).data.plan).toBe('pro')
  })

  it('keeps at most maxEntries answers, dropping the oldest', async () => {
    const { remote } = validator({ maxEntries: 2 })
    const [t1, t2, t3] = [1, 2, 3].map(() => issueToken('session').token)
    for (const t of [t1, t2, t3]) await remote.validate(t!)
    expect(remote.size).toBe(2)
    await remote.validate(t3!)
    await remote.validate(t2!)
    expect(seen).toHaveLength(3)
    await remote.validate(t1!) // evicted: asked again
    expect(seen).toHaveLength(4)
  })

  it('caches refusals too, and expires every answer after cacheMs', async () => {
    const { remote, clock } = validator({ cacheMs: 500 })
    const { token } = issueToken('session')
    answer = () => ({
      status: 401,
      body: { code: 'ERR_SESSION_ENDED', reason: 'revoked', status: 401 },
    })
    for (let i = 0; i < 3; i++)
      await expect(remote.validate(token)).rejects.toMatchObject({
        code: 'ERR_SESSION_ENDED',
        details: { reason: 'revoked' },
      })
    expect(seen).toHaveLength(1)
    clock.advance(500)
    await expect(remote.validate(token)).rejects.toMatchObject({ code: 'ERR_SESSION_ENDED' })
    expect(seen).toHaveLength(2)
  })

  it('with cacheMs 0 every request asks the service', async () => {
    const { remote } = validator({ cacheMs: 0 })
    const { token } = issueToken('session')
    await remote.validate(token)
    await remote.validate(token)
    expect(seen).toHaveLength(2)
    expect(remote.size).toBe(0)
  })

  it('fails closed with ERR_STORE_UNAVAILABLE on any unexpected answer, and caches none', async () => {
    const { remote } = validator()
    const { token } = issueToken('session')
    const bad = [
      { status: 503, body: { code: 'ERR_STORE_UNAVAILABLE' } },
      { status: 401, body: { code: 'ERR_API_KEY_INVALID' } },
      { status: 500, body: 'not json' },
      { status: 200, body: { session: { principal: 'alice' } } },
      { status: 200, body: { session: { ...session(token), state: 'ended' } } },
      { status: 401, body: { code: 'ERR_SESSION_ENDED', reason: 'made_up' } },
      { status: 302, body: {} },
    ]
    for (const b of bad) {
      answer = () => b
      await expect(remote.validate(token), JSON.stringify(b)).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
        status: 503,
      })
    }
    expect(remote.size).toBe(0)
    expect(seen).toHaveLength(bad.length)
  })
})
