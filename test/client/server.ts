/**
 * @module An in-process Parley server with the pages, the /auth API and tokens on, a manual
 * clock, a token store that can be taken down, a count of requests by route, and a `fetch` that
 * goes through `app.inject()` (no socket) for the Node tests of `parley/client`.
 */
import type { FastifyInstance } from 'fastify'
import { ManualClock } from '../../src/core/clock.ts'
import { storeUnavailable } from '../../src/core/errors.ts'
import { buildServer } from '../../src/server/app.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'
import type { TokenStore } from '../../src/tokens/token-store.ts'
import { freePort, SECRET } from '../helpers/web-server.ts'

export const PASSWORD = 'correct horse battery staple'
export const ACCESS_TTL_MS = 5 * 60_000

/** A token store whose calls fail with ERR_STORE_UNAVAILABLE while `down` is set. */
function flaky(inner: TokenStore): TokenStore & { down: boolean } {
  const state = { down: false }
  return new Proxy(inner, {
    get(target, name, receiver) {
      if (name === 'down') return state.down
      const value = Reflect.get(target, name, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) =>
        state.down
          ? Promise.reject(storeUnavailable(new Error('connection refused')))
          : value.apply(target, args)
    },
    set(target, name, value, receiver) {
      if (name !== 'down') return Reflect.set(target, name, value, receiver)
      state.down = value === true
      return true
    },
  }) as TokenStore & { down: boolean }
}

/** A `fetch` answered by `app.inject()`. */
function injectFetch(app: FastifyInstance, origin: string) {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const source = new Request(input instanceof Request ? input : new URL(input, origin), init)
    const body = source.body === null ? undefined : Buffer.from(await source.arrayBuffer())
    const headers: Record<string, string> = {}
    source.headers.forEach((value, name) => {
      headers[name] = value
    })
    const url = new URL(source.url)
    const res = await app.inject({
      method: source.method as 'GET',
      url: url.pathname + url.search,
      headers: { host: url.host, ...headers },
      ...(body !== undefined ? { payload: body } : {}),
    })
    const out = new Headers()
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue
      for (const v of Array.isArray(value) ? value : [value]) out.append(name, String(v))
    }
    const empty = res.statusCode === 204 || res.statusCode === 304 || res.rawPayload.length === 0
    return new Response(empty ? null : res.rawPayload, { status: res.statusCode, headers: out })
  }
}

/**
 * Builds the server. With `listen`, on a free port of 127.0.0.1 (addressed as `localhost`, a
 * secure context for Web Locks); `setup` may add routes and hooks before it starts.
 */
export async function startTokenServer(
  options: { listen?: boolean; setup?: (app: FastifyInstance) => void } = {},
) {
  const store = new MemoryStore()
  await store.init()
  const tokenStore = flaky(store.tokens())
  const clock = new ManualClock(Date.UTC(2026, 10, 29, 12, 0, 0))
  const port = options.listen ? await freePort() : 3000
  const origin = `http://localhost:${port}`
  const server = await buildServer({
    store,
    clock,
    policy: { maxSessionsPerPrincipal: 0 },
    web: {
      users: store.users(),
      secret: SECRET,
      origins: [origin],
      password: { memoryKiB: 1024, passes: 1 },
    },
    tokens: {
      secret: SECRET,
      issuer: origin,
      clients: [{ id: 'web' }],
      store: tokenStore,
      accessTtlMs: ACCESS_TTL_MS,
    },
  })
  /** Requests by `METHOD /path`, as they reached the server. */
  const hits = new Map<string, number>()
  server.app.addHook('onRequest', async (request) => {
    const key = `${request.method} ${request.url.split('?')[0]}`
    hits.set(key, (hits.get(key) ?? 0) + 1)
  })
  options.setup?.(server.app)
  if (options.listen) await server.app.listen({ host: '127.0.0.1', port })
  let n = 0
  return {
    ...server,
    store,
    tokenStore,
    clock,
    origin,
    fetch: injectFetch(server.app, origin),
    count: (key: string) => hits.get(key) ?? 0,
    /** A new user who can sign in with {@link PASSWORD}. */
    async createUser(): Promise<string> {
      const username = `client${++n}`
      await server.auth!.signUp({ username, password: PASSWORD })
      return username
    },
    async close() {
      await server.app.close()
      await store.close()
    },
  }
}

export type TokenServer = Awaited<ReturnType<typeof startTokenServer>>
