/**
 * @module The OAuth endpoints of `parley serve` driven by a real OAuth client (`openid-client` v6)
 * over HTTP: discovery, refresh, introspection (RFC 7662), revocation (RFC 7009), client
 * authentication, the revoked-session feed, and what the logs never hold.
 */
import { Writable } from 'node:stream'
import { generateKeyPair, SignJWT } from 'jose'
import * as oidc from 'openid-client'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Clock } from '../../src/core/clock.ts'
import { storeUnavailable } from '../../src/core/errors.ts'
import { createApiKey } from '../../src/server/api-keys.ts'
import { buildServer, REDACT } from '../../src/server/app.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'
import type { TokenStore } from '../../src/tokens/token-store.ts'
import { freePort, SECRET } from '../helpers/web-server.ts'

const PASSWORD = 'correct horse battery staple'

/** Real time plus an offset the test moves forward: openid-client stamps its requests with real time. */
class OffsetClock implements Clock {
  offset = 0
  now(): number {
    return Date.now() + this.offset
  }
  advance(ms: number): void {
    this.offset += ms
  }
}

/** A token store whose calls fail while `down` is set (a store outage). */
function flaky(inner: TokenStore): TokenStore & { down: boolean } {
  const wrapped = { down: false } as TokenStore & { down: boolean }
  for (const name of [
    'init',
    'close',
    'listSigningKeys',
    'addSigningKey',
    'purgeSigningKeys',
    'createRefresh',
    'getRefresh',
    'rotateRefresh',
    'purgeRefresh',
    'useOnce',
  ] as const) {
    ;(wrapped as unknown as Record<string, unknown>)[name] = (...args: unknown[]) =>
      wrapped.down
        ? Promise.reject(storeUnavailable(new Error('connection refused')))
        : (inner[name] as (...a: unknown[]) => Promise<unknown>).apply(inner, args)
  }
  Object.defineProperty(wrapped, 'kind', { value: inner.kind })
  return wrapped
}

let server: Awaited<ReturnType<typeof buildServer>>
let store: MemoryStore
let tokenStore: ReturnType<typeof flaky>
let clock: OffsetClock
let issuer: string
const logs: string[] = []
let readKey: { id: string; secret: string; token: string }
let web: oidc.Configuration
let cli: oidc.Configuration
let rs: oidc.Configuration
let n = 0

const discover = (clientId: string, auth: oidc.ClientAuth) =>
  oidc.discovery(new URL(issuer), clientId, undefined, auth, {
    algorithm: 'oauth2',
    execute: [oidc.allowInsecureRequests],
  })

beforeAll(async () => {
  store = new MemoryStore()
  await store.init()
  tokenStore = flaky(store.tokens())
  clock = new OffsetClock()
  const port = await freePort()
  issuer = `http://127.0.0.1:${port}`
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(chunk.toString())
      done()
    },
  })
  server = await buildServer({
    store,
    clock,
    policy: { maxSessionsPerPrincipal: 0 },
    loggerInstance: pino({ level: 'trace', redact: { paths: REDACT, censor: '[redacted]' } }, sink),
    logRequests: true,
    apiKeyCacheMs: 0,
    web: {
      users: store.users(),
      secret: SECRET,
      origins: [issuer],
      password: { memoryKiB: 1024, passes: 1 },
    },
    tokens: {
      secret: SECRET,
      issuer,
      clients: [{ id: 'web' }, { id: 'cli' }],
      store: tokenStore,
    },
  })
  await server.app.listen({ host: '127.0.0.1', port })
  const key = await createApiKey(store, clock, { name: 'resource-server', scope: 'read' })
  const dot = key.token.indexOf('.')
  readKey = { id: key.token.slice(0, dot), secret: key.token.slice(dot + 1), token: key.token }
  web = await discover('web', oidc.None())
  cli = await discover('cli', oidc.None())
  rs = await discover(readKey.id, oidc.ClientSecretBasic(readKey.secret))
})
afterAll(async () => {
  await server?.app.close()
})

interface Pair {
  access_token: string
  refresh_token: string
  token_type: string
  expires_in: number
}

