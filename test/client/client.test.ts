/**
 * @module `parley/client` in Node against an in-process server (tokens on, `app.inject()` as its
 * fetch, a manual clock shared with the client): sign-in, single-flight refresh, the retry after
 * ERR_TOKEN_EXPIRED, sign-out by the server, a store outage during refresh, sign-out, and the
 * cross-tab algorithm with Node's own Web Locks and BroadcastChannel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  MemoryStorage,
  ParleyClient,
  ParleyClientError,
  type ParleyClientOptions,
  type SignedOutEvent,
  type TokensEvent,
} from '../../src/client/index.ts'
import { ManualClock } from '../../src/core/clock.ts'
import { ACCESS_TTL_MS, PASSWORD, startTokenServer, type TokenServer } from './server.ts'

let server: TokenServer
beforeAll(async () => {
  server = await startTokenServer()
})
afterAll(async () => {
  await server?.close()
})

const REFRESH = 'POST /oauth/token'
const ME = 'GET /auth/me'

function newClient(options: Partial<ParleyClientOptions> = {}) {
  const client = new ParleyClient({
    baseUrl: server.origin,
    clientId: 'web',
    fetch: server.fetch,
    now: () => server.clock.now(),
    ...options,
  })
  const events = { tokens: [] as TokensEvent[], signedout: [] as SignedOutEvent[] }
  client.on('tokens', (e) => events.tokens.push(e))
  client.on('signedout', (e) => events.signedout.push(e))
  return { client, events }
}

async function signedIn(options: Partial<ParleyClientOptions> = {}) {
  const c = newClient(options)
  await c.client.signIn({ username: await server.createUser(), password: PASSWORD })
  return c
}

async function sessionIdOf(client: ParleyClient): Promise<string> {
  const res = await client.fetch('/auth/me')
  expect(res.status).toBe(200)
  return ((await res.json()) as { session: { id: string } }).session.id
}

describe('ParleyClient (Node, in-process server)', () => {
  it('signs in for a Bearer pair and calls /auth/me with it; the tokens persist in the given storage', async () => {
    const storage = new MemoryStorage()
    const { client, events } = await signedIn({ storage })
    expect(client.accessToken()).toMatch(/^ey/)
    expect(events.tokens).toEqual([
      {
        accessToken: client.accessToken(),
        expiresAt: server.clock.now() + ACCESS_TTL_MS,
        source: 'sign-in',
      },
    ])
    const res = await client.fetch('/auth/me')
    expect(res.status).toBe(200)
    expect(((await res.json()) as { session: { factors: string[] } }).session.factors).toContain(
      'password',
    )
    const stored = JSON.parse(storage.getItem('parley:web:tokens')!)
    expect(stored.refreshToken).toMatch(/^plyr_/)
    // a second client on the same storage starts signed in
    expect(
      new ParleyClient({ baseUrl: server.origin, clientId: 'web', storage }).accessToken(),
    ).toBe(client.accessToken())
  })

  it('sign-in failures come back as ParleyClientErrors with the server code', async () => {
    const { client, events } = newClient()
    const username = await server.createUser()
    const err = await client.signIn({ username, password: 'wrong password!' }).catch((e) => e)
    expect(err).toBeInstanceOf(ParleyClientError)
    expect(err).toMatchObject({ code: 'ERR_SIGN_IN_FAILED', status: 401 })
    expect(err.retryable).toBe(false)
    expect(client.accessToken()).toBeNull()
    expect(events.tokens).toEqual([])
  })

  it('single flight: ten concurrent fetches with a token about to expire make one refresh call', async () => {
    const { client, events } = await signedIn()
    const first = client.accessToken()
    server.clock.advance(ACCESS_TTL_MS - 20_000) // within the 30 s leeway, not expired
    const refreshes = server.count(REFRESH)
    const mes = server.count(ME)
    const responses = await Promise.all(Array.from({ length: 10 }, () => client.fetch('/auth/me')))
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(server.count(REFRESH) - refreshes).toBe(1)
    expect(server.count(ME) - mes).toBe(10)
    expect(client.accessToken()).not.toBe(first)
    expect(events.tokens.map((e) => e.source)).toEqual(['sign-in', 'refresh'])
  })

  it('single flight also when the token has already expired', async () => {
    const { client } = await signedIn()
    server.clock.advance(ACCESS_TTL_MS + 60_000)
    const refreshes = server.count(REFRESH)
    const responses = await Promise.all(Array.from({ length: 10 }, () => client.fetch('/auth/me')))
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(server.count(REFRESH) - refreshes).toBe(1)
  })

  it('a 401 ERR_TOKEN_EXPIRED (the client clock behind the server) refreshes and retries once', async () => {
    const behind = new ManualClock(server.clock.now())
    const { client } = await signedIn({ now: () => behind.now() })
    server.clock.advance(ACCESS_TTL_MS + 60_000) // the server: expired; the client: still fresh
    const refreshes = server.count(REFRESH)
    const mes = server.count(ME)
    const res = await client.fetch('/auth/me', { headers: { accept: 'application/json' } })
    expect(res.status).toBe(200)
    expect(server.count(REFRESH) - refreshes).toBe(1)
    expect(server.count(ME) - mes).toBe(2)
  })

  it('retries once only: a second ERR_TOKEN_EXPIRED is returned to the caller, still signed in', async () => {
    const storage = new MemoryStorage()
    await signedIn({ storage })
    const inner = server.fetch
    let mes = 0
    const { client: picky, events } = newClient({
      storage,
      fetch: async (input, init) => {
        if (new URL(String(input)).pathname !== '/auth/me') return inner(input, init)
        mes++
        return Response.json(
          { status: 401, code: 'ERR_TOKEN_EXPIRED' },
          { status: 401, headers: { 'content-type': 'application/problem+json' } },
        )
      },
    })
    const refreshes = server.count(REFRESH)
    const res = await picky.fetch('/auth/me')
    expect(res.status).toBe(401)
    expect(server.count(REFRESH) - refreshes).toBe(1)
    expect(((await res.json()) as { code: string }).code).toBe('ERR_TOKEN_EXPIRED') // body unread
    expect(mes).toBe(2)
    expect(picky.accessToken()).not.toBeNull()
    expect(events.signedout).toEqual([])
  })

  it('a session ended at the server: ERR_TOKEN_REVOKED clears the tokens and emits signedout with its reason', async () => {
    const storage = new MemoryStorage()
    const { client, events } = await signedIn({ storage })
    await server.sessions.end(await sessionIdOf(client), 'revoked')
    const res = await client.fetch('/auth/me')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'ERR_TOKEN_REVOKED', reason: 'revoked' })
    expect(events.signedout).toEqual([{ reason: 'revoked', code: 'ERR_TOKEN_REVOKED' }])
    expect(client.accessToken()).toBeNull()
    expect(storage.getItem('parley:web:tokens')).toBeNull()
    // signed out, the next request goes out without a token
    expect((await client.fetch('/auth/me')).status).toBe(401)
    expect(events.signedout).toHaveLength(1)
  })

  it('a refresh answered invalid_grant (session ended) signs out and throws', async () => {
    const { client, events } = await signedIn()
    await server.sessions.end(await sessionIdOf(client), 'principal_disabled')
    server.clock.advance(ACCESS_TTL_MS)
    const err = await client.fetch('/auth/me').catch((e) => e)
    expect(err).toBeInstanceOf(ParleyClientError)
    expect(err).toMatchObject({ status: 400, oauthError: 'invalid_grant' })
    expect(events.signedout).toEqual([{ reason: null, code: err.code }])
    expect(client.accessToken()).toBeNull()
  })

  it('a 503 during refresh is a retryable error and does not sign out; the next call refreshes', async () => {
    const { client, events } = await signedIn()
    server.clock.advance(ACCESS_TTL_MS + 1000)
    const before = client.accessToken()
    server.tokenStore.down = true
    try {
      const err = await client.fetch('/auth/me').catch((e) => e)
      expect(err).toBeInstanceOf(ParleyClientError)
      expect(err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503, retryable: true })
    } finally {
      server.tokenStore.down = false
    }
    expect(events.signedout).toEqual([])
    expect(client.accessToken()).toBe(before)
    expect((await client.fetch('/auth/me')).status).toBe(200)
    expect(client.accessToken()).not.toBe(before)
  })

  it('a 503 during an early refresh (token not yet expired) falls back to the current token', async () => {
    const { client, events } = await signedIn()
    server.clock.advance(ACCESS_TTL_MS - 10_000)
    const before = client.accessToken()
    server.tokenStore.down = true
    try {
      expect((await client.fetch('/auth/me')).status).toBe(200)
    } finally {
      server.tokenStore.down = false
    }
    expect(client.accessToken()).toBe(before)
    expect(events.signedout).toEqual([])
  })

  it('signOut revokes the session at the server, clears the tokens and emits signedout (logout)', async () => {
    const { client, events } = await signedIn()
    const id = await sessionIdOf(client)
    const token = client.accessToken()!
    expect(await client.signOut()).toEqual({ revoked: true })
    expect(events.signedout).toEqual([{ reason: 'logout', code: null }])
    expect(client.accessToken()).toBeNull()
    expect((await server.sessions.get(id)).state).toBe('ended')
    const res = await server.fetch(`${server.origin}/auth/me`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(res.status).toBe(401)
  })

  it('requests to another origin never carry the token', async () => {
    const seen: (string | null)[] = []
    const { client } = await signedIn({
      fetch: async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input))
        if (url.origin === server.origin) return server.fetch(input, init)
        seen.push(new Headers(init?.headers).get('authorization'))
        return new Response('ok')
      },
    })
    await client.fetch('https://elsewhere.example/api')
    expect(seen).toEqual([null])
  })

  it('an unsubscribed listener hears nothing; a throwing listener stops nothing', async () => {
    const { client } = newClient()
    const heard: string[] = []
    const off = client.on('tokens', () => heard.push('off'))
    off()
    client.on('tokens', () => {
      throw new Error('listener bug')
    })
    client.on('tokens', (e) => heard.push(e.source))
    const errors: unknown[] = []
    const onError = (err: unknown) => errors.push(err)
    process.on('uncaughtException', onError)
    try {
      await client.signIn({ username: await server.createUser(), password: PASSWORD })
      await new Promise((r) => setImmediate(r))
    } finally {
      process.off('uncaughtException', onError)
    }
    expect(heard).toEqual(['sign-in'])
    expect(errors).toHaveLength(1) // rethrown where the platform reports it
    expect(client.accessToken()).not.toBeNull()
  })
})

describe('cross-tab refresh in Node (its Web Locks and BroadcastChannel, one shared storage)', () => {
  it('two clients with expiring tokens: one refresh call; the other adopts its tokens', async () => {
    const storage = new MemoryStorage()
    const a = await signedIn({ storage, crossTab: true })
    const b = newClient({ storage, crossTab: true })
    try {
      expect(b.client.accessToken()).toBe(a.client.accessToken())
      server.clock.advance(ACCESS_TTL_MS)
      const refreshes = server.count(REFRESH)
      const [ra, rb] = await Promise.all([a.client.fetch('/auth/me'), b.client.fetch('/auth/me')])
      expect([ra.status, rb.status]).toEqual([200, 200])
      expect(server.count(REFRESH) - refreshes).toBe(1)
      expect(a.client.accessToken()).toBe(b.client.accessToken())
      const sources = [...a.events.tokens, ...b.events.tokens].map((e) => e.source).sort()
      expect(sources).toEqual(['other-tab', 'refresh', 'sign-in'])
    } finally {
      a.client.close()
      b.client.close()
    }
  })

  it('signing out in one signs out the other (BroadcastChannel)', async () => {
    const storage = new MemoryStorage()
    const a = await signedIn({ storage, crossTab: true })
    const b = newClient({ storage, crossTab: true })
    try {
      await a.client.signOut()
      await expect.poll(() => b.events.signedout).toEqual([{ reason: 'logout', code: null }])
      expect(b.client.accessToken()).toBeNull()
    } finally {
      a.client.close()
      b.client.close()
    }
  })
})
