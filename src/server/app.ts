/**
 * @module The standalone server: Fastify with the service API, health checks, OpenAPI and the
 * sweeper. Tested in-process with `inject()`.
 */
import type { IncomingMessage } from 'node:http'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from 'fastify'
import { Auth, type AuthOptions } from '../auth/auth.ts'
import type { UserStore } from '../auth/user-store.ts'
import { type Clock, systemClock } from '../core/clock.ts'
import { isParleyError } from '../core/errors.ts'
import type { SessionPolicy } from '../core/policy.ts'
import { Sessions } from '../core/sessions.ts'
import type { SessionStore } from '../core/store.ts'
import type { LiveStore } from '../live/live-store.ts'
import { DEFAULT_LIMITS } from '../live/protocol/limits.ts'
import { createLiveGateway, type LiveGateway } from '../live/server/index.ts'
import type { TokenService } from '../tokens/service.ts'
import { ApiKeyChecker, requireScope } from './api-keys.ts'
import { demoHandlers } from './live/demo-app.ts'
import { buildOpenApi } from './openapi.ts'
import { errorHandler, problemOf, sendProblem } from './problem.ts'
import { sessionRoutes } from './routes/sessions.ts'
import type { RouteDef } from './routes/types.ts'
import { revokedRoute } from './tokens/revoked-route.ts'
import { setupTokens, type TokenServerOptions } from './tokens/setup.ts'
import { webRoutes } from './web/routes.ts'

/** The pages and the /auth API (users, passwords, TOTP, "my sessions"). */
export interface WebServerOptions {
  users: UserStore
  /** The server secret: TOTP secrets are encrypted at rest with a key derived from it. */
  secret: string
  /** Origins allowed to post with the session cookie (SEC-24). */
  origins: string[]
  signUp?: boolean
  stepUpWindowMs?: number
  sameSite?: 'Lax' | 'Strict'
  /** Development only: a cookie without Secure and __Host-, for plain http off localhost. */
  insecureCookie?: boolean
  /** Password hashing cost and other Auth options (tests lower the cost). */
  password?: AuthOptions['password']
  limits?: AuthOptions['limits']
}

/** Live sessions at `/live` (the gateway runs the demo application: see docs/live.md). */
export interface LiveServerOptions {
  store: LiveStore
  /** Origins a browser may open a live connection from (the cookie credential needs one, SEC-26). */
  origins: string[]
  heartbeatMs?: number
  resumeWindowMs?: number
  /** Time from the upgrade to a valid hello (4002, SEC-47). */
  handshakeTimeoutMs?: number
  policy?: 'wait' | 'drop-oldest' | 'disconnect'
  maxConnectionsPerPrincipal?: number
  maxConnectionsPerAddress?: number
  /** Frames per second a client may send (burst: twice that). */
  rate?: number
  /** Serve the demo page at /live/demo (needs `web`). */
  demo?: boolean
}

export const VERSION = '0.1.0'

export interface BuildServerOptions {
  store: SessionStore
  clock?: Clock
  policy?: Partial<SessionPolicy>
  /** pino options or `false`; the `authorization` header and any `token` are always redacted. */
  logger?: FastifyServerOptions['logger']
  /** A pino logger of your own (configure `redact: REDACT` on it); wins over `logger`. */
  loggerInstance?: FastifyBaseLogger
  logRequests?: boolean
  bodyLimit?: number
  /** Proxies whose X-Forwarded-For to believe: false (default), a hop count, or their addresses. */
  trustProxy?: boolean | number | string[]
  apiKeyCacheMs?: number
  /**
   * TTL of the local session cache, for stores with a change feed (Redis); 0 (the default) turns
   * it off. When on, it is the revocation bound if a change notification is lost, and a cached
   * session may be accepted during a store outage until the outage is noticed.
   */
  sessionCacheMs?: number
  /** Run the sweeper every this many ms; 0 (the default here) leaves it to the caller. */
  sweepIntervalMs?: number
  /** Serve the pages and the /auth API; absent: the service API only. */
  web?: WebServerOptions
  /**
   * Issue access and refresh tokens: the JWKS, OAuth metadata, `/oauth/*`, `/auth/token` (with
   * `web`) and `GET /v1/tokens/revoked`; access tokens are accepted by the /auth routes. Absent: off.
   */
  tokens?: TokenServerOptions
  /** Serve live sessions at /live; absent: off. */
  live?: LiveServerOptions
}