/** A new user signed in through `/auth/token`: a fresh session and its first pair. */
async function signIn(clientId = 'web'): Promise<Pair> {
  const username = `oauth${++n}`
  await server.auth!.signUp({ username, password: PASSWORD })
  const res = await fetch(`${issuer}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD, client_id: clientId }),
  })
  expect(res.status).toBe(200)
  expect(res.headers.get('cache-control')).toBe('no-store')
  return (await res.json()) as Pair
}

async function me(accessToken: string) {
  const res = await fetch(`${issuer}/auth/me`, {
    headers: { authorization: `Bearer ${accessToken}` },
  })
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as Record<string, unknown>,
  }
}

async function form(
  path: string,
  body: Record<string, string>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body).toString(),
  })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    body: (text ? JSON.parse(text) : null) as Record<string, unknown> | null,
  }
}

const introspect = async (token: string) => (await oidc.tokenIntrospection(rs, token)).active

/**
 * The OAuth error a failed openid-client call carries: from the JSON body, or, for a 401 that
 * carries a `WWW-Authenticate` challenge (openid-client surfaces the challenge), from the body of
 * the response behind it.
 */
async function oauthError(
  p: Promise<unknown>,
): Promise<{ error: string; status: number; scheme?: string }> {
  const err = (await p.then(
    () => expect.fail('expected the call to fail'),
    (e: unknown) => e,
  )) as {
    error?: string
    status?: number
    cause?: { scheme?: string }[]
    response?: Response
  }
  if (err.error !== undefined) return { error: err.error, status: err.status ?? 0 }
  if (err.response !== undefined) {
    const body = (await err.response.json()) as { error: string }
    return { error: body.error, status: err.response.status, scheme: err.cause?.[0]?.scheme }
  }
  throw err
}

describe('discovery and keys', () => {
  it('publishes RFC 8414 metadata that openid-client discovers, and the JWKS it names', async () => {
    const meta = web.serverMetadata()
    expect(meta.issuer).toBe(issuer)
    expect(meta.token_endpoint).toBe(`${issuer}/oauth/token`)
    expect(meta.introspection_endpoint).toBe(`${issuer}/oauth/introspect`)
    expect(meta.revocation_endpoint).toBe(`${issuer}/oauth/revoke`)
    expect(meta.grant_types_supported).toEqual(['refresh_token'])
    expect(meta.introspection_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
    ])
    expect(meta.dpop_signing_alg_values_supported).toEqual(['EdDSA', 'ES256'])
    const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: Record<string, string>[] }
    expect(jwks.keys.length).toBeGreaterThan(0)
    for (const k of jwks.keys) {
      expect(k.alg).toMatch(/^(EdDSA|ES256)$/)
      expect(k).not.toHaveProperty('d') // public halves only
    }
  })

  it('access tokens work at /auth/me as Bearer tokens; a tampered one is refused', async () => {
    const pair = await signIn()
    expect(pair.token_type).toBe('Bearer')
    expect(pair.expires_in).toBe(300)
    expect(pair.refresh_token).toMatch(/^plyr_/)
    const res = await me(pair.access_token)
    expect(res.status).toBe(200)
    expect((res.body.user as { username: string }).username).toMatch(/^oauth\d+$/)
    const bad = await me(`${pair.access_token.slice(0, -4)}AAAA`)
    expect(bad.status).toBe(401)
    expect(bad.body.code).toBe('ERR_TOKEN_INVALID')
  })

  it('/auth/token refuses an unknown client and a wrong password with a problem and an OAuth error', async () => {
    await server.auth!.signUp({ username: 'tokenuser', password: PASSWORD })
    const post = (body: object) =>
      fetch(`${issuer}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const unknown = await post({ username: 'tokenuser', password: PASSWORD, client_id: 'nobody' })
    expect(unknown.status).toBe(401)
    expect(await unknown.json()).toMatchObject({
      code: 'ERR_CLIENT_INVALID',
      error: 'invalid_client',
    })
    const wrong = await post({ username: 'tokenuser', password: 'not it at all', client_id: 'web' })
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ code: 'ERR_SIGN_IN_FAILED' })
  })
})

