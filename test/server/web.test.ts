/**
 * @module The /auth API and pages of `parley serve` over real HTTP (no browser): headers, CSRF on
 * sign-in, stolen-cookie replays, enumeration, and what the logs and the audit trail hold.
 */
import { Secret, TOTP } from 'otpauth'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWebServer } from '../helpers/web-server.ts'

const COOKIE = '__Host-parley'
const PASSWORD = 'correct horse battery staple'
let web: Awaited<ReturnType<typeof startWebServer>>
let n = 0
const user = () => `web${++n}`

beforeAll(async () => {
  web = await startWebServer()
})
afterAll(async () => {
  await web?.close()
})

interface Call {
  status: number
  headers: Headers
  body: Record<string, unknown> & { code?: string }
  token: string | null
  setCookie: string | null
}

async function call(
  method: string,
  path: string,
  options: {
    token?: string | null
    body?: unknown
    origin?: string | null
    headers?: Record<string, string>
  } = {},
): Promise<Call> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token) headers.cookie = `${COOKIE}=${options.token}`
  const origin = options.origin === undefined ? web.origin : options.origin
  if (origin !== null) headers.origin = origin
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${web.origin}${path}`, {
    method,
    headers,
    redirect: 'manual',
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  })
  const text = await res.text()
  const setCookie = res.headers.get('set-cookie')
  const m = setCookie ? new RegExp(`${COOKIE}=([^;]*)`).exec(setCookie) : null
  let body = {}
  try {
    body = text ? JSON.parse(text) : {}
  } catch {
    body = { html: text }
  }
  return { status: res.status, headers: res.headers, body, token: m?.[1] || null, setCookie }
}

async function signUp(username = user()): Promise<{ username: string; token: string }> {
  const r = await call('POST', '/auth/sign-up', { body: { username, password: PASSWORD } })
  expect(r.status).toBe(201)
  return { username, token: r.token! }
}

async function signIn(username: string, extra: Record<string, string> = {}) {
  return call('POST', '/auth/sign-in', { body: { username, password: PASSWORD, ...extra } })
}

describe('the pages', () => {
  it('SEC-23: every page sends a strict CSP, nosniff, same-origin referrer and no framing; no secret in HTML or script', async () => {
    const { token } = await signUp()
    for (const path of ['/sign-in', '/sign-up', '/account', '/assets/app.js', '/assets/app.css']) {
      const r = await call('GET', path, { token })
      expect(r.status).toBe(200)
      const csp = r.headers.get('content-security-policy')!
      expect(csp).toContain("script-src 'self'")
      expect(csp).toContain("frame-ancestors 'none'")
      expect(csp).not.toContain('unsafe-inline')
      expect(r.headers.get('x-content-type-options')).toBe('nosniff')
      expect(r.headers.get('referrer-policy')).toBe('same-origin')
      const text = String(r.body.html ?? '')
      expect(text).not.toContain(token)
      expect(text).not.toContain(token.split('.')[1]!)
      if (path.endsWith('.js') || path.endsWith('.css')) continue
      expect(text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/) // no inline script
    }
  })

  it('SEC-25: GET never changes state: no route signs in, out or ends sessions on GET', async () => {
    const { token } = await signUp()
    for (const path of [
      '/auth/sign-out',
      '/auth/sessions/end-others',
      '/auth/sign-in',
      '/auth/sign-up',
    ]) {
      const r = await call('GET', path, { token })
      expect(r.status).toBeGreaterThanOrEqual(404)
      expect(r.setCookie).toBeNull()
    }
    expect((await call('GET', '/auth/me', { token })).status).toBe(200)
  })
})

describe('the /auth API', () => {
  it('SEC-08: a sign-in or sign-up posted from another origin mints no session (login CSRF)', async () => {
    const { username } = await signUp()
    for (const origin of ['https://evil.example', 'null', `http://localhost:${web.port + 1}`]) {
      const r = await call('POST', '/auth/sign-in', {
        origin,
        body: { username, password: PASSWORD },
      })
      expect(r.status).toBe(403)
      expect(r.body.code).toBe('ERR_CSRF')
      expect(r.token).toBeNull()
    }
    const none = await call('POST', '/auth/sign-up', {
      origin: null,
      body: { username: user(), password: PASSWORD },
    })
    expect(none.body.code).toBe('ERR_CSRF')
  })

  it('SEC-07: signing in again replaces the session the browser had: the old id ends with "rotated"', async () => {
    const { username, token } = await signUp()
    const again = await call('POST', '/auth/sign-in', {
      token,
      body: { username, password: PASSWORD },
    })
    expect(again.status).toBe(200)
    expect(again.token!.split('.')[0]).not.toBe(token.split('.')[0])
    const old = await call('GET', '/auth/me', { token })
    expect(old.status).toBe(401)
    expect(old.body).toMatchObject({ code: 'ERR_SESSION_ENDED', reason: 'rotated' })
  })

  it('attack scenario 2: a copied cookie is refused after sign-out, after a password change and after "end all others"', async () => {
    const { username, token: first } = await signUp()
    // sign-out
    expect((await call('POST', '/auth/sign-out', { token: first })).status).toBe(204)
    expect((await call('GET', '/auth/me', { token: first })).body).toMatchObject({
      code: 'ERR_SESSION_ENDED',
      reason: 'logout',
    })
    // password change (from another session)
    const stolen = (await signIn(username)).token!
    const mine = (await signIn(username)).token!
    const changed = await call('POST', '/auth/password', {
      token: mine,
      body: { currentPassword: PASSWORD, newPassword: `${PASSWORD}!` },
    })
    expect(changed.status).toBe(200)
    expect((await call('GET', '/auth/me', { token: stolen })).body).toMatchObject({
      code: 'ERR_SESSION_ENDED',
      reason: 'password_changed',
    })
    // end all others
    const stolen2 = (
      await call('POST', '/auth/sign-in', { body: { username, password: `${PASSWORD}!` } })
    ).token!
    const ended = await call('POST', '/auth/sessions/end-others', { token: changed.token })
    expect(ended.body).toMatchObject({ ended: 1 })
    expect((await call('GET', '/auth/me', { token: stolen2 })).status).toBe(401)
    expect((await call('GET', '/auth/me', { token: changed.token })).status).toBe(200)
  })

  it('attack scenario 9: probing sign-in for users and the session endpoints for ids reveals nothing', async () => {
    const { username } = await signUp()
    const unknown = await call('POST', '/auth/sign-in', {
      body: { username: `nobody-${username}`, password: PASSWORD },
    })
    const wrong = await call('POST', '/auth/sign-in', {
      body: { username, password: 'not the password' },
    })
    expect(unknown.status).toBe(401)
    expect(unknown.body).toStrictEqual(wrong.body)
    expect(unknown.body.code).toBe('ERR_SIGN_IN_FAILED')
    // SEC-37: another principal's session id is answered exactly as an id that does not exist
    const a = await signUp()
    const b = await signUp()
    const bSessions = await call('GET', '/auth/sessions', { token: b.token })
    const bId = (bSessions.body.sessions as { id: string }[])[0]!.id
    const foreign = await call('POST', `/auth/sessions/${bId}/end`, { token: a.token })
    const missing = await call('POST', '/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA/end', {
      token: a.token,
    })
    expect(foreign.status).toBe(404)
    expect(foreign.body).toStrictEqual(missing.body)
    expect((await call('GET', '/auth/me', { token: b.token })).status).toBe(200)
  })

  it('SEC-22: a session token in the URL is never accepted', async () => {
    const { token } = await signUp()
    for (const q of [`?token=${token}`, `?session=${token}`, `?${COOKIE}=${token}`]) {
      const r = await call('GET', `/auth/me${q}`)
      expect(r.status).toBe(401)
      expect(r.body.code).toBe('ERR_UNAUTHENTICATED')
    }
  })

  it('SEC-04 and SEC-57: a full flow leaves no secret in the logs or the audit trail, and every step is audited', async () => {
    const username = user()
    const secrets: string[] = [PASSWORD, `${PASSWORD}?`]
    const up = await call('POST', '/auth/sign-up', { body: { username, password: PASSWORD } })
    secrets.push(up.token!)
    const begin = await call('POST', '/auth/totp/begin', { token: up.token })
    const totp = new TOTP({ secret: Secret.fromBase32(String(begin.body.secret)) })
    secrets.push(String(begin.body.secret))
    const code = totp.generate({ timestamp: web.clock.now() })
    const confirmed = await call('POST', '/auth/totp/confirm', { token: up.token, body: { code } })
    expect(confirmed.status).toBe(200)
    secrets.push(confirmed.token!, ...(confirmed.body.recoveryCodes as string[]))
    await call('POST', '/auth/sign-in', { body: { username, password: 'wrong password!' } })
    const mfa = await signIn(username)
    expect(mfa.body.code).toBe('ERR_MFA_REQUIRED')
    const recovery = (confirmed.body.recoveryCodes as string[])[0]!
    const second = await signIn(username, { recoveryCode: recovery })
    expect(second.status).toBe(200)
    secrets.push(second.token!)
    const changed = await call('POST', '/auth/password', {
      token: second.token,
      body: { currentPassword: PASSWORD, newPassword: `${PASSWORD}?` },
    })
    expect(changed.status).toBe(200)
    secrets.push(changed.token!)
    await call('POST', '/auth/sign-out', { token: changed.token })

    const me = await web.users.getUserByName(username)
    const events = await web.store.events({ principal: me!.id, limit: 1000 })
    const types = events.map((e) => e.type)
    for (const t of [
      'user.created',
      'auth.sign_in',
      'auth.sign_in_failed',
      'auth.factor_changed',
      'auth.password_changed',
      'session.created',
      'session.ended',
    ]) {
      expect(types).toContain(t)
    }
    const everything = web.logs.join('\n') + JSON.stringify(events) + JSON.stringify(me)
    for (const s of secrets) {
      expect(everything).not.toContain(s)
      if (s.includes('.')) expect(everything).not.toContain(s.split('.')[1])
    }
  })

  it('SEC-53: bad bodies are 400 or 413 with a code, never 500', async () => {
    const bad = await call('POST', '/auth/sign-in', { body: { username: 'x', password: 1 } })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('ERR_VALIDATION')
    const extra = await call('POST', '/auth/sign-in', {
      body: { username: 'x', password: 'y', admin: true },
    })
    expect(extra.body.code).toBe('ERR_VALIDATION')
    const huge = await call('POST', '/auth/sign-in', {
      body: { username: 'x', password: 'y'.repeat(100_000) },
    })
    expect(huge.status).toBe(413)
  })

  it('SEC-07: signing up over a live cookie ends the session the browser held', async () => {
    const first = await signUp()
    const second = await call('POST', '/auth/sign-up', {
      token: first.token,
      body: { username: user(), password: PASSWORD },
    })
    expect(second.status).toBe(201)
    const old = await call('GET', '/auth/me', { token: first.token })
    expect(old.body).toMatchObject({ code: 'ERR_SESSION_ENDED', reason: 'rotated' })
  })

  it('SEC-53: routes that take no body refuse one', async () => {
    const { token } = await signUp()
    const r = await call('POST', '/auth/sessions/end-others', { token, body: { everyone: true } })
    expect(r.status).toBe(400)
    expect(r.body.code).toBe('ERR_VALIDATION')
    expect((await call('POST', '/auth/sessions/end-others', { token })).status).toBe(200)
    expect((await call('POST', '/auth/sessions/end-others', { token, body: {} })).status).toBe(200)
  })
  it('SEC-24: Bearer-authenticated calls need no Origin (no other site can make a browser send one)', async () => {
    const { token } = await signUp()
    const r = await call('POST', '/auth/sessions/end-others', {
      origin: null,
      headers: { authorization: `Bearer ${token}` },
    })
    expect(r.status).toBe(200)
    const out = await call('POST', '/auth/sign-out', {
      origin: null,
      headers: { authorization: `Bearer ${token}` },
    })
    expect(out.status).toBe(204)
    expect((await call('GET', '/auth/me', { token })).status).toBe(401)
  })

  it('SEC-31: one address failing sign-ins across many accounts is throttled with 429 and Retry-After (run last: it blocks this address)', async () => {
    let limited: Call | null = null
    for (let i = 0; i < 60 && limited === null; i++) {
      const r = await call('POST', '/auth/sign-in', {
        body: { username: `stuffing-${i}`, password: 'guess123' },
      })
      if (r.status === 429) limited = r
      else expect(r.body.code).toBe('ERR_SIGN_IN_FAILED')
    }
    expect(limited).not.toBeNull()
    expect(limited!.body.code).toBe('ERR_RATE_LIMITED')
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0)
  })
})

