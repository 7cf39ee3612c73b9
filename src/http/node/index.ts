/**
 * @module The node:http adapter: `parleyNode(options).handle(req, res)` resolves the request's
 * session (or answers the refusal itself), plus guards and cookie helpers for plain handlers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthenticatedContext, ParleyContext } from '../context.ts'
import { cookieConfig, sessionCookie } from '../cookies.ts'
import type { CookieOptions, ParleyHttpOptions } from '../options.ts'
import { ParleyHttp, type Rule } from '../resolve.ts'
import { applyContext, nodeAccess, putCookie, sendProblem } from './response.ts'

export type { AuthenticatedContext, ParleyContext } from '../context.ts'
export type { CookieOptions, ParleyHttpOptions } from '../options.ts'

const contexts = new WeakMap<IncomingMessage, ParleyContext>()

/** The context `handle` attached to a request, if it ran. */
export function getParley(req: IncomingMessage): ParleyContext | undefined {
  return contexts.get(req)
}

export interface ParleyNode {
  /** The framework-neutral core (cookie settings, validator, diagnostics). */
  readonly http: ParleyHttp<IncomingMessage>
  /**
   * Resolves the request's session. Undefined means it already answered: ERR_CSRF 403, a refused
   * Bearer token 401, or ERR_STORE_UNAVAILABLE 503.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<ParleyContext | undefined>
  /** True when the request has a session; otherwise it answers 401 and returns false. */
  requireSession(ctx: ParleyContext | undefined, res: ServerResponse): ctx is AuthenticatedContext
  /** True when the session holds every permission; otherwise it answers 401 or 403. */
  requirePermission(
    ctx: ParleyContext | undefined,
    res: ServerResponse,
    ...permissions: string[]
  ): ctx is AuthenticatedContext
  /** True when the rule passes; otherwise it answers 401 or 403. `request` is `res.req`. */
  requireRule(
    ctx: ParleyContext | undefined,
    res: ServerResponse,
    rule: Rule<IncomingMessage>,
  ): Promise<boolean>
  /** Hands the session token to the browser in the session cookie. */
  setSessionCookie(res: ServerResponse, token: string): void
  /** Deletes the session cookie (same name, path and attributes, Max-Age=0). */
  clearSessionCookie(res: ServerResponse): void
}

/**
 * Parley for plain node:http.
 *
 * @example
 * const parley = parleyNode({ sessions, origins: ['https://app.example'] })
 * createServer(async (req, res) => {
 *   const ctx = await parley.handle(req, res)
 *   if (ctx === undefined) return // answered
 *   if (req.url === '/me' && parley.requireSession(ctx, res)) res.end(ctx.session.principal)
 * })
 */
export function parleyNode(options: ParleyHttpOptions): ParleyNode {
  const http = new ParleyHttp<IncomingMessage>(options, nodeAccess)
  const { name, clearHeader } = http.cookie
  return {
    http,
    async handle(req, res) {
      let ctx: Awaited<ReturnType<typeof http.resolve>>
      try {
        ctx = await http.resolve(req)
      } catch (err) {
        sendProblem(res, http.failure(err))
        return undefined
      }
      contexts.set(req, ctx)
      applyContext(res, ctx, name, clearHeader)
      return ctx
    },
    requireSession(ctx, res): ctx is AuthenticatedContext {
      const err = http.checkSession(ctx, res.req)
      if (err === null) return true
      sendProblem(res, http.failure(err))
      return false
    },
    requirePermission(ctx, res, ...permissions): ctx is AuthenticatedContext {
      const err = http.checkPermissions(ctx, res.req, permissions)
      if (err === null) return true
      sendProblem(res, http.failure(err))
      return false
    },
    async requireRule(ctx, res, rule) {
      const err = await http.checkRule(ctx, res.req, rule)
      if (err === null) return true
      sendProblem(res, http.failure(err))
      return false
    },
    setSessionCookie(res, token) {
      putCookie(res, name, http.setCookieHeader(token))
    },
    clearSessionCookie(res) {
      putCookie(res, name, clearHeader)
    },
  }
}

/**
 * Hands the session token to the browser, outside any adapter instance (`cookie` as in the
 * options; default `__Host-parley`).
 *
 * @example
 * setSessionCookie(res, created.token)
 */
export function setSessionCookie(res: ServerResponse, token: string, cookie?: CookieOptions): void {
  const config = cookieConfig(cookie)
  putCookie(res, config.name, sessionCookie(config, token))
}

/** Deletes the session cookie, outside any adapter instance. */
export function clearSessionCookie(res: ServerResponse, cookie?: CookieOptions): void {
  const config = cookieConfig(cookie)
  putCookie(res, config.name, config.clearHeader)
}