describe('refresh (openid-client refreshTokenGrant)', () => {
  it('rotates: a new pair, and the old refresh token is no longer active', async () => {
    const pair = await signIn()
    const next = await oidc.refreshTokenGrant(web, pair.refresh_token)
    expect(next.token_type).toBe('bearer')
    expect(next.refresh_token).toMatch(/^plyr_/)
    expect(next.refresh_token).not.toBe(pair.refresh_token)
    expect(next.access_token).not.toBe(pair.access_token)
    expect((await me(next.access_token)).status).toBe(200)
    expect(await introspect(pair.refresh_token)).toBe(false)
    expect(await introspect(next.refresh_token!)).toBe(true)
  })

  it('SEC-43: attack scenario 5: another client, an unknown token and a stolen, already-rotated token are invalid_grant; the reuse ends the session for both and is audited', async () => {
    const pair = await signIn()
    expect(await oauthError(oidc.refreshTokenGrant(cli, pair.refresh_token))).toMatchObject({
      error: 'invalid_grant',
      status: 400,
    })
    const bogus = `plyr_${'A'.repeat(22)}.${'B'.repeat(43)}`
    expect((await oauthError(oidc.refreshTokenGrant(web, bogus))).error).toBe('invalid_grant')
    const next = await oidc.refreshTokenGrant(web, pair.refresh_token)
    clock.advance(11_000) // past the 10 s grace window
    expect((await oauthError(oidc.refreshTokenGrant(web, pair.refresh_token))).error).toBe(
      'invalid_grant',
    )
    expect((await me(next.access_token)).body.code).toBe('ERR_TOKEN_REVOKED')
    expect(await introspect(next.refresh_token!)).toBe(false)
    // the legitimate client has lost access too, and the theft is on record
    expect((await oauthError(oidc.refreshTokenGrant(web, next.refresh_token!))).error).toBe(
      'invalid_grant',
    )
    const sid = JSON.parse(Buffer.from(pair.access_token.split('.')[1]!, 'base64url').toString())
      .sid as string
    const events = await store.events({ sessionId: sid })
    expect(events.find((e) => e.type === 'session.ended')?.reason).toBe('refresh_reuse')
  })

  it('SEC-38: SEC-39: SEC-40: attack scenario 6: forged access tokens are refused at a resource over HTTP', async () => {
    const pair = await signIn()
    expect((await me(pair.access_token)).status).toBe(200)
    const [h, p] = pair.access_token.split('.') as [string, string, string]
    const header = JSON.parse(Buffer.from(h, 'base64url').toString())
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const jwks = (await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string; x: string }[]
    }
    const publicX = jwks.keys.find((k) => k.kid === header.kid)!.x
    const { createHmac } = await import('node:crypto')
    const hs256 = (() => {
      const head = b64({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })
      const body = b64(claims)
      const sig = createHmac('sha256', publicX).update(`${head}.${body}`).digest('base64url')
      return `${head}.${body}.${sig}`
    })()
    const attacker = await generateKeyPair('EdDSA', { extractable: true })
    const { exportJWK } = await import('jose')
    const attackerJwk = await exportJWK(attacker.publicKey)
    const embedded = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: header.kid, jwk: attackerJwk })
      .sign(attacker.privateKey)
    const jku = await new SignJWT(claims)
      .setProtectedHeader({
        alg: 'EdDSA',
        typ: 'at+jwt',
        kid: 'evil',
        jku: 'https://evil.example/jwks.json',
      })
      .sign(attacker.privateKey)
    const forged: Record<string, string> = {
      'alg none': `${b64({ ...header, alg: 'none' })}.${p}.`,
      'HS256 with the public key': hs256,
      'embedded jwk': embedded,
      'jku header': jku,
      'stripped signature': `${h}.${p}.`,
      'altered claims': `${h}.${b64({ ...claims, sub: 'someone-else' })}.${pair.access_token.split('.')[2]}`,
    }
    for (const [name, token] of Object.entries(forged)) {
      const r = await me(token)
      expect(r.status, name).toBe(401)
      // refused as invalid, or (an empty signature is not even JWT-shaped) not taken as a credential
      expect(['ERR_TOKEN_INVALID', 'ERR_UNAUTHENTICATED'], name).toContain(r.body.code)
    }
    // a genuine Parley signature for another audience: the claims check refuses it
    const other = await new SignJWT({ ...claims, aud: 'another-service' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'not-ours' })
      .sign(attacker.privateKey)
    expect((await me(other)).status).toBe(401)
  })

  it('answers OAuth errors for what is not a refresh grant', async () => {
    const pair = await signIn()
    const grant = await form('/oauth/token', { grant_type: 'password', client_id: 'web' })
    expect(grant.status).toBe(400)
    expect(grant.body).toMatchObject({ error: 'unsupported_grant_type', code: 'ERR_VALIDATION' })
    const missing = await form('/oauth/token', { grant_type: 'refresh_token', client_id: 'web' })
    expect(missing.body).toMatchObject({ error: 'invalid_request' })
    const client = await form('/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: pair.refresh_token,
      client_id: 'stranger',
    })
    expect(client.status).toBe(401)
    expect(client.body).toMatchObject({ error: 'invalid_client', code: 'ERR_CLIENT_INVALID' })
    const twice = await fetch(`${issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token&client_id=web&client_id=cli&refresh_token=x',
    })
    expect(twice.status).toBe(400)
    expect(await twice.json()).toMatchObject({ error: 'invalid_request' })
    const json = await fetch(`${issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token' }),
    })
    expect(json.status).toBe(400)
    expect(json.headers.get('content-type')).toMatch(/^application\/json/)
  })

  it('a store outage is 503 temporarily_unavailable (retryable) and ends nothing', async () => {
    const pair = await signIn()
    tokenStore.down = true
    try {
      const res = await form('/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: pair.refresh_token,
        client_id: 'web',
      })
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('1')
      expect(res.body).toMatchObject({
        error: 'temporarily_unavailable',
        code: 'ERR_STORE_UNAVAILABLE',
      })
    } finally {
      tokenStore.down = false
    }
    const next = await oidc.refreshTokenGrant(web, pair.refresh_token)
    expect((await me(next.access_token)).status).toBe(200)
  })
})

