/**
 * @module The web suite's comparisons (no targets): other session libraries answering the same
 * `GET /me`. express-session (MemoryStore, or connect-redis on node-redis), iron-session (a sealed
 * cookie) and better-auth (node:sqlite, `auth.api.getSession` per request, cookie cache off or on).
 * Each one's sessions are signed in through its own API before the load starts.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import { join } from 'node:path'
import type { Started } from './child.ts'
import type { WebChildConfig } from './protocol.ts'
import {
  closer,
  cookieHeader,
  inBatches,
  isMe,
  listen,
  loginIndex,
  meBody,
  meRequests,
  principalOf,
  sendJson,
  signInOverHttp,
  UNAUTHENTICATED,
} from './web-common.ts'

/** What the comparisons keep in their session. */
interface BenchSessionData {
  principal?: string
}

/**
 * express-session with its defaults (`resave: false`, `saveUninitialized: false`): MemoryStore, or
 * connect-redis v10 on a node-redis client under the run's own key prefix.
 */
export async function startExpressSession(config: WebChildConfig): Promise<Started> {
  const { default: express } = await import('express')
  const { default: session } = await import('express-session')
  let store: import('express-session').Store | undefined
  let closeRedis = async () => {}
  if (config.target === 'express-session-redis') {
    const { createClient } = await import('redis')
    const { RedisStore } = await import('connect-redis')
    const client = createClient({ url: config.redisUrl })
    client.on('error', () => {})
    await client.connect()
    closeRedis = () => client.close()
    store = new RedisStore({ client, prefix: config.redisPrefix })
  }
  const app = express()
  app.disable('x-powered-by')
  app.use(
    session({
      secret: randomBytes(32).toString('hex'),
      resave: false,
      saveUninitialized: false,
      ...(store === undefined ? {} : { store }),
    }),
  )
  app.post('/login', (req, res) => {
    ;(req.session as BenchSessionData).principal = principalOf(loginIndex(req.url))
    res.status(204).end()
  })
  app.get('/me', (req, res) => {
    const principal = (req.session as BenchSessionData).principal
    if (principal === undefined) res.status(401).json({ code: 'ERR_UNAUTHENTICATED' })
    else res.set('cache-control', 'no-store').json({ principal })
  })
  const server = createServer(app)
  try {
    const port = await listen(server)
    const cookies = await signInOverHttp(port, config.tokens)
    return { port, requests: meRequests(cookies), close: closer(server, closeRedis) }
  } catch (err) {
    await closer(server, closeRedis)()
    throw err
  }
}

/** iron-session v9 on node:http: the session sealed into the cookie, unsealed on each request. */
export async function startIronSession(config: WebChildConfig): Promise<Started> {
  const { getIronSession } = await import('iron-session')
  const options = {
    cookieName: 'bench-iron',
    password: randomBytes(32).toString('hex'),
    cookieOptions: { secure: false },
  }
  const server = createServer(async (req, res) => {
    try {
      const session = await getIronSession<BenchSessionData>(req, res, options)
      if (req.method === 'POST' && req.url?.startsWith('/login?')) {
        session.principal = principalOf(loginIndex(req.url))
        await session.save()
        res.writeHead(204).end()
      } else if (!isMe(req)) {
        res.writeHead(404).end()
      } else if (session.principal === undefined) {
        sendJson(res, 401, UNAUTHENTICATED)
      } else {
        sendJson(res, 200, meBody(session.principal))
      }
    } catch {
      if (!res.headersSent) res.writeHead(500).end()
    }
  })
  try {
    const port = await listen(server)
    const cookies = await signInOverHttp(port, config.tokens)
    return { port, requests: meRequests(cookies), close: closer(server) }
  } catch (err) {
    await closer(server)()
    throw err
  }
}

/** A cheap password hash: signing in is not what is measured, and scrypt × 1000 takes a minute. */
const sha256 = (password: string) => createHash('sha256').update(password).digest('hex')

/**
 * better-auth on node:sqlite (`new DatabaseSync(file)` as its database, migrated with
 * `getMigrations`), users signed up with `auth.api.signUpEmail`, and `auth.api.getSession` on each
 * request; with `cookieCache` the session also rides in a signed `session_data` cookie.
 */
export async function startBetterAuth(config: WebChildConfig): Promise<Started> {
  const { DatabaseSync } = await import('node:sqlite')
  const { betterAuth } = await import('better-auth')
  const { getMigrations } = await import('better-auth/db/migration')
  const db = new DatabaseSync(join(config.dataDir, 'better-auth.db'))
  try {
    const auth = betterAuth({
      database: db,
      baseURL: 'http://127.0.0.1:3000',
      secret: randomBytes(32).toString('hex'),
      logger: { disabled: true },
      telemetry: { enabled: false },
      emailAndPassword: {
        enabled: true,
        password: {
          hash: async (password) => sha256(password),
          verify: async ({ hash, password }) =>
            timingSafeEqual(Buffer.from(hash), Buffer.from(sha256(password))),
        },
      },
      ...(config.target === 'better-auth-cache'
        ? { session: { cookieCache: { enabled: true, maxAge: 300 } } }
        : {}),
    })
    const { runMigrations } = await getMigrations(auth.options)
    await runMigrations()
    const cookies = await inBatches(config.tokens, 50, async (i) => {
      const { headers } = await auth.api.signUpEmail({
        body: {
          email: `${principalOf(i)}@bench.test`,
          password: `password-${i}-${randomBytes(8).toString('hex')}`,
          name: principalOf(i),
        },
        returnHeaders: true,
      })
      return cookieHeader(headers.getSetCookie())
    })
    const server = createServer(async (req, res) => {
      if (!isMe(req)) {
        res.writeHead(404).end()
        return
      }
      try {
        const headers = new Headers()
        if (req.headers.cookie !== undefined) headers.set('cookie', req.headers.cookie)
        const found = await auth.api.getSession({ headers })
        if (found === null) sendJson(res, 401, UNAUTHENTICATED)
        else sendJson(res, 200, meBody(found.user.name))
      } catch {
        if (!res.headersSent) res.writeHead(500).end()
      }
    })
    const port = await listen(server)
    return {
      port,
      requests: meRequests(cookies),
      close: closer(server, async () => db.close()),
    }
  } catch (err) {
    db.close()
    throw err
  }
}
