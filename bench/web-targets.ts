/**
 * @module The web suite's own targets, each answering `GET /me` from a Cookie header: the two
 * baselines (bare node:http and bare Fastify: read the cookie, answer the same-sized JSON, no
 * session check) and Parley's HTTP adapters (node:http, Express, Hono, Fastify) in-process on
 * `Sessions` over the SQLite, memory or Redis store.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import type { Sessions } from '../src/core/sessions.ts'
import type { SessionStore } from '../src/core/store.ts'
import type { HttpLogger } from '../src/http/options.ts'
import { type Started, withTimeout } from './child.ts'
import { ME_PATH, type WebChildConfig } from './protocol.ts'
import {
  closer,
  inBatches,
  isMe,
  listen,
  meBody,
  meRequests,
  principalOf,
  readCookie,
  sendJson,
  UNAUTHENTICATED,
} from './web-common.ts'

/** Parley's default cookie name; the baselines read a cookie of that name too. */
const COOKIE = '__Host-parley'

/** The baselines' principal: any 17 characters from the cookie, as long as Parley's. */
const barePrincipal = (value: string) => `bench-user-${value.slice(-6)}`

/** Cookies that look like Parley's (`plys_<22>.<43>`), for the baselines. */
function fakeCookies(n: number): string[] {
  return Array.from(
    { length: n },
    () =>
      `${COOKIE}=plys_${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`,
  )
}

/** Baseline A: node:http reading the Cookie header and answering `{"principal":...}`. */
export async function startBareHttp(config: WebChildConfig): Promise<Started> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!isMe(req)) {
      res.writeHead(404).end()
      return
    }
    const value = readCookie(req.headers.cookie, COOKIE)
    if (value === undefined) sendJson(res, 401, UNAUTHENTICATED)
    else sendJson(res, 200, meBody(barePrincipal(value)))
  })
  const port = await listen(server)
  return { port, requests: meRequests(fakeCookies(config.tokens)), close: closer(server) }
}

/** Baseline B: the same in Fastify (a route returning the object, Fastify serialises it). */
export async function startBareFastify(config: WebChildConfig): Promise<Started> {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: false })
  app.get(ME_PATH, async (request, reply) => {
    const value = readCookie(request.headers.cookie, COOKIE)
    reply.header('cache-control', 'no-store')
    if (value === undefined) return reply.code(401).send({ code: 'ERR_UNAUTHENTICATED' })
    return { principal: barePrincipal(value) }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as import('node:net').AddressInfo).port
  return {
    port,
    requests: meRequests(fakeCookies(config.tokens)),
    close: async () => {
      await withTimeout(app.close(), 5000)
    },
  }
}

/** The store a Parley target runs on, from the end of its name. */
async function openStore(config: WebChildConfig): Promise<SessionStore> {
  let store: SessionStore
  if (config.target.endsWith('-sqlite')) {
    const { SqliteStore } = await import('../src/store/sqlite/index.ts')
    store = new SqliteStore({ path: join(config.dataDir, 'parley.db') })
  } else if (config.target.endsWith('-redis')) {
    const { RedisStore } = await import('../src/store/redis/index.ts')
    store = new RedisStore({ url: config.redisUrl, prefix: config.redisPrefix })
  } else {
    const { MemoryStore } = await import('../src/store/memory/index.ts')
    store = new MemoryStore()
  }
  await store.init()
  return store
}

/** Warnings of the adapters go to the child's stderr (kept by the parent for failures). */
const logger: HttpLogger = {
  warn: (obj, msg) => process.stderr.write(`${msg} ${JSON.stringify(obj)}\n`),
  error: (obj, msg) => process.stderr.write(`${msg} ${JSON.stringify(obj)}\n`),
}

/** The adapter's options: in-process on `sessions`, the default cookie. */
const optionsOf = (sessions: Sessions) => ({ sessions, origins: ['http://127.0.0.1'], logger })

/** Serves `GET /me` with one of Parley's adapters; returns the port and how to close it. */
type Serve = (sessions: Sessions) => Promise<{ port: number; close: () => Promise<void> }>