describe('introspection (RFC 7662)', () => {
  it('SEC-45: active for a live access token and a live refresh token, with the listed facts only', async () => {
    const pair = await signIn()
    const access = await oidc.tokenIntrospection(rs, pair.access_token)
    expect(access).toMatchObject({
      active: true,
      token_type: 'access_token',
      client_id: 'web',
      iss: issuer,
      aud: 'parley',
    })
    expect(typeof access.sub).toBe('string')
    expect(typeof access.sid).toBe('string')
    const refresh = await oidc.tokenIntrospection(rs, pair.refresh_token)
    expect(refresh).toMatchObject({ active: true, token_type: 'refresh_token', sid: access.sid })
  })

  it('SEC-45: { active: false } and nothing else for unknown, malformed, expired, revoked and foreign tokens', async () => {
    const inactive = async (token: string) => {
      const res = await form(
        '/oauth/introspect',
        { token },
        { authorization: `Basic ${btoa(`${readKey.id}:${readKey.secret}`)}` },
      )
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ active: false })
    }
    await inactive('nonsense')
    await inactive(`plyr_${'A'.repeat(22)}.${'B'.repeat(43)}`)
    await inactive('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')

    // foreign: the right issuer and audience, signed by a key this server never published
    const foreignKey = await generateKeyPair('EdDSA')
    const foreign = await new SignJWT({ sid: 'x'.repeat(22), client_id: 'web', auth_level: 1 })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'not-ours' })
      .setIssuer(issuer)
      .setAudience('parley')
      .setSubject('mallory')
      .setJti('j'.repeat(22))
      .setIssuedAt(Math.floor(clock.now() / 1000))
      .setExpirationTime(Math.floor(clock.now() / 1000) + 300)
      .sign(foreignKey.privateKey)
    await inactive(foreign)

    // revoked
    const revoked = await signIn()
    await oidc.tokenRevocation(web, revoked.refresh_token)
    await inactive(revoked.refresh_token)
    await inactive(revoked.access_token)

    // expired: the access token lapses after 5 minutes (30 s skew), the session lives on
    const expiring = await signIn()
    expect(await introspect(expiring.access_token)).toBe(true)
    clock.advance(5 * 60_000 + 31_000)
    await inactive(expiring.access_token)
    expect(await introspect(expiring.refresh_token)).toBe(true)
  })

  it('SEC-45: client authentication is required: none, a wrong secret, an unknown key or a public client is 401 invalid_client with WWW-Authenticate: Basic', async () => {
    const pair = await signIn()
    const noAuth = await form('/oauth/introspect', { token: pair.access_token })
    expect(noAuth.status).toBe(401)
    expect(noAuth.headers.get('www-authenticate')).toMatch(/^Basic /)
    expect(noAuth.body).toMatchObject({ error: 'invalid_client', code: 'ERR_CLIENT_INVALID' })
    expect(JSON.stringify(noAuth.body)).not.toContain('active')

    const wrong = await discover(readKey.id, oidc.ClientSecretBasic('A'.repeat(43)))
    expect(await oauthError(oidc.tokenIntrospection(wrong, pair.access_token))).toMatchObject({
      error: 'invalid_client',
      status: 401,
      scheme: 'basic',
    })
    const unknown = await discover(`plyk_${'Z'.repeat(22)}`, oidc.ClientSecretPost('B'.repeat(43)))
    expect((await oauthError(oidc.tokenIntrospection(unknown, pair.access_token))).error).toBe(
      'invalid_client',
    )
    expect((await oauthError(oidc.tokenIntrospection(web, pair.access_token))).error).toBe(
      'invalid_client',
    )
    const session = await form(
      '/oauth/introspect',
      { token: pair.access_token },
      {
        authorization: `Bearer ${readKey.token}`,
      },
    )
    expect(session.status).toBe(401)
  })

  it('SEC-45: client_secret_post authenticates as well as client_secret_basic', async () => {
    const pair = await signIn()
    const post = await discover(readKey.id, oidc.ClientSecretPost(readKey.secret))
    expect((await oidc.tokenIntrospection(post, pair.access_token)).active).toBe(true)
  })
})

