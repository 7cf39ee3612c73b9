/**
 * @module The contract every HTTP adapter passes (node:http, Express, Fastify, Hono): a small real
 * app per adapter, listening on 127.0.0.1:0 and driven with real `fetch`. Each scenario runs
 * in-process (memory store, manual clock); a subset runs in remote mode against a real in-process
 * Parley server.
 *
 * The app each adapter builds (`start`):
 * - `GET /public`: `{ principal, via }` (null when anonymous)
 * - `GET /me`, guarded by requireSession: `{ principal, via }`
 * - `POST /action`, guarded by requireSession: `{ ok: true }`
 * - `GET /admin`, guarded by requirePermission('admin:read'): `{ ok: true }`
 * - `GET /rule`, guarded by requireRule(RULE): `{ ok: true }`
 * - `POST /sign-in`: `signIn(sessions, url)`, then setSessionCookie: `{ ok: true }`
 * - `POST /sign-out`, guarded by requireSession: `signOut(sessions, session)`, then
 *   clearSessionCookie: `{ ok: true }`
 */
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import type { Session } from '../../src/core/session.ts'
import { Sessions } from '../../src/core/sessions.ts'
import type { ParleyHttpOptions } from '../../src/http/options.ts'
import { createApiKey } from '../../src/server/api-keys.ts'
import { buildServer, type ParleyServer } from '../../src/server/app.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'

export interface StartedApp {
  url: string
  close(): Promise<void>
}

export interface AdapterUnderTest {
  name: string
  /**
   * Builds the app above on the adapter with `options` and listens on 127.0.0.1:0. `sessions` is
   * what the sign-in and sign-out routes use: `options.sessions` in-process, the Parley server's
   * in remote mode.
   */
  start(options: ParleyHttpOptions, sessions: Sessions): Promise<StartedApp>
}

/** The one origin the apps allow. */
export const ORIGIN = 'https://app.example'

/** The rule of `GET /rule`: only sessions on the pro plan. */
export const RULE = (_principal: string, session: Session): boolean => {
  if (session.data.plan === 'broken') throw new Error('rule crashed near password=hunter2')
  return session.data.plan === 'pro'
}

/**
 * What `POST /sign-in` does: creates a session for `?principal=` (default alice) with
 * `?permissions=a,b`, `?roles=a,b` and `?plan=`, and returns its token. (A test app: a real one
 * checks a password first.)
 */
export async function signIn(sessions: Sessions, url: string): Promise<string> {
  const q = new URL(url, 'http://localhost').searchParams
  const list = (name: string) => (q.get(name) ? q.get(name)!.split(',') : [])
  const { session, token } = await sessions.create({
    principal: q.get('principal') ?? 'alice',
    auth: { factors: ['password'], level: 1 },
    data: q.get('plan') ? { plan: q.get('plan') } : {},
  })
  // Roles and permissions are copied in from the principal's record (here: from the query).
  const auth = { ...session.auth, permissions: list('permissions'), roles: list('roles') }
  await sessions.update(session.id, session.version, { auth })
  return token
}

/** What `POST /sign-out` does. */
export async function signOut(sessions: Sessions, session: Session): Promise<void> {
  await sessions.end(session.id, 'logout', { actor: 'principal' })
}

/** Listens on 127.0.0.1:0 and returns the URL and a closer (for node:http based apps). */
export async function listen(server: import('node:http').Server): Promise<StartedApp> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

interface CallOptions {
  method?: string
  cookie?: string
  bearer?: string
  origin?: string
  site?: string
  headers?: Record<string, string>
}

interface Answer {
  status: number
  headers: Headers
  body: Record<string, unknown> | null
  setCookie: string[]
}

const COOKIE = '__Host-parley'
const SET_ATTRIBUTES = '; Path=/; Secure; HttpOnly; SameSite=Lax'
const CLEAR = `${COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`
const MINUTE = 60_000