export interface ParleyServer {
  app: FastifyInstance
  sessions: Sessions
  apiKeys: ApiKeyChecker
  /** Users and sign-in, when `web` is on. */
  auth: Auth | null
  /** Access and refresh tokens, when `tokens` is on. */
  tokens: TokenService | null
  /** The live gateway, when `live` is on. */
  live: LiveGateway | null
  /** Ends expired sessions now (what the timer does). */
  sweep(): Promise<{ ended: number; purged: number }>
}

export const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.dpop',
  '*.token',
  'token',
  '*.refresh_token',
  '*.access_token',
  '*.client_secret',
]

/**
 * Builds the server without listening.
 *
 * @example
 * const { app } = await buildServer({ store: new MemoryStore() })
 * const res = await app.inject({ method: 'GET', url: '/healthz' })
 */
export async function buildServer(options: BuildServerOptions): Promise<ParleyServer> {
  const clock = options.clock ?? systemClock
  const sessions = new Sessions({ store: options.store, clock, policy: options.policy })
  const apiKeys = new ApiKeyChecker(options.store, clock, options.apiKeyCacheMs ?? 5000)
  if ((options.sessionCacheMs ?? 0) > 0)
    await sessions.enableCache({ ttlMs: options.sessionCacheMs })
  const logger =
    options.logger === undefined || options.logger === false
      ? false
      : {
          ...(options.logger === true ? {} : options.logger),
          redact: { paths: REDACT, censor: '[redacted]' },
        }
  // `true` would believe the left-most X-Forwarded-For entry, which the client writes: one hop
  const trust = options.trustProxy === true ? 1 : (options.trustProxy ?? false)
  const trustProxy =
    typeof trust === 'number' ? (_address: string, hop: number) => hop < trust : trust
  const app = Fastify({
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance } : { logger }),
    bodyLimit: options.bodyLimit ?? 16_384,
    trustProxy,
    logController: new LogController({ disableRequestLogging: !options.logRequests }),
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 300 },
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: true,
        allErrors: false,
      },
    },
  })

  app.removeContentTypeParser('text/plain') // the API speaks JSON only: anything else is a 415
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler((_request, reply) => sendProblem(reply, problemOf('ERR_NOT_FOUND')))
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('cache-control', 'no-store')
    reply.header('x-content-type-options', 'nosniff')
    done()
  })

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    try {
      await options.store.ping()
      return { status: 'ready', store: options.store.kind }
    } catch (err) {
      if (isParleyError(err, 'ERR_STORE_UNAVAILABLE'))
        return sendProblem(reply, problemOf('ERR_STORE_UNAVAILABLE'))
      throw err
    }
  })
  const routes: RouteDef[] = [...sessionRoutes, ...(options.tokens ? [revokedRoute] : [])]
  const openapi = buildOpenApi(routes, VERSION)
  app.get('/openapi.json', async () => openapi)

  for (const def of routes) registerRoute(app, def, sessions, apiKeys)

  let auth: Auth | null = null
  // Before the web routes: its hook lets their guards accept access tokens.
  const tokens =
    options.tokens === undefined
      ? null
      : await setupTokens(app, options.tokens, {
          sessions,
          apiKeys,
          clock,
          trustProxy: (options.trustProxy ?? false) !== false,
          auth: () => auth,
        })
  if (options.web !== undefined) {
    const web = options.web
    await web.users.init()
    auth = new Auth({
      users: web.users,
      sessions,
      secret: web.secret,
      clock,
      allowSignUp: web.signUp ?? true,
      ...(web.stepUpWindowMs !== undefined ? { stepUpWindowMs: web.stepUpWindowMs } : {}),
      ...(web.password !== undefined ? { password: web.password } : {}),
      ...(web.limits !== undefined ? { limits: web.limits } : {}),
    })
    const cookie = {
      sameSite: web.sameSite ?? 'Lax',
      ...(web.insecureCookie ? { insecure: true } : {}),
    } as const
    await webRoutes(app, {
      auth,
      sessions,
      origins: web.origins,
      cookie,
      trustProxy: (options.trustProxy ?? false) !== false,
      liveDemo: options.live !== undefined && (options.live.demo ?? true),
    })
  }

  await tokens?.register()

  const live = options.live === undefined ? null : startLive(app, options, sessions, clock, tokens)

  let timer: NodeJS.Timeout | undefined
  const users = options.web?.users ?? null
  const sweep = async () => {
    const result = await sessions.sweep()
    if (options.live !== undefined) {
      const now = clock.now()
      const retention = sessions.policy.retentionMs
      const ended = await options.live.store.sweep(now, 1000, now - retention)
      result.ended += ended.length
    }
    // failure counters of attacker-chosen usernames and addresses must not pile up (SEC-31)
    if (users !== null) await users.purgeFailures(clock.now())
    return result
  }
  if ((options.sweepIntervalMs ?? 0) > 0) {
    let sweeping = false
    timer = setInterval(() => {
      if (sweeping) return // a slow sweep is never overlapped by the next one
      sweeping = true
      sweep()
        .then(
          (r) => (r.ended || r.purged) && app.log.info(r, 'sweep'),
          (err) =>
            app.log.warn({ code: (err as { code?: string }).code }, 'sweep failed; will retry'),
        )
        .finally(() => {
          sweeping = false
        })
    }, options.sweepIntervalMs)
    timer.unref()
  }
  app.addHook('preClose', async () => {
    // live clients are told to resume elsewhere, spread over a short window (server_draining)
    await live?.close({ drainMs: 1000 })
  })
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await sessions.close()
  })
  return { app, sessions, apiKeys, auth, tokens: tokens?.service ?? null, live, sweep }
}