describe('attack scenario 4 (credential stuffing) over HTTP, behind a trusted proxy', () => {
  let edge: Awaited<ReturnType<typeof startWebServer>>
  beforeAll(async () => {
    edge = await startWebServer({ trustProxy: true })
  })
  afterAll(async () => {
    await edge?.close()
  })
  const post = (path: string, body: unknown, ip: string, token?: string) =>
    fetch(`${edge.origin}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: edge.origin,
        'x-forwarded-for': ip,
        ...(token ? { cookie: `${COOKIE}=${token}` } : {}),
      },
      body: JSON.stringify(body),
    })

  it('SEC-31: attack scenario 4: bursts across many accounts from one address and on one account from many are throttled and audited; other users are still served', async () => {
    const bystander = await post(
      '/auth/sign-up',
      { username: 'bystander', password: PASSWORD },
      '198.51.100.7',
    )
    expect(bystander.status).toBe(201)
    const bystanderToken = /__Host-parley=([^;]+)/.exec(bystander.headers.get('set-cookie')!)![1]!
    const victim = await post(
      '/auth/sign-up',
      { username: 'victim', password: PASSWORD },
      '198.51.100.8',
    )
    expect(victim.status).toBe(201)

    // one address, many accounts: 429 once the address has failed too often
    const codes: string[] = []
    for (let i = 0; i < 40; i++) {
      const r = await post(
        '/auth/sign-in',
        { username: `acct${i}`, password: 'guess-1234' },
        '203.0.113.66',
      )
      codes.push(((await r.json()) as { code: string }).code)
    }
    expect(codes[0]).toBe('ERR_SIGN_IN_FAILED')
    expect(codes).toContain('ERR_RATE_LIMITED')
    expect(codes.slice(codes.indexOf('ERR_RATE_LIMITED'))).toEqual(
      codes.slice(codes.indexOf('ERR_RATE_LIMITED')).map(() => 'ERR_RATE_LIMITED'),
    )

    // one account, many addresses: after 20 failures overall, the same answer as a wrong
    // password, even for the right one
    for (let i = 0; i < 24; i++) {
      const r = await post(
        '/auth/sign-in',
        { username: 'victim', password: `guess-${i}-abcd` },
        `192.0.2.${i + 1}`,
      )
      expect(((await r.json()) as { code: string }).code).toBe('ERR_SIGN_IN_FAILED')
    }
    const locked = await post(
      '/auth/sign-in',
      { username: 'victim', password: PASSWORD },
      '192.0.2.200',
    )
    expect(locked.status).toBe(401)
    expect(((await locked.json()) as { code: string }).code).toBe('ERR_SIGN_IN_FAILED')
    const victimId = (await edge.users.getUserByName('victim'))!.id
    const events = await edge.store.events({ principal: victimId, limit: 1000 })
    expect(events.filter((e) => e.type === 'auth.locked')).toHaveLength(1)
    expect(events.filter((e) => e.type === 'auth.sign_in_failed').length).toBeGreaterThanOrEqual(5)

    // meanwhile other users are served: a signed-in user, and a sign-in from a clean address
    const me = await fetch(`${edge.origin}/auth/me`, {
      headers: { cookie: `${COOKIE}=${bystanderToken}`, 'x-forwarded-for': '198.51.100.7' },
    })
    expect(me.status).toBe(200)
    const other = await post(
      '/auth/sign-in',
      { username: 'bystander', password: PASSWORD },
      '198.51.100.9',
    )
    expect(other.status).toBe(200)
    // the lock is bounded: once its delay has passed, the victim signs in again
    edge.clock.advance(16 * 60_000)
    const later = await post(
      '/auth/sign-in',
      { username: 'victim', password: PASSWORD },
      '192.0.2.201',
    )
    expect(later.status).toBe(200)
  })

  it('SEC-31: a client cannot escape the address limit by writing its own X-Forwarded-For entries', async () => {
    const codes: string[] = []
    for (let i = 0; i < 30; i++) {
      // the proxy appends the real address; the left-most entries are whatever the client sent
      const r = await post(
        '/auth/sign-in',
        { username: `spoof${i}`, password: 'guess-1234' },
        `10.9.${i}.1, 203.0.113.77`,
      )
      codes.push(((await r.json()) as { code: string }).code)
    }
    expect(codes).toContain('ERR_RATE_LIMITED')
  })
})
