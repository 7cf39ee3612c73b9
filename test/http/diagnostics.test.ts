/** @module Cookie diagnostics: each warning logged once, bounded, and never holding a token. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { Diagnostics, isLocalHost } from '../../src/http/diagnostics.ts'
import type { ParleyHttpOptions } from '../../src/http/options.ts'
import { ParleyHttp, type RequestAccess } from '../../src/http/resolve.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'

interface FakeRequest {
  method: string
  headers: Record<string, string>
  encrypted?: boolean
}

const access: RequestAccess<FakeRequest> = {
  method: (r) => r.method,
  header: (r, name) => r.headers[name],
  encrypted: (r) => r.encrypted === true,
}

function setup(options: Partial<ParleyHttpOptions> = {}) {
  const logs: { obj: object; msg: string }[] = []
  const logger = { warn: (obj: object, msg: string) => logs.push({ obj, msg }) }
  const sessions = new Sessions({ store: new MemoryStore(), clock: new ManualClock() })
  const http = new ParleyHttp<FakeRequest>(
    { sessions, origins: ['https://app.example'], logger, ...options } as ParleyHttpOptions,
    access,
  )
  return { http, logs, sessions }
}

const get = (headers: Record<string, string>, encrypted = false): FakeRequest => ({
  method: 'GET',
  headers,
  encrypted,
})

afterEach(() => {
  vi.restoreAllMocks()
})

describe('diagnostics', () => {
  it('knows the hosts where browsers keep Secure cookies over http', () => {
    for (const host of ['localhost', 'localhost:3000', 'app.localhost:8080', '127.0.0.1:3000'])
      expect(isLocalHost(host), host).toBe(true)
    for (const host of ['[::1]', '[::1]:3000', '127.1.2.3', undefined, ''])
      expect(isLocalHost(host), String(host)).toBe(true)
    for (const host of [
      'app.example',
      '10.0.0.5:3000',
      '192.168.1.2',
      '[::2]:80',
      'localhost.evil.example',
      '127.0.0.1.evil.example',
    ])
      expect(isLocalHost(host), host).toBe(false)
  })

  it('(a) warns once when a request comes over plain http on a non-local host', async () => {
    const { http, logs } = setup()
    await http.resolve(get({ host: 'localhost:3000' }))
    await http.resolve(get({ host: 'app.example' }, true)) // TLS: fine
    expect(logs).toEqual([])
    await http.resolve(get({ host: 'app.example:8080' }))
    await http.resolve(get({ host: 'other.example' }))
    expect(logs).toHaveLength(1)
    expect(logs[0]!.msg).toMatch(/plain http on app\.example:8080/)
    expect(logs[0]!.msg).toMatch(/Browsers drop Secure and __Host- cookies/)
    expect(logs[0]!.msg).toMatch(/https/)
    expect(logs[0]!.msg).toMatch(/insecure: true/)
  })

  it('(a) believes X-Forwarded-Proto only with trustProxy, and says nothing in insecure mode', async () => {
    const proxied = get({ host: 'app.example', 'x-forwarded-proto': 'https' })
    const trusting = setup({ trustProxy: true })
    await trusting.http.resolve(proxied)
    expect(trusting.logs).toEqual([])
    const wary = setup()
    await wary.http.resolve(proxied)
    expect(wary.logs).toHaveLength(1)
    const insecure = setup({ cookie: { insecure: true } })
    await insecure.http.resolve(get({ host: 'app.example' }))
    expect(insecure.logs).toEqual([])
  })

  it('(b) warns once when a cross-site request without the cookie reaches a guarded route', async () => {
    const { http, logs } = setup()
    const req = get({ host: 'localhost', 'sec-fetch-site': 'cross-site' })
    const ctx = await http.resolve(req)
    expect(http.checkSession(ctx, get({ host: 'localhost' }))?.code).toBe('ERR_UNAUTHENTICATED')
    expect(logs).toEqual([])
    for (let i = 0; i < 3; i++)
      expect(http.checkSession(ctx, req)?.code).toBe('ERR_UNAUTHENTICATED')
    expect(logs).toHaveLength(1)
    expect(logs[0]!.msg).toMatch(/SameSite=Lax withholds the cookie on cross-site requests/)
  })

  it('(c) warns once per unknown Origin, and never logs the cookie value', async () => {
    const { http, logs, sessions } = setup()
    const { token } = await sessions.create({ principal: 'alice' })
    const post = (origin: string) => ({
      method: 'POST',
      headers: { host: 'localhost', origin, cookie: `__Host-parley=${token}` },
    })
    for (const origin of [
      'https://evil.example',
      'https://evil.example',
      'https://other.example',
    ]) {
      await expect(http.resolve(post(origin))).rejects.toMatchObject({ code: 'ERR_CSRF' })
    }
    await expect(http.resolve(post('null'))).rejects.toMatchObject({ code: 'ERR_CSRF' })
    expect(logs.map((l) => (l.obj as { origin: string }).origin)).toEqual([
      'https://evil.example',
      'https://other.example',
    ])
    expect(logs[0]!.msg).toMatch(/add it to origins/)
    expect(JSON.stringify(logs)).not.toContain(token)
    expect(JSON.stringify(logs)).not.toContain(token.split('.')[1])
  })

  it('no warning holds a token, whichever path produced it', async () => {
    const { http, logs, sessions } = setup()
    const { token } = await sessions.create({ principal: 'alice' })
    const cookie = `__Host-parley=${token}`
    await http.resolve(get({ host: 'app.example', cookie: 'other=1' }))
    await http
      .resolve({
        method: 'PUT',
        headers: { host: 'app.example', cookie, origin: `https://${token}.example` },
      })
      .catch(() => {})
    const ctx = await http.resolve(get({ host: 'x.example', 'sec-fetch-site': 'cross-site' }))
    http.checkSession(ctx, get({ host: 'x.example', 'sec-fetch-site': 'cross-site' }))
    expect(logs.length).toBe(3)
    expect(JSON.stringify(logs)).not.toContain(token.split('.')[1])
  })

  it('warns at construction when no origins are configured (logger, or a process warning)', () => {
    const { logs } = setup({ origins: [] })
    expect(logs).toHaveLength(1)
    expect(logs[0]!.msg).toMatch(/no origins are configured.*Set origins/s)
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const sessions = new Sessions({ store: new MemoryStore() })
    new ParleyHttp({ sessions }, access)
    expect(emit).toHaveBeenCalledWith(expect.stringMatching(/configure|Set origins/), {
      code: 'PARLEY_NO_ORIGINS',
    })
  })

  it('remembers a bounded number of causes', () => {
    const logs: string[] = []
    const d = new Diagnostics({ warn: (_o, msg) => logs.push(msg) }, 3)
    for (let i = 0; i < 10; i++) d.warnOnce(`cause-${i}`, {}, `warning ${i}`)
    d.warnOnce('cause-0', {}, 'again')
    expect(logs).toEqual(['warning 0', 'warning 1', 'warning 2'])
  })

  it('cleans client text before logging it', () => {
    const logs: object[] = []
    const d = new Diagnostics({ warn: (o) => logs.push(o) })
    d.unknownOrigin(`https://a.example\n\u0000${'x'.repeat(500)}`, new Set())
    const origin = (logs[0] as { origin: string }).origin
    expect(origin).toMatch(/^https:\/\/a\.example\?\?x+\.\.\.$/)
    expect(origin.length).toBeLessThan(210)
  })
})
