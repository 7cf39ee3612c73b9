/** @module Request -> session in the neutral core: credentials, options checks, problems. */
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { ParleyError, storeUnavailable } from '../../src/core/errors.ts'
import { Sessions } from '../../src/core/sessions.ts'
import type { ParleyHttpOptions } from '../../src/http/options.ts'
import { problemOf, toProblem } from '../../src/http/problem.ts'
import { bearerToken, ParleyHttp, type RequestAccess } from '../../src/http/resolve.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'

type FakeRequest = { method: string; headers: Record<string, string> }
const access: RequestAccess<FakeRequest> = {
  method: (r) => r.method,
  header: (r, name) => r.headers[name],
  encrypted: () => true,
}
const sessions = new Sessions({ store: new MemoryStore(), clock: new ManualClock() })
const origins = ['https://app.example']
const apiKey = `plyk_${'A'.repeat(22)}.${'B'.repeat(43)}`

describe('resolve', () => {
  it('reads only Parley session tokens from Authorization: Bearer', () => {
    const t = `plys_${'a'.repeat(22)}.${'b'.repeat(43)}`
    expect(bearerToken(`Bearer ${t}`)).toBe(t)
    expect(bearerToken(`bearer ${t}`)).toBe(t)
    expect(bearerToken(`BEARER   ${t}  `)).toBe(t)
    expect(bearerToken('Bearer plys_x')).toBe('plys_x') // refused later, as ERR_SESSION_INVALID
    for (const h of [
      `Basic ${t}`,
      'Bearer eyJhbGciOi.x.y',
      `Bearer${t}`,
      'Bearer ',
      '',
      `Token ${t}`,
    ])
      expect(bearerToken(h), h).toBeNull()
  })

  it('prefers the Bearer token over the cookie, and needs no Origin for it', async () => {
    const http = new ParleyHttp<FakeRequest>({ sessions, origins }, access)
    const a = await sessions.create({ principal: 'a' })
    const b = await sessions.create({ principal: 'b' })
    const ctx = await http.resolve({
      method: 'POST',
      headers: { authorization: `Bearer ${a.token}`, cookie: `__Host-parley=${b.token}` },
    })
    expect(ctx.session?.principal).toBe('a')
    expect(ctx.via).toBe('bearer')
  })

  it('takes exactly one of sessions or remote, and checks the rest of the options', () => {
    const bad: unknown[] = [
      {},
      { sessions, remote: { url: 'http://127.0.0.1:1', apiKey } },
      { remote: { url: 'ftp://x', apiKey } },
      { remote: { url: 'http://127.0.0.1:1', apiKey: 'secret' } },
      { remote: { url: 'http://127.0.0.1:1', apiKey, cacheMs: 10_001 } },
      { remote: { url: 'http://127.0.0.1:1', apiKey, cacheMs: -1 } },
      { remote: { url: 'http://127.0.0.1:1', apiKey, maxEntries: 0 } },
      { remote: { url: 'http://127.0.0.1:1', apiKey, timeoutMs: 0 } },
      { sessions, origins: ['https://app.example/path'] },
      { sessions, cookie: { name: 'sid' } },
    ]
    for (const options of bad) {
      expect(() => new ParleyHttp({ origins, ...(options as ParleyHttpOptions) }, access)).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
      )
    }
    const remote = new ParleyHttp({ origins, remote: { url: 'http://h:1/base/', apiKey } }, access)
    expect((remote.validator as unknown as { endpoint: string }).endpoint).toBe(
      'http://h:1/base/v1/sessions/validate',
    )
  })

  it('problems have the service API shape and leak nothing of unknown errors', () => {
    expect(problemOf('ERR_CSRF')).toEqual({
      type: 'urn:parley:error:ERR_CSRF',
      title: 'Cross-site request refused',
      status: 403,
      code: 'ERR_CSRF',
    })
    const ended = new ParleyError('ERR_SESSION_ENDED', undefined, { details: { reason: 'logout' } })
    expect(toProblem(ended)).toMatchObject({ status: 401, reason: 'logout' })
    expect(toProblem(new Error('SELECT * FROM sessions'))).toEqual(problemOf('ERR_INTERNAL'))
    expect(toProblem(storeUnavailable(new Error('ECONNREFUSED 10.0.0.1')))).toEqual(
      problemOf('ERR_STORE_UNAVAILABLE'),
    )
  })

  it('logs unexpected failures with their code only', () => {
    const logs: object[] = []
    const http = new ParleyHttp<FakeRequest>(
      { sessions, origins, logger: { warn: () => {}, error: (o) => logs.push(o) } },
      access,
    )
    expect(http.failure(new TypeError('secret plys_x.y')).code).toBe('ERR_INTERNAL')
    expect(http.failure(new ParleyError('ERR_CSRF')).code).toBe('ERR_CSRF')
    expect(logs).toEqual([{ code: 'ERR_INTERNAL', cause: undefined, error: 'TypeError' }])
  })
})