function startLive(
  app: FastifyInstance,
  options: BuildServerOptions,
  sessions: Sessions,
  clock: Clock,
  tokens: { service: TokenService } | null,
): LiveGateway {
  const live = options.live as LiveServerOptions
  const rate = live.rate ?? 100
  const gateway = createLiveGateway({
    sessions,
    store: live.store,
    clock,
    origins: live.origins,
    cookie: {
      sameSite: options.web?.sameSite ?? 'Lax',
      ...(options.web?.insecureCookie ? { insecure: true } : {}),
    },
    ...(tokens !== null ? { verifier: tokens.service.verifier() } : {}),
    limits: {
      ...(live.heartbeatMs !== undefined ? { heartbeatMs: live.heartbeatMs } : {}),
      ...(live.resumeWindowMs !== undefined
        ? {
            resumeWindowMs: live.resumeWindowMs,
            // A longer window keeps unacknowledged messages as long; a shorter one never ages
            // out messages still queued for a connected client.
            replayMaxAgeMs: Math.max(live.resumeWindowMs, DEFAULT_LIMITS.replayMaxAgeMs),
          }
        : {}),
      ...(live.handshakeTimeoutMs !== undefined
        ? { handshakeTimeoutMs: live.handshakeTimeoutMs }
        : {}),
      maxFramesPerSecond: rate,
      frameBurst: rate * 2,
    },
    policy: live.policy ?? 'wait',
    ...(live.maxConnectionsPerPrincipal !== undefined
      ? { maxConnectionsPerPrincipal: live.maxConnectionsPerPrincipal }
      : {}),
    ...(live.maxConnectionsPerAddress !== undefined
      ? { maxConnectionsPerAddress: live.maxConnectionsPerAddress }
      : {}),
    addressOf: upgradeAddress(options.trustProxy ?? false),
    logger: app.log,
    // The demo is the application of `parley serve`; without it, messages are acknowledged and
    // calls answered `unknown_method` (embed the gateway to run your own: docs/live.md).
    ...(live.demo === false ? {} : demoHandlers),
  })
  gateway.attach(app.server, { path: '/live' })
  return gateway
}

function registerRoute(
  app: FastifyInstance,
  def: RouteDef,
  sessions: Sessions,
  apiKeys: ApiKeyChecker,
): void {
  app.route({
    method: def.method,
    url: def.url,
    schema: def.schema,
    handler: async (request, reply) => {
      let key = null
      if (def.scope !== null) {
        key = await apiKeys.check(request.headers.authorization)
        requireScope(key, def.scope)
      }
      return def.handler({
        request,
        reply,
        sessions,
        key,
        actor: key === null ? 'anonymous' : `api_key:${key.id}`,
      })
    },
  })
}

/**
 * The client address of a WebSocket upgrade under the same proxy trust as HTTP requests: the
 * socket's peer, then `X-Forwarded-For` from the right, as far as the trusted hops go. (Upgrades
 * do not pass through Fastify's router, so its `request.ip` is not there to ask.)
 */
export function upgradeAddress(
  trust: boolean | number | string[],
): (req: IncomingMessage) => string {
  const hops = trust === true ? 1 : trust
  return (req) => {
    const peer = req.socket.remoteAddress ?? ''
    if (hops === false || hops === 0) return peer
    const header = req.headers['x-forwarded-for']
    const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .reverse()
    const chain = [peer, ...forwarded] // nearest first
    if (typeof hops === 'number') return chain[Math.min(hops, chain.length - 1)] as string
    let i = 0
    while (i < chain.length - 1 && hops.includes(chain[i] as string)) i++
    return chain[i] as string
  }
}