function client(base: () => string) {
  return async (path: string, o: CallOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...o.headers }
    if (o.cookie !== undefined) headers.cookie = o.cookie
    if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`
    if (o.origin !== undefined) headers.origin = o.origin
    if (o.site !== undefined) headers['sec-fetch-site'] = o.site
    const res = await fetch(base() + path, {
      method: o.method ?? 'GET',
      headers,
      redirect: 'manual',
    })
    const text = await res.text()
    const json = /json/.test(res.headers.get('content-type') ?? '')
    const body = json && text !== '' ? (JSON.parse(text) as Record<string, unknown>) : null
    return { status: res.status, headers: res.headers, body, setCookie: res.headers.getSetCookie() }
  }
}

/** The `name=value` pair of the session cookie an answer set. */
function cookieOf(answer: Answer): string {
  const set = answer.setCookie.find((c) => c.startsWith(`${COOKIE}=`))
  expect(set, 'a session cookie was set').toBeDefined()
  return set!.split(';')[0]!
}

function expectProblem(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status)
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  expect(answer.body).toMatchObject({ type: `urn:parley:error:${code}`, status, code })
  expect(typeof answer.body?.title).toBe('string')
}

export function runAdapterContract(adapter: AdapterUnderTest): void {
  describe(`${adapter.name} adapter: in-process`, () => {
    let clock: ManualClock
    let store: MemoryStore
    let sessions: Sessions
    let app: StartedApp
    let logs: { obj: object; msg: string }[]
    const call = client(() => app.url)

    beforeEach(async () => {
      clock = new ManualClock(1_800_000_000_000)
      store = new MemoryStore()
      sessions = new Sessions({ store, clock, policy: { maxSessionsPerPrincipal: 0 } })
      logs = []
      const logger = { warn: (obj: object, msg: string) => logs.push({ obj, msg }) }
      app = await adapter.start({ sessions, origins: [ORIGIN], logger }, sessions)
    })
    afterEach(async () => {
      await app.close()
    })

    const signInAs = async (query = '') => {
      const answer = await call(`/sign-in${query}`, { method: 'POST', origin: ORIGIN })
      expect(answer.status).toBe(200)
      return cookieOf(answer)
    }

    it('a request without credentials is anonymous, and /me says who is signed in', async () => {
      expect((await call('/public')).body).toEqual({ principal: null, via: null })
      const cookie = await signInAs('?principal=bob')
      expect((await call('/me', { cookie })).body).toEqual({ principal: 'bob', via: 'cookie' })
      expect((await call('/public', { cookie })).body).toEqual({ principal: 'bob', via: 'cookie' })
    })

    it('SEC-20: sign-in sets the session cookie with exactly the hardened attributes', async () => {
      const answer = await call('/sign-in', { method: 'POST', origin: ORIGIN })
      expect(answer.setCookie).toHaveLength(1)
      expect(answer.setCookie[0]).toMatch(
        /^__Host-parley=plys_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
      )
      expect(answer.setCookie[0]!.endsWith(SET_ATTRIBUTES)).toBe(true)
      expect(answer.setCookie[0]).not.toMatch(/Domain/i)
      expect(answer.headers.get('cache-control')).toBe('no-store')
    })

    it('SEC-21: sign-out clears the cookie with the same name, path and attributes and Max-Age=0', async () => {
      const cookie = await signInAs()
      const out = await call('/sign-out', { method: 'POST', cookie, origin: ORIGIN })
      expect(out.status).toBe(200)
      expect(out.setCookie).toEqual([CLEAR])
    })

    it('SEC-21: a cookie whose session ended or never existed is cleared on the response', async () => {
      const cookie = await signInAs()
      await call('/sign-out', { method: 'POST', cookie, origin: ORIGIN })
      const replay = await call('/public', { cookie })
      expect(replay.body).toEqual({ principal: null, via: null })
      expect(replay.setCookie).toEqual([CLEAR])
      const garbage = await call('/public', { cookie: `${COOKIE}=plys_not-a-token` })
      expect(garbage.setCookie).toEqual([CLEAR])
      expect((await call('/public', { cookie: 'other=1' })).setCookie).toEqual([])
    })

    it('SEC-14: after sign-out the old cookie is refused, and authenticated answers are no-store', async () => {
      const cookie = await signInAs()
      const me = await call('/me', { cookie })
      expect(me.status).toBe(200)
      expect(me.headers.get('cache-control')).toBe('no-store')
      await call('/sign-out', { method: 'POST', cookie, origin: ORIGIN })
      const replay = await call('/me', { cookie })
      expectProblem(replay, 401, 'ERR_SESSION_ENDED')
      expect(replay.body?.reason).toBe('logout')
      expect(replay.headers.get('cache-control')).toBe('no-store')
    })

    it('SEC-14: a bearer token is refused after its session ends, with 401 and the reason', async () => {
      const { session, token } = await sessions.create({ principal: 'svc' })
      expect((await call('/me', { bearer: token })).body).toEqual({
        principal: 'svc',
        via: 'bearer',
      })
      await sessions.end(session.id, 'revoked')
      const answer = await call('/public', { bearer: token })
      expectProblem(answer, 401, 'ERR_SESSION_ENDED')
      expect(answer.body?.reason).toBe('revoked')
      expectProblem(await call('/public', { bearer: 'plys_forged' }), 401, 'ERR_SESSION_INVALID')
    })

    it('SEC-22: a session token in the URL query or path is ignored', async () => {
      const { token } = await sessions.create({ principal: 'alice' })
      for (const path of [
        `/me?token=${token}`,
        `/me?session=${token}`,
        `/me?access_token=${token}`,
        `/me?${COOKIE}=${token}`,
        `/me/${token}`,
        `/me;${COOKIE}=${token}`,
      ]) {
        expect((await call(path)).status, path).not.toBe(200)
      }
      expectProblem(await call(`/me?token=${token}`), 401, 'ERR_UNAUTHENTICATED')
      const action = await call(`/action?token=${token}`, { method: 'POST', origin: ORIGIN })
      expectProblem(action, 401, 'ERR_UNAUTHENTICATED')
      expect((await call(`/public?token=${token}`)).body).toEqual({ principal: null, via: null })
    })

    it('SEC-24: unsafe cookie requests need an allowed Origin, or Sec-Fetch-Site same-origin/none', async () => {
      const cookie = await signInAs()
      const post = (o: CallOptions) => call('/action', { method: 'POST', cookie, ...o })
      expect((await post({ origin: ORIGIN })).status).toBe(200)
      expect((await post({ site: 'same-origin' })).status).toBe(200)
      expect((await post({ site: 'none' })).status).toBe(200)
      const refused: CallOptions[] = [
        { origin: 'https://evil.example' },
        { origin: 'https://app.example:8443' }, // another port of the same host: same-site
        { origin: 'http://app.example' },
        { origin: 'null' },
        { origin: 'https://evil.example', site: 'same-origin' },
        { site: 'cross-site' },
        { site: 'same-site' },
        {},
      ]
      for (const o of refused) expectProblem(await post(o), 403, 'ERR_CSRF')
      for (const method of ['PUT', 'PATCH', 'DELETE']) {
        expectProblem(await call('/action', { method, cookie }), 403, 'ERR_CSRF')
      }
    })

    it('SEC-24: a refused cross-site request changes nothing (sign-out from another site)', async () => {
      const cookie = await signInAs()
      const forged = await call('/sign-out', {
        method: 'POST',
        cookie,
        origin: 'https://evil.example',
      })
      expectProblem(forged, 403, 'ERR_CSRF')
      expect((await call('/me', { cookie })).status).toBe(200)
    })

    it('SEC-24: bearer-authenticated requests are exempt from the origin check', async () => {
      const { token } = await sessions.create({ principal: 'svc' })
      const answer = await call('/action', {
        method: 'POST',
        bearer: token,
        origin: 'https://evil.example',
      })
      expect(answer.status).toBe(200)
    })

    it('SEC-25: GET never creates or ends a session', async () => {
      const cookie = await signInAs()
      const ended = await signInAs('?principal=carol')
      await call('/sign-out', { method: 'POST', cookie: ended, origin: ORIGIN })
      const before = [
        ...(await sessions.events({ principal: 'alice' })),
        ...(await sessions.events({ principal: 'carol' })),
      ].length
      for (const path of ['/sign-in', '/sign-out', '/me', '/public', '/admin', '/rule']) {
        for (const c of [cookie, ended, `${COOKIE}=plys_garbage`, undefined]) {
          const answer = await call(path, { cookie: c, origin: ORIGIN })
          expect(
            answer.setCookie.some((s) => s.includes('plys_')),
            path,
          ).toBe(false)
        }
      }
      const head = await call('/sign-in', { method: 'HEAD', origin: ORIGIN })
      expect(head.setCookie).toEqual([])
      const after = [
        ...(await sessions.events({ principal: 'alice' })),
        ...(await sessions.events({ principal: 'carol' })),
      ].length
      expect(after).toBe(before)
      expect(await sessions.list('alice')).toHaveLength(1)
    })

    it('SEC-27: no CORS headers by default, whatever Origin is sent', async () => {
      const cookie = await signInAs()
      for (const o of [
        { origin: 'https://evil.example' },
        { origin: ORIGIN },
        {
          method: 'OPTIONS',
          origin: 'https://evil.example',
          headers: { 'access-control-request-method': 'POST' },
        },
      ] as CallOptions[]) {
        const answer = await call('/me', { cookie, ...o })
        expect(answer.headers.get('access-control-allow-origin')).toBeNull()
        expect(answer.headers.get('access-control-allow-credentials')).toBeNull()
      }
    })

    it('SEC-35: no session is 401 ERR_UNAUTHENTICATED, on every guarded route', async () => {
      expectProblem(await call('/me'), 401, 'ERR_UNAUTHENTICATED')
      expectProblem(await call('/admin'), 401, 'ERR_UNAUTHENTICATED')
      expectProblem(await call('/rule'), 401, 'ERR_UNAUTHENTICATED')
      expectProblem(
        await call('/action', { method: 'POST', origin: ORIGIN }),
        401,
        'ERR_UNAUTHENTICATED',
      )
      const garbage = await call('/me', { cookie: `${COOKIE}=plys_garbage` })
      expectProblem(garbage, 401, 'ERR_UNAUTHENTICATED')
    })

    it('SEC-35: an ended session is 401 ERR_SESSION_ENDED with its reason', async () => {
      const cookie = await signInAs()
      const me = await call('/public', { cookie })
      expect(me.body?.principal).toBe('alice')
      const [session] = await sessions.list('alice')
      await sessions.end(session!.id, 'revoked')
      const answer = await call('/admin', { cookie })
      expectProblem(answer, 401, 'ERR_SESSION_ENDED')
      expect(answer.body?.reason).toBe('revoked')
    })

    it('SEC-35: a missing permission is 403 ERR_FORBIDDEN; the admin role does not bypass it', async () => {
      const plain = await signInAs()
      expectProblem(await call('/admin', { cookie: plain }), 403, 'ERR_FORBIDDEN')
      const admin = await signInAs('?roles=admin&permissions=admin:write')
      expectProblem(await call('/admin', { cookie: admin }), 403, 'ERR_FORBIDDEN')
      const granted = await signInAs('?permissions=admin:read')
      expect((await call('/admin', { cookie: granted })).status).toBe(200)
    })

    it('SEC-35: a rule that says no is 403 ERR_FORBIDDEN; one that says yes lets the request through', async () => {
      const free = await signInAs()
      expectProblem(await call('/rule', { cookie: free }), 403, 'ERR_FORBIDDEN')
      const pro = await signInAs('?plan=pro')
      expect((await call('/rule', { cookie: pro })).status).toBe(200)
    })

    it('SEC-58: a rule that throws denies with a generic 500 ERR_INTERNAL; its message stays out of the answer', async () => {
      const broken = await signInAs('?plan=broken')
      const answer = await call('/rule', { cookie: broken })
      expectProblem(answer, 500, 'ERR_INTERNAL')
      expect(JSON.stringify(answer.body)).not.toContain('hunter2')
    })

    it('SEC-36: permissions come from the server-side session, never from the client', async () => {
      const cookie = await signInAs()
      const claims = await call('/admin', {
        cookie: `${cookie}; permissions=admin:read; roles=admin`,
        headers: {
          'x-permissions': 'admin:read',
          'x-roles': 'admin',
          'x-parley-permissions': 'admin:read',
        },
      })
      expectProblem(claims, 403, 'ERR_FORBIDDEN')
      const rule = await call('/rule?plan=pro', { cookie: `${cookie}; plan=pro` })
      expectProblem(rule, 403, 'ERR_FORBIDDEN')
    })

    it('SEC-36: a permission removed with sessions.update stops granting access on the next request', async () => {
      const cookie = await signInAs('?permissions=admin:read')
      expect((await call('/admin', { cookie })).status).toBe(200)
      const [session] = await sessions.list('alice')
      await sessions.update(session!.id, session!.version, {
        auth: { ...session!.auth, permissions: [] },
      })
      expectProblem(await call('/admin', { cookie }), 403, 'ERR_FORBIDDEN')
    })

    it('SEC-10: the idle timeout is enforced through the adapter, against the injected clock', async () => {
      const cookie = await signInAs()
      clock.advance(29 * MINUTE)
      expect((await call('/me', { cookie })).status).toBe(200) // and slides the idle expiry
      clock.advance(29 * MINUTE)
      expect((await call('/me', { cookie })).status).toBe(200)
      clock.advance(31 * MINUTE)
      const answer = await call('/me', { cookie })
      expectProblem(answer, 401, 'ERR_SESSION_ENDED')
      expect(answer.body?.reason).toBe('idle_timeout')
      expect(answer.setCookie).toEqual([CLEAR])
    })

    it('a sign-in over a dead cookie sends only the new cookie', async () => {
      const old = await signInAs()
      await call('/sign-out', { method: 'POST', cookie: old, origin: ORIGIN })
      const again = await call('/sign-in', { method: 'POST', cookie: old, origin: ORIGIN })
      expect(again.setCookie).toHaveLength(1)
      expect(again.setCookie[0]).toMatch(/^__Host-parley=plys_/)
    })

    it('a store outage fails closed with 503 ERR_STORE_UNAVAILABLE', async () => {
      const cookie = await signInAs()
      const { storeUnavailable } = await import('../../src/core/errors.ts')
      const get = store.get.bind(store)
      store.get = async () => {
        throw storeUnavailable(new Error('down'))
      }
      try {
        expectProblem(await call('/public', { cookie }), 503, 'ERR_STORE_UNAVAILABLE')
        expectProblem(await call('/me', { cookie }), 503, 'ERR_STORE_UNAVAILABLE')
      } finally {
        store.get = get
      }
      expect((await call('/me', { cookie })).status).toBe(200)
    })

    it('the cookie value never reaches a log line', async () => {
      const cookie = await signInAs()
      await call('/action', { method: 'POST', cookie, origin: 'https://evil.example' })
      await call('/me', { site: 'cross-site' })
      const text = JSON.stringify(logs)
      expect(logs.length).toBeGreaterThan(0)
      expect(text).not.toContain(cookie.split('=')[1]!)
    })
  })

  describe(`${adapter.name} adapter: remote mode`, () => {
    let clock: ManualClock
    let server: ParleyServer
    let serverUrl: string
    let apiKey: string
    let app: StartedApp
    let validations: number
    const call = client(() => app.url)

    async function startApp(remote: Partial<NonNullable<ParleyHttpOptions['remote']>> = {}) {
      app = await adapter.start(
        { remote: { url: serverUrl, apiKey, ...remote }, origins: [ORIGIN], clock },
        server.sessions,
      )
    }

    beforeEach(async () => {
      clock = new ManualClock(1_800_000_000_000)
      const store = new MemoryStore()
      server = await buildServer({ store, clock, policy: { maxSessionsPerPrincipal: 0 } })
      validations = 0
      server.app.addHook('onRequest', async (request) => {
        if (request.url === '/v1/sessions/validate') validations++
      })
      apiKey = (await createApiKey(store, clock, { name: 'app', scope: 'read' })).token
      serverUrl = await server.app.listen({ host: '127.0.0.1', port: 0 })
    })
    afterEach(async () => {
      await app.close()
      await server.app.close()
    })

    it('a cookie and a bearer token are validated through the service API', async () => {
      await startApp()
      const signedIn = await call('/sign-in?principal=dana', { method: 'POST', origin: ORIGIN })
      const cookie = cookieOf(signedIn)
      expect((await call('/me', { cookie })).body).toEqual({ principal: 'dana', via: 'cookie' })
      const { token } = await server.sessions.create({ principal: 'svc' })
      expect((await call('/me', { bearer: token })).body).toEqual({
        principal: 'svc',
        via: 'bearer',
      })
      expectProblem(await call('/me'), 401, 'ERR_UNAUTHENTICATED')
      expectProblem(
        await call('/me', { bearer: `${token.slice(0, -2)}xx` }),
        401,
        'ERR_SESSION_INVALID',
      )
    })

    it('SEC-14: after sign-out the old cookie is refused within cacheMs (the staleness bound)', async () => {
      await startApp({ cacheMs: 1000 })
      const cookie = cookieOf(await call('/sign-in', { method: 'POST', origin: ORIGIN }))
      expect((await call('/me', { cookie })).status).toBe(200)
      expect((await call('/sign-out', { method: 'POST', cookie, origin: ORIGIN })).status).toBe(200)
      // Within the bound this process still accepts it from its cache (documented)...
      expect((await call('/me', { cookie })).status).toBe(200)
      clock.advance(1000)
      // ...and not a moment after.
      const replay = await call('/me', { cookie })
      expectProblem(replay, 401, 'ERR_SESSION_ENDED')
      expect(replay.body?.reason).toBe('logout')
      expect(replay.setCookie).toEqual([CLEAR])
    })

    it('answers are cached for cacheMs: a hot session costs one service-API call', async () => {
      await startApp({ cacheMs: 5000 })
      const { token } = await server.sessions.create({ principal: 'svc' })
      const before = validations
      for (let i = 0; i < 5; i++) expect((await call('/me', { bearer: token })).status).toBe(200)
      expect(validations - before).toBe(1)
      clock.advance(5000)
      expect((await call('/me', { bearer: token })).status).toBe(200)
      expect(validations - before).toBe(2)
    })

    it('SEC-36: permissions come from the server-side session in remote mode too', async () => {
      await startApp({ cacheMs: 0 })
      const granted = await server.sessions.create({
        principal: 'erin',
        auth: { factors: ['password'], level: 1, permissions: ['admin:read'], roles: ['ops'] },
      })
      expect((await call('/admin', { bearer: granted.token })).status).toBe(200)
      const plain = await server.sessions.create({ principal: 'finn' })
      expectProblem(await call('/admin', { bearer: plain.token }), 403, 'ERR_FORBIDDEN')
      await server.sessions.update(granted.session.id, granted.session.version, {
        auth: { ...granted.session.auth, permissions: [] },
      })
      expectProblem(await call('/admin', { bearer: granted.token }), 403, 'ERR_FORBIDDEN')
    })

    it('SEC-22: a token in the URL is ignored in remote mode too', async () => {
      await startApp()
      const { token } = await server.sessions.create({ principal: 'svc' })
      expectProblem(await call(`/me?token=${token}`), 401, 'ERR_UNAUTHENTICATED')
      expect(validations).toBe(0)
    })

    it('SEC-24: the origin check runs before any service-API call', async () => {
      await startApp()
      const cookie = cookieOf(await call('/sign-in', { method: 'POST', origin: ORIGIN }))
      const before = validations
      const forged = await call('/action', {
        method: 'POST',
        cookie,
        origin: 'https://evil.example',
      })
      expectProblem(forged, 403, 'ERR_CSRF')
      expect(validations).toBe(before)
    })

    it('a service-API failure fails closed with 503, never open', async () => {
      await startApp()
      const { token } = await server.sessions.create({ principal: 'svc' })
      await server.app.close()
      expectProblem(await call('/me', { bearer: token }), 503, 'ERR_STORE_UNAVAILABLE')
      expectProblem(await call('/public', { bearer: token }), 503, 'ERR_STORE_UNAVAILABLE')
    })

    it('a revoked or wrong API key fails closed with 503', async () => {
      const { token } = await server.sessions.create({ principal: 'svc' })
      apiKey = `plyk_${'A'.repeat(22)}.${'B'.repeat(43)}`
      await startApp()
      expectProblem(await call('/me', { bearer: token }), 503, 'ERR_STORE_UNAVAILABLE')
    })
  })
}
