/**
 * @module Access tokens at the server's own resources: a preHandler that lets the web scope's
 * routes (`GET /auth/me` and the other guarded /auth routes) accept `Authorization: Bearer <jwt>`
 * and `DPoP <jwt>` through the HTTP layer's verifier path. Cookies are left to the web scope.
 */
import type { TLSSocket } from 'node:tls'
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { Sessions } from '../../core/sessions.ts'
import type { AccessTokenVerifier, DpopProofChecker, HttpLogger } from '../../http/options.ts'
import { accessToken, ParleyHttp, type RequestAccess } from '../../http/resolve.ts'
import { sendProblem } from '../problem.ts'
import { DPOP_DEFAULTS } from './dpop.ts'

const fastifyAccess: RequestAccess<FastifyRequest> = Object.freeze({
  method: (request: FastifyRequest) => request.method,
  header: (request: FastifyRequest, name: string) => {
    const value = request.headers[name]
    return typeof value === 'string' ? value : undefined
  },
  encrypted: (request: FastifyRequest) =>
    (request.raw.socket as TLSSocket | null)?.encrypted === true,
  url: (request: FastifyRequest) => request.url,
})

export interface AccessTokenHookOptions {
  sessions: Sessions
  verifier: AccessTokenVerifier
  dpop: DpopProofChecker
  trustProxy?: boolean
  /** Origins of cookie requests (unused here: cookies stay with the web scope; it only must not be empty). */
  origins: string[]
  /** Where unexpected failures are logged (never a token). */
  logger?: HttpLogger
}

/**
 * A root-level preHandler: on a route that has `request.parley` (the web scope) and no session yet,
 * an access token in `Authorization` is resolved; a bad one is answered 401 with
 * `WWW-Authenticate` (RFC 6750 sec. 3, RFC 9449 sec. 7.1). Other routes are not touched.
 *
 * @example
 * app.addHook('preHandler', accessTokenHook({ sessions, verifier, dpop }))
 */
export function accessTokenHook(options: AccessTokenHookOptions): preHandlerAsyncHookHandler {
  const http = new ParleyHttp<FastifyRequest>(
    {
      sessions: options.sessions,
      verifier: options.verifier,
      dpop: options.dpop,
      trustProxy: options.trustProxy ?? false,
      touch: false,
      origins: options.origins,
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
    },
    fastifyAccess,
  )
  const algs = DPOP_DEFAULTS.algorithms.join(' ')
  return async function accessTokens(request: FastifyRequest, reply: FastifyReply) {
    const current = (request as { parley?: { session: unknown } | null }).parley
    if (current == null || current.session !== null) return undefined
    const header = request.headers.authorization
    const presented = typeof header === 'string' ? accessToken(header) : null
    if (presented === null) return undefined
    try {
      request.parley = await http.resolve(request)
      reply.header('cache-control', 'no-store')
      return undefined
    } catch (err) {
      const problem = http.failure(err)
      if (problem.status === 401) {
        const dpop = problem.code === 'ERR_DPOP_INVALID' || presented.scheme === 'DPoP'
        const error = problem.code === 'ERR_DPOP_INVALID' ? 'invalid_dpop_proof' : 'invalid_token'
        reply.header(
          'www-authenticate',
          dpop
            ? `DPoP realm="parley", error="${error}", algs="${algs}"`
            : `Bearer realm="parley", error="${error}"`,
        )
      }
      return sendProblem(reply, problem)
    }
  }
}
