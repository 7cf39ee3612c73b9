/**
 * @module DPoP (RFC 9449) at the token endpoints and at the server's resources, with proofs made by
 * `openid-client` (its DPoP handle) and by hand with `jose` (to tamper with them): binding,
 * replay, htm, htu, iat, ath, the Bearer downgrade, and server nonces.
 */
import { createHash, randomUUID } from 'node:crypto'
import {
  type CryptoKey,
  calculateJwkThumbprint,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  type JWTHeaderParameters,
  SignJWT,
} from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Clock } from '../../src/core/clock.ts'
import { createApiKey } from '../../src/server/api-keys.ts'
import { buildServer } from '../../src/server/app.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'
import { freePort, SECRET } from '../helpers/web-server.ts'

const PASSWORD = 'correct horse battery staple'

interface CryptoKeyPair {
  publicKey: CryptoKey
  privateKey: CryptoKey
}

/** Real time plus an offset the test moves forward: openid-client stamps its proofs with real time. */
class OffsetClock implements Clock {
  offset = 0
  now(): number {
    return Date.now() + this.offset
  }
  advance(ms: number): void {
    this.offset += ms
  }
}

interface Pair {
  access_token: string
  refresh_token: string
  token_type: string
  expires_in: number
}

/** An in-process server on a real port, with a `web` client and a `mobile:dpop` one. */
async function start(options: { dpopNonce?: boolean } = {}) {
  const store = new MemoryStore()
  await store.init()
  const clock = new OffsetClock()
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const server = await buildServer({
    store,
    clock,
    policy: { maxSessionsPerPrincipal: 0 },
    web: {
      users: store.users(),
      secret: SECRET,
      origins: [issuer],
      password: { memoryKiB: 1024, passes: 1 },
    },
    tokens: {
      secret: SECRET,
      issuer,
      clients: [{ id: 'web' }, { id: 'mobile', dpop: true }],
      dpopNonce: options.dpopNonce === true,
    },
  })
  await server.app.listen({ host: '127.0.0.1', port })
  const key = (await createApiKey(store, clock, { name: 'rs', scope: 'read' })).token
  const dot = key.indexOf('.')
  const discover = (clientId: string, auth: oidc.ClientAuth) =>
    oidc.discovery(new URL(issuer), clientId, undefined, auth, {
      algorithm: 'oauth2',
      execute: [oidc.allowInsecureRequests],
    })
  const config = {
    web: await discover('web', oidc.None()),
    mobile: await discover('mobile', oidc.None()),
    rs: await discover(key.slice(0, dot), oidc.ClientSecretBasic(key.slice(dot + 1))),
  }
  let n = 0

  /** A DPoP proof made by hand, so that any part of it can be wrong. */
  async function proof(
    keys: CryptoKeyPair,
    htm: string,
    htu: string,
    claims: Record<string, unknown> = {},
    header: Partial<JWTHeaderParameters> = {},
  ): Promise<string> {
    const jwk = await exportJWK(keys.publicKey)
    const alg =
      (keys.publicKey.algorithm as { name: string }).name === 'Ed25519' ? 'EdDSA' : 'ES256'
    return new SignJWT({
      htm,
      htu,
      jti: randomUUID(),
      iat: Math.floor(clock.now() / 1000),
      ...claims,
    })
      .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk, ...header })
      .sign(keys.privateKey)
  }

  /** A fresh user signed in through `/auth/token`, with a proof when `keys` are given. */
  async function signIn(
    clientId: string,
    keys?: CryptoKeyPair,
    nonce?: string,
  ): Promise<{ status: number; headers: Headers; body: Pair & Record<string, unknown> }> {
    const username = `dpop${++n}`
    await server.auth!.signUp({ username, password: PASSWORD })
    return post('/auth/token', { username, password: PASSWORD, client_id: clientId }, keys, nonce)
  }

  async function post(path: string, body: object, keys?: CryptoKeyPair, nonce?: string) {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (keys !== undefined)
      headers.dpop = await proof(keys, 'POST', `${issuer}${path}`, nonce ? { nonce } : {})
    const res = await fetch(`${issuer}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    })
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Pair & Record<string, unknown>,
    }
  }

  async function me(headers: Record<string, string>) {
    const res = await fetch(`${issuer}/auth/me`, { headers })
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Record<string, unknown>,
    }
  }

  return { server, store, clock, issuer, config, proof, signIn, post, me }
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url')

describe('DPoP-bound tokens', () => {
  let t: Awaited<ReturnType<typeof start>>
  beforeAll(async () => {
    t = await start()
  })
  afterAll(async () => {
    await t?.server.app.close()
  })

  it('SEC-46: a proof at /auth/token binds the pair: token_type DPoP and cnf.jkt is the key thumbprint', async () => {
    const keys = await oidc.randomDPoPKeyPair('ES256')
    const res = await t.signIn('web', keys)
    expect(res.status).toBe(200)
    expect(res.body.token_type).toBe('DPoP')
    const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey))
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt })
    const intro = await oidc.tokenIntrospection(t.config.rs, res.body.refresh_token)
    expect(intro).toMatchObject({ active: true, cnf: { jkt } })
  })

  it('SEC-46: an EdDSA proof key works as well as ES256', async () => {
    const keys = await oidc.randomDPoPKeyPair('EdDSA')
    const res = await t.signIn('web', keys)
    expect(res.body.token_type).toBe('DPoP')
  })

  it('SEC-46: openid-client refreshes a bound pair with its DPoP handle and uses it at a resource', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const pair = (await t.signIn('web', keys)).body
    const DPoP = oidc.getDPoPHandle(t.config.web, keys)
    const next = await oidc.refreshTokenGrant(t.config.web, pair.refresh_token, undefined, { DPoP })
    expect(next.token_type).toBe('dpop')
    const res = await oidc.fetchProtectedResource(
      t.config.web,
      next.access_token,
      new URL(`${t.issuer}/auth/me`),
      'GET',
      undefined,
      undefined,
      { DPoP },
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as { user: { username: string } }
    expect(body.user.username).toMatch(/^dpop\d+$/)
  })

  it('SEC-46: a bound refresh token needs a proof by the same key', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const pair = (await t.signIn('web', keys)).body
    const none = await oidc.refreshTokenGrant(t.config.web, pair.refresh_token).then(
      () => null,
      (e: { error?: string }) => e.error,
    )
    expect(none).toBe('invalid_dpop_proof')
    const other = oidc.getDPoPHandle(t.config.web, await oidc.randomDPoPKeyPair())
    const wrongKey = await oidc
      .refreshTokenGrant(t.config.web, pair.refresh_token, undefined, { DPoP: other })
      .then(
        () => null,
        (e: { error?: string }) => e.error,
      )
    expect(wrongKey).toBe('invalid_dpop_proof')
    const DPoP = oidc.getDPoPHandle(t.config.web, keys)
    const next = await oidc.refreshTokenGrant(t.config.web, pair.refresh_token, undefined, { DPoP })
    expect(next.token_type).toBe('dpop')
  })

  it('SEC-46: a client registered with dpop must send a proof', async () => {
    const res = await t.signIn('mobile')
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ code: 'ERR_DPOP_INVALID', error: 'invalid_dpop_proof' })
    const keys = await oidc.randomDPoPKeyPair()
    expect((await t.signIn('mobile', keys)).body.token_type).toBe('DPoP')
  })

  it('SEC-46: a bound access token sent as a plain Bearer token is refused', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const pair = (await t.signIn('web', keys)).body
    const res = await t.me({ authorization: `Bearer ${pair.access_token}` })
    expect(res.status).toBe(401)
    expect(res.body.code).toBe('ERR_DPOP_INVALID')
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/)
    // ...and so is an unbound token sent with the DPoP scheme
    const bearer = (await t.signIn('web')).body
    const proof = await t.proof(keys, 'GET', `${t.issuer}/auth/me`, {
      ath: ath(bearer.access_token),
    })
    const asDpop = await t.me({ authorization: `DPoP ${bearer.access_token}`, dpop: proof })
    expect(asDpop.status).toBe(401)
    expect(asDpop.body.code).toBe('ERR_DPOP_INVALID')
  })

  it('SEC-46: at a resource the proof must carry ath, come from the bound key, and is single use', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const at = (await t.signIn('web', keys)).body.access_token
    const url = `${t.issuer}/auth/me`
    const call = async (dpop?: string) =>
      t.me({ authorization: `DPoP ${at}`, ...(dpop !== undefined ? { dpop } : {}) })

    expect((await call()).body.code).toBe('ERR_DPOP_INVALID') // no proof
    expect((await call(await t.proof(keys, 'GET', url))).body.code).toBe('ERR_DPOP_INVALID') // no ath
    expect(
      (await call(await t.proof(keys, 'GET', url, { ath: ath('another token') }))).status,
    ).toBe(401)
    const stranger = await oidc.randomDPoPKeyPair()
    expect((await call(await t.proof(stranger, 'GET', url, { ath: ath(at) }))).status).toBe(401)

    const good = await t.proof(keys, 'GET', url, { ath: ath(at) })
    expect((await call(good)).status).toBe(200)
    const replay = await call(good)
    expect(replay.status).toBe(401)
    expect(replay.body.code).toBe('ERR_DPOP_INVALID')
  })

  it('SEC-46: a replayed proof (same jti) is refused at the token endpoint', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const pair = (await t.signIn('web', keys)).body
    const proof = await t.proof(keys, 'POST', `${t.issuer}/oauth/token`)
    const refresh = async (refreshToken: string) => {
      const res = await fetch(`${t.issuer}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: 'web',
        }).toString(),
      })
      return { status: res.status, body: (await res.json()) as Record<string, string> }
    }
    const first = await refresh(pair.refresh_token)
    expect(first.status).toBe(200)
    const again = await refresh(first.body.refresh_token!)
    expect(again.status).toBe(400)
    expect(again.body).toMatchObject({ error: 'invalid_dpop_proof', code: 'ERR_DPOP_INVALID' })
  })

  it('SEC-46: a wrong htm or htu is refused; htu is compared without query, case of scheme and host, or default port', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const at = (await t.signIn('web', keys)).body.access_token
    const try_ = async (htm: string, htu: string) =>
      (
        await t.me({
          authorization: `DPoP ${at}`,
          dpop: await t.proof(keys, htm, htu, { ath: ath(at) }),
        })
      ).status
    expect(await try_('POST', `${t.issuer}/auth/me`)).toBe(401)
    expect(await try_('GET', `${t.issuer}/auth/sessions`)).toBe(401)
    expect(await try_('GET', `http://evil.example/auth/me`)).toBe(401)
    expect(await try_('GET', `https://${new URL(t.issuer).host}/auth/me`)).toBe(401)
    expect(await try_('GET', `${t.issuer.replace('http', 'HTTP')}/auth/me?x=1#y`)).toBe(200)
  })

  it('SEC-46: htu is checked against the configured origin, never the Host header the client sends', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const at = (await t.signIn('web', keys)).body.access_token
    const forged = await t.proof(keys, 'GET', 'http://other-rs.example/auth/me', { ath: ath(at) })
    // node:http, not fetch: fetch does not let a caller set Host
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.issuer}/auth/me`, {
        headers: { authorization: `DPoP ${at}`, dpop: forged, host: 'other-rs.example' },
      })
      req.on('response', (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(401)
  })

  it('SEC-46: a proof whose iat is outside the 60 s window is refused, either way', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const at = (await t.signIn('web', keys)).body.access_token
    const now = Math.floor(t.clock.now() / 1000)
    for (const iat of [now - 120, now + 120]) {
      const res = await t.me({
        authorization: `DPoP ${at}`,
        dpop: await t.proof(keys, 'GET', `${t.issuer}/auth/me`, { ath: ath(at), iat }),
      })
      expect(res.status).toBe(401)
      expect(res.body.detail).toBe('iat is outside the window')
    }
  })

  it('SEC-46: tampered proofs are refused: signature, typ, alg none or HMAC, a private embedded key, another algorithm', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const htu = `${t.issuer}/auth/token`
    const refused = async (dpop: string) => {
      const username = `tamper${randomUUID().slice(0, 8)}`
      await t.server.auth!.signUp({ username, password: PASSWORD })
      const res = await fetch(htu, {
        method: 'POST',
        headers: { 'content-type': 'application/json', dpop },
        body: JSON.stringify({ username, password: PASSWORD, client_id: 'web' }),
      })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ code: 'ERR_DPOP_INVALID' })
    }
    const good = await t.proof(keys, 'POST', htu)
    const [h, p, s] = good.split('.')
    await refused(`${h}.${p}.${s!.slice(0, -6)}AAAAAA`)
    await refused(await t.proof(keys, 'POST', htu, {}, { typ: 'JWT' }))
    const none = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    await refused(
      `${none({ alg: 'none', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })}.${p}.`,
    )
    const secret = new TextEncoder().encode('a'.repeat(32))
    await refused(
      await new SignJWT({
        htm: 'POST',
        htu,
        jti: randomUUID(),
        iat: Math.floor(t.clock.now() / 1000),
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct' } })
        .sign(secret),
    )
    const extractable = await generateKeyPair('ES256', { extractable: true })
    await refused(
      await t.proof(extractable, 'POST', htu, {}, { jwk: await exportJWK(extractable.privateKey) }),
    )
    const es384 = await generateKeyPair('ES384')
    await refused(
      await new SignJWT({
        htm: 'POST',
        htu,
        jti: randomUUID(),
        iat: Math.floor(t.clock.now() / 1000),
      })
        .setProtectedHeader({
          alg: 'ES384',
          typ: 'dpop+jwt',
          jwk: await exportJWK(es384.publicKey),
        })
        .sign(es384.privateKey),
    )
  })
})

describe('DPoP server nonces (dpopNonce on)', () => {
  let t: Awaited<ReturnType<typeof start>>
  beforeAll(async () => {
    t = await start({ dpopNonce: true })
  })
  afterAll(async () => {
    await t?.server.app.close()
  })

  it('SEC-46: a proof without the nonce gets 400 use_dpop_nonce and a DPoP-Nonce header; with it, tokens', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const first = await t.signIn('web', keys)
    expect(first.status).toBe(400)
    expect(first.body).toMatchObject({ error: 'use_dpop_nonce', code: 'ERR_DPOP_NONCE' })
    const nonce = first.headers.get('dpop-nonce')
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{16,}$/)
    const username = `dpop-nonce-${randomUUID().slice(0, 8)}`
    await t.server.auth!.signUp({ username, password: PASSWORD })
    const second = await t.post(
      '/auth/token',
      { username, password: PASSWORD, client_id: 'web' },
      keys,
      nonce!,
    )
    expect(second.status).toBe(200)
    expect(second.body.token_type).toBe('DPoP')
    expect(second.headers.get('dpop-nonce')).toBe(nonce)

    // openid-client retries on use_dpop_nonce by itself, with the nonce the server sent
    const DPoP = oidc.getDPoPHandle(t.config.web, keys)
    const next = await oidc.refreshTokenGrant(t.config.web, second.body.refresh_token, undefined, {
      DPoP,
    })
    expect(next.token_type).toBe('dpop')
  })

  it('SEC-46: a stale nonce (two windows old) is refused with a fresh one', async () => {
    const keys = await oidc.randomDPoPKeyPair()
    const nonce = (await t.signIn('web', keys)).headers.get('dpop-nonce')!
    t.clock.advance(125_000)
    const username = `stale-${randomUUID().slice(0, 8)}`
    await t.server.auth!.signUp({ username, password: PASSWORD })
    const res = await t.post(
      '/auth/token',
      { username, password: PASSWORD, client_id: 'web' },
      keys,
      nonce,
    )
    expect(res.status).toBe(400)
    expect(res.body.error).toBe('use_dpop_nonce')
    const fresh = res.headers.get('dpop-nonce')
    expect(fresh).not.toBe(nonce)
    const retry = await t.post(
      '/auth/token',
      { username, password: PASSWORD, client_id: 'web' },
      keys,
      fresh!,
    )
    expect(retry.status).toBe(200)
  })
})
