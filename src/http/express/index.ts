/**
 * @module The Express 5 adapter: `app.use(parley)` sets `req.parley`; `parley.requireSession()`,
 * `parley.requirePermission(...)` and `parley.requireRule(fn)` are guard middlewares.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { ParleyContext } from '../context.ts'
import { cookieConfig, sessionCookie } from '../cookies.ts'
import { applyContext, nodeAccess, putCookie, sendProblem } from '../node/response.ts'
import type { CookieOptions, ParleyHttpOptions } from '../options.ts'
import { ParleyHttp, type Rule } from '../resolve.ts'

export type { AuthenticatedContext, ParleyContext } from '../context.ts'
export type { CookieOptions, ParleyHttpOptions } from '../options.ts'

declare global {
  namespace Express {
    interface Request {
      /** The request's session, set by the Parley middleware. */
      parley: ParleyContext
    }
  }
}

/** The middleware, with the guards and cookie helpers of the same configuration. */
export interface ParleyExpress extends RequestHandler {
  readonly http: ParleyHttp<Request>
  /** 401 (ERR_UNAUTHENTICATED, or ERR_SESSION_ENDED with its reason) without a session. */
  requireSession(): RequestHandler
  /** 401 without a session, 403 ERR_FORBIDDEN unless the session holds every permission. */
  requirePermission(...permissions: string[]): RequestHandler
  /** 401 without a session, 403 ERR_FORBIDDEN unless the rule returns true. */
  requireRule(rule: Rule<Request>): RequestHandler
  setSessionCookie(res: Response, token: string): void
  clearSessionCookie(res: Response): void
}

/**
 * Parley for Express 5.
 *
 * @example
 * const parley = parleyExpress({ sessions, origins: ['https://app.example'] })
 * app.use(parley)
 * app.get('/me', parley.requireSession(), (req, res) => res.json(req.parley.session))
 */
export function parleyExpress(options: ParleyHttpOptions): ParleyExpress {
  const http = new ParleyHttp<Request>(options, nodeAccess)
  const { name, clearHeader } = http.cookie

  async function parley(req: Request, res: Response, next: NextFunction): Promise<void> {
    let ctx: Awaited<ReturnType<typeof http.resolve>>
    try {
      ctx = await http.resolve(req)
    } catch (err) {
      sendProblem(res, http.failure(err))
      return
    }
    req.parley = ctx
    applyContext(res, ctx, name, clearHeader)
    next()
  }

  function requireSession(req: Request, res: Response, next: NextFunction): void {
    const err = http.checkSession(req.parley, req)
    if (err === null) next()
    else sendProblem(res, http.failure(err))
  }

  return Object.assign(parley, {
    http,
    requireSession: () => requireSession,
    requirePermission(...permissions: string[]): RequestHandler {
      return (req, res, next) => {
        const err = http.checkPermissions(req.parley, req, permissions)
        if (err === null) next()
        else sendProblem(res, http.failure(err))
      }
    },
    requireRule(rule: Rule<Request>): RequestHandler {
      return async (req, res, next) => {
        const err = await http.checkRule(req.parley, req, rule)
        if (err === null) next()
        else sendProblem(res, http.failure(err))
      }
    },
    setSessionCookie(res: Response, token: string): void {
      putCookie(res, name, http.setCookieHeader(token))
    },
    clearSessionCookie(res: Response): void {
      putCookie(res, name, clearHeader)
    },
  })
}

/** Hands the session token to the browser, outside any middleware instance. */
export function setSessionCookie(res: Response, token: string, cookie?: CookieOptions): void {
  const config = cookieConfig(cookie)
  putCookie(res, config.name, sessionCookie(config, token))
}

/** Deletes the session cookie, outside any middleware instance. */
export function clearSessionCookie(res: Response, cookie?: CookieOptions): void {
  const config = cookieConfig(cookie)
  putCookie(res, config.name, config.clearHeader)
}