const serveNode: Serve = async (sessions) => {
  const { parleyNode } = await import('../src/http/node/index.ts')
  const parley = parleyNode(optionsOf(sessions))
  const server = createServer(async (req, res) => {
    if (!isMe(req)) {
      res.writeHead(404).end()
      return
    }
    try {
      const ctx = await parley.handle(req, res)
      if (ctx === undefined) return // already answered
      if (ctx.session === null) sendJson(res, 401, UNAUTHENTICATED)
      else sendJson(res, 200, meBody(ctx.session.principal))
    } catch {
      if (!res.headersSent) res.writeHead(500).end()
    }
  })
  return { port: await listen(server), close: closer(server) }
}

const serveExpress: Serve = async (sessions) => {
  const { default: express } = await import('express')
  const { parleyExpress } = await import('../src/http/express/index.ts')
  const app = express()
  app.disable('x-powered-by')
  app.use(parleyExpress(optionsOf(sessions)))
  app.get(ME_PATH, (req, res) => {
    const session = req.parley.session
    if (session === null) res.status(401).json({ code: 'ERR_UNAUTHENTICATED' })
    else res.set('cache-control', 'no-store').json({ principal: session.principal })
  })
  const server = createServer(app)
  return { port: await listen(server), close: closer(server) }
}

const serveHono: Serve = async (sessions) => {
  const { Hono } = await import('hono')
  const { createAdaptorServer } = await import('@hono/node-server')
  const { parleyHono } = await import('../src/http/hono/index.ts')
  const app = new Hono()
  app.use(parleyHono(optionsOf(sessions)))
  app.get(ME_PATH, (c) => {
    const session = c.get('parley').session
    if (session === null) return c.json({ code: 'ERR_UNAUTHENTICATED' }, 401)
    return c.json({ principal: session.principal }, 200, { 'cache-control': 'no-store' })
  })
  const server = createAdaptorServer({ fetch: app.fetch }) as import('node:http').Server
  return { port: await listen(server), close: closer(server) }
}

const serveFastify: Serve = async (sessions) => {
  const { default: Fastify } = await import('fastify')
  const { parleyFastify } = await import('../src/http/fastify/index.ts')
  const app = Fastify({ logger: false })
  await app.register(parleyFastify, optionsOf(sessions))
  app.get(ME_PATH, async (request, reply) => {
    const session = request.parley.session
    reply.header('cache-control', 'no-store')
    if (session === null) return reply.code(401).send({ code: 'ERR_UNAUTHENTICATED' })
    return { principal: session.principal }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as import('node:net').AddressInfo).port
  return {
    port,
    close: async () => {
      await withTimeout(app.close(), 5000)
    },
  }
}

const SERVE: Record<string, Serve> = {
  node: serveNode,
  express: serveExpress,
  hono: serveHono,
  fastify: serveFastify,
}

/**
 * Parley in-process: `Sessions` on the target's store, one session per principal created with
 * `Sessions.create` (its token is the cookie's value), then the adapter serving `GET /me`.
 */
export async function startParley(config: WebChildConfig): Promise<Started> {
  const { Sessions } = await import('../src/core/sessions.ts')
  const serve = SERVE[config.target.split('-')[0]!]
  if (serve === undefined) throw new Error(`no Parley adapter for ${config.target}`)
  const store = await openStore(config)
  try {
    const sessions = new Sessions({ store })
    // On the embedded store the adapter rows run as docs/http.md recommends: with the session cache,
    // fed by the audit log (an end in another process reaches it within 250 ms).
    if (store.kind === 'sqlite') await sessions.enableCache()
    const tokens = await inBatches(config.tokens, 50, async (i) => {
      const { token } = await sessions.create({ principal: principalOf(i) })
      return token
    })
    const served = await serve(sessions)
    return {
      port: served.port,
      requests: meRequests(tokens.map((token) => `${COOKIE}=${token}`)),
      close: async () => {
        await served.close()
        await sessions.close()
        await withTimeout(store.close(), 5000)
      },
    }
  } catch (err) {
    await withTimeout(store.close(), 2000).catch(() => {})
    throw err
  }
}
