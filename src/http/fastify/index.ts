/**
 * @module The Fastify 5 adapter: a plugin that sets `request.parley` in an onRequest hook and
 * exposes `fastify.parley.requireSession()` and the other guards as preHandler hooks. It is not
 * encapsulated (as with fastify-plugin), so the decorations reach the routes of its parent.
 */

import type { TLSSocket } from 'node:tls'
import type {
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify'
import type { ParleyContext, ResolvedContext } from '../context.ts'
import { cookieConfig, sessionCookie } from '../cookies.ts'
import type { CookieOptions, ParleyHttpOptions } from '../options.ts'
import { PROBLEM_CONTENT_TYPE, type Problem } from '../problem.ts'
import { ParleyHttp, type RequestAccess, type Rule } from '../resolve.ts'

export type { AuthenticatedContext, ParleyContext } from '../context.ts'
export type { CookieOptions, ParleyHttpOptions } from '../options.ts'

/** The guards and cookie helpers, as `fastify.parley`. */
export interface ParleyFastify {
  readonly http: ParleyHttp<FastifyRequest>
  /** 401 (ERR_UNAUTHENTICATED, or ERR_SESSION_ENDED with its reason) without a session. */
  requireSession(): preHandlerAsyncHookHandler
  /** 401 without a session, 403 ERR_FORBIDDEN unless the session holds every permission. */
  requirePermission(...permissions: string[]): preHandlerAsyncHookHandler
  /** 401 without a session, 403 ERR_FORBIDDEN unless the rule returns true. */
  requireRule(rule: Rule<FastifyRequest>): preHandlerAsyncHookHandler
  setSessionCookie(reply: FastifyReply, token: string): void
  clearSessionCookie(reply: FastifyReply): void
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's session, set by the Parley plugin. */
    parley: ParleyContext
  }
  interface FastifyInstance {
    parley: ParleyFastify
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return typeof value === 'string' ? value : undefined
}

const fastifyAccess: RequestAccess<FastifyRequest> = Object.freeze({
  method: (request: FastifyRequest) => request.method,
  header,
  encrypted: (request: FastifyRequest) =>
    (request.raw.socket as TLSSocket | null)?.encrypted === true,
  url: (request: FastifyRequest) => request.url,
})

function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply
    .code(problem.status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(JSON.stringify(problem))
}

/** Adds a Set-Cookie for `name`, replacing an earlier one for the same name on this reply. */
function putCookie(reply: FastifyReply, name: string, setCookie: string): void {
  const prev = reply.getHeader('set-cookie')
  if (prev !== undefined) {
    const prefix = `${name}=`
    const kept = (Array.isArray(prev) ? prev : [String(prev)]).filter((c) => !c.startsWith(prefix))
    reply.removeHeader('set-cookie')
    for (const c of kept) reply.header('set-cookie', c)
  }
  reply.header('set-cookie', setCookie)
  reply.header('cache-control', 'no-store')
}

const plugin: FastifyPluginCallback<ParleyHttpOptions> = (fastify, options, done) => {
  let http: ParleyHttp<FastifyRequest>
  try {
    http = new ParleyHttp<FastifyRequest>(options, fastifyAccess)
  } catch (err) {
    done(err as Error)
    return
  }
  const { name, clearHeader } = http.cookie

  async function onRequest(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    let ctx: ResolvedContext
    try {
      ctx = await http.resolve(request)
    } catch (err) {
      return sendProblem(reply, http.failure(err))
    }
    request.parley = ctx
    if (ctx.clearCookie) putCookie(reply, name, clearHeader)
    else if (ctx.session !== null) reply.header('cache-control', 'no-store')
    return undefined
  }

  async function requireSession(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const err = http.checkSession(request.parley, request)
    return err === null ? undefined : sendProblem(reply, http.failure(err))
  }

  const api: ParleyFastify = {
    http,
    requireSession: () => requireSession,
    requirePermission: (...permissions) =>
      async function requirePermission(request, reply) {
        const err = http.checkPermissions(request.parley, request, permissions)
        return err === null ? undefined : sendProblem(reply, http.failure(err))
      },
    requireRule: (rule) =>
      async function requireRule(request, reply) {
        const err = await http.checkRule(request.parley, request, rule)
        return err === null ? undefined : sendProblem(reply, http.failure(err))
      },
    setSessionCookie(reply, token) {
      putCookie(reply, name, http.setCookieHeader(token))
    },
    clearSessionCookie(reply) {
      putCookie(reply, name, clearHeader)
    },
  }
  fastify.decorateRequest<ParleyContext | null>('parley', null)
  fastify.decorate('parley', api)
  fastify.addHook('onRequest', onRequest)
  done()
}

const meta = plugin as unknown as Record<symbol, unknown>
meta[Symbol.for('skip-override')] = true // like fastify-plugin: no encapsulation
meta[Symbol.for('fastify.display-name')] = 'parley'

/**
 * Parley for Fastify 5.
 *
 * @example
 * await app.register(parleyFastify, { sessions, origins: ['https://app.example'] })
 * app.get('/me', { preHandler: app.parley.requireSession() }, (request) => request.parley.session)
 */
export const parleyFastify: FastifyPluginCallback<ParleyHttpOptions> = plugin

/** Hands the session token to the browser, outside the plugin (`cookie` as in its options). */
export function setSessionCookie(reply: FastifyReply, token: string, cookie?: CookieOptions): void {
  const config = cookieConfig(cookie)
  putCookie(reply, config.name, sessionCookie(config, token))
}

/** Deletes the session cookie, outside the plugin. */
export function clearSessionCookie(reply: FastifyReply, cookie?: CookieOptions): void {
  const config = cookieConfig(cookie)
  putCookie(reply, config.name, config.clearHeader)
}