describe('revocation (RFC 7009)', () => {
  it('SEC-45: answers 200 for unknown and malformed tokens', async () => {
    await oidc.tokenRevocation(web, `plyr_${'A'.repeat(22)}.${'B'.repeat(43)}`)
    await oidc.tokenRevocation(rs, 'nonsense')
    const res = await form('/oauth/revoke', { token: 'nonsense', client_id: 'web' })
    expect(res.status).toBe(200)
  })

  it('SEC-45: a revoked refresh token ends the session: its access token then introspects inactive and is refused', async () => {
    const pair = await signIn()
    expect((await me(pair.access_token)).status).toBe(200)
    const { sid } = await oidc.tokenIntrospection(rs, pair.access_token)
    await oidc.tokenRevocation(web, pair.refresh_token, { token_type_hint: 'refresh_token' })
    expect(await introspect(pair.access_token)).toBe(false)
    const res = await me(pair.access_token)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/)
    expect(res.body.code).toBe('ERR_TOKEN_REVOKED')
    expect((await oauthError(oidc.refreshTokenGrant(web, pair.refresh_token))).error).toBe(
      'invalid_grant',
    )
    const session = await server.sessions.get(sid as string)
    expect(session).toMatchObject({ state: 'ended', endReason: 'revoked' })
    const events = await store.events({ sessionId: sid as string })
    expect(events.map((e) => e.type)).toContain('token.revoked')
  })

  it("SEC-45: a public client revokes only its own tokens; a service's key may revoke any", async () => {
    const pair = await signIn('web')
    await oidc.tokenRevocation(cli, pair.refresh_token) // 200, but not cli's token
    expect(await introspect(pair.refresh_token)).toBe(true)
    await oidc.tokenRevocation(rs, pair.access_token)
    expect(await introspect(pair.refresh_token)).toBe(false)
  })

  it('SEC-45: revocation with wrong client credentials is invalid_client', async () => {
    const pair = await signIn()
    const wrong = await discover(readKey.id, oidc.ClientSecretBasic('A'.repeat(43)))
    expect((await oauthError(oidc.tokenRevocation(wrong, pair.refresh_token))).error).toBe(
      'invalid_client',
    )
    const nobody = await form('/oauth/revoke', { token: pair.refresh_token, client_id: 'nobody' })
    expect(nobody.status).toBe(401)
    expect(await introspect(pair.refresh_token)).toBe(true)
  })
})

describe('the revoked-session feed', () => {
  it('GET /v1/tokens/revoked lists ended sessions since a time for a read key, and is in /openapi.json', async () => {
    const since = clock.now()
    const pair = await signIn()
    await oidc.tokenRevocation(web, pair.refresh_token)
    const claims = await introspect(pair.access_token)
    expect(claims).toBe(false)
    const res = await fetch(`${issuer}/v1/tokens/revoked?since=${since}`, {
      headers: { authorization: `Bearer ${readKey.token}` },
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { ended: { id: string; endedAt: number }[]; now: number }
    expect(body.ended.length).toBeGreaterThanOrEqual(1)
    expect(body.ended.every((e) => e.endedAt >= since)).toBe(true)
    expect(body.now).toBeGreaterThanOrEqual(since)
    const anonymous = await fetch(`${issuer}/v1/tokens/revoked?since=0`)
    expect(anonymous.status).toBe(401)
    const bad = await fetch(`${issuer}/v1/tokens/revoked?since=yesterday`, {
      headers: { authorization: `Bearer ${readKey.token}` },
    })
    expect(bad.status).toBe(400)
    const openapi = (await (await fetch(`${issuer}/openapi.json`)).json()) as {
      paths: Record<string, unknown>
    }
    expect(openapi.paths).toHaveProperty(['/v1/tokens/revoked', 'get'])
  })
})

describe('logs', () => {
  it('SEC-45: no access token, refresh token, client secret or DPoP proof is ever logged', async () => {
    const pair = await signIn()
    const next = await oidc.refreshTokenGrant(web, pair.refresh_token)
    await oidc.tokenIntrospection(rs, next.access_token)
    await oidc.tokenRevocation(web, next.refresh_token!)
    const all = logs.join('')
    expect(all).toContain('/oauth/token') // requests are logged...
    for (const secret of [
      pair.access_token,
      pair.refresh_token,
      next.access_token,
      next.refresh_token!,
      readKey.secret,
      PASSWORD,
    ]) {
      expect(all).not.toContain(secret) // ...their credentials are not
    }
  })
})
