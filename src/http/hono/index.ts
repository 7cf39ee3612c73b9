/**
 * @module The Hono 4 adapter: `app.use(parley)` sets `c.get('parley')`; `parley.requireSession()`,
 * `parley.requirePermission(...)` and `parley.requireRule(fn)` are guard middlewares.
 */
import type { Context, MiddlewareHandler, Next } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ParleyContext, ResolvedContext } from '../context.ts'
import { cookieConfig, sessionCookie } from '../cookies.ts'
import type { CookieOptions, ParleyHttpOptions } from '../options.ts'
import { PROBLEM_CONTENT_TYPE, type Problem } from '../problem.ts'
import { ParleyHttp, type RequestAccess, type Rule } from '../resolve.ts'

export type { AuthenticatedContext, ParleyContext } from '../context.ts'
export type { CookieOptions, ParleyHttpOptions } from '../options.ts'

/** The Hono environment the middleware provides: `new Hono<ParleyEnv>()`. */
export type ParleyEnv = { Variables: { parley: ParleyContext } }

declare module 'hono' {
  interface ContextVariableMap {
    /** The request's session, set by the Parley middleware. */
    parley: ParleyContext
  }
}

/** The middleware, with the guards and cookie helpers of the same configuration. */
export interface ParleyHono extends MiddlewareHandler<ParleyEnv> {
  readonly http: ParleyHttp<Context>
  /** 401 (ERR_UNAUTHENTICATED, or ERR_SESSION_ENDED with its reason) without a session. */
  requireSession(): MiddlewareHandler<ParleyEnv>
  /** 401 without a session, 403 ERR_FORBIDDEN unless the session holds every permission. */
  requirePermission(...permissions: string[]): MiddlewareHandler<ParleyEnv>
  /** 401 without a session, 403 ERR_FORBIDDEN unless the rule returns true. */
  requireRule(rule: Rule<Context>): MiddlewareHandler<ParleyEnv>
  setSessionCookie(c: Context, token: string): void
  clearSessionCookie(c: Context): void
}

function header(c: Context, name: string): string | undefined {
  return c.req.raw.headers.get(name) ?? undefined
}

const honoAccess: RequestAccess<Context> = Object.freeze({
  method: (c: Context) => c.req.method,
  header,
  encrypted: (c: Context) => c.req.url.startsWith('https:'),
  url: (c: Context) => c.req.url,
})

function problemResponse(c: Context, problem: Problem): Response {
  return c.body(JSON.stringify(problem), problem.status as ContentfulStatusCode, {
    'Content-Type': PROBLEM_CONTENT_TYPE,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  })
}

function hasCookie(c: Context, prefix: string): boolean {
  return c.res.headers.getSetCookie().some((v) => v.startsWith(prefix))
}

/** Adds a Set-Cookie for `name`, replacing an earlier one for the same name on this response. */
function putCookie(c: Context, name: string, setCookie: string): void {
  const prefix = `${name}=`
  const prev = c.res.headers.getSetCookie()
  if (prev.some((v) => v.startsWith(prefix))) {
    c.header('Set-Cookie', undefined)
    for (const v of prev) if (!v.startsWith(prefix)) c.header('Set-Cookie', v, { append: true })
  }
  c.header('Set-Cookie', setCookie, { append: true })
  c.header('Cache-Control', 'no-store')
}

/**
 * Parley for Hono 4.
 *
 * @example
 * const parley = parleyHono({ sessions, origins: ['https://app.example'] })
 * const app = new Hono<ParleyEnv>()
 * app.use(parley)
 * app.get('/me', parley.requireSession(), (c) => c.json(c.get('parley').session))
 */
export function parleyHono(options: ParleyHttpOptions): ParleyHono {
  const http = new ParleyHttp<Context>(options, honoAccess)
  const { name, clearHeader } = http.cookie
  const prefix = `${name}=`

  /** A handler may answer with a Response of its own: make sure it still carries what it must. */
  function ensure(c: Context, ctx: ResolvedContext): void {
    if (!(c.res.headers.get('Cache-Control') ?? '').includes('no-store')) {
      c.header('Cache-Control', 'no-store')
    }
    if (ctx.clearCookie && !hasCookie(c, prefix)) {
      c.header('Set-Cookie', clearHeader, { append: true })
    }
  }

  async function parley(c: Context<ParleyEnv>, next: Next): Promise<Response | undefined> {
    let ctx: ResolvedContext
    try {
      ctx = await http.resolve(c)
    } catch (err) {
      return problemResponse(c, http.failure(err))
    }
    c.set('parley', ctx)
    if (ctx.session === null && !ctx.clearCookie) {
      await next()
      return undefined
    }
    if (ctx.clearCookie) c.header('Set-Cookie', clearHeader, { append: true })
    c.header('Cache-Control', 'no-store')
    await next()
    ensure(c, ctx)
    return undefined
  }

  async function requireSession(c: Context<ParleyEnv>, next: Next) {
    const err = http.checkSession(c.get('parley'), c)
    if (err !== null) return problemResponse(c, http.failure(err))
    await next()
    return undefined
  }

  return Object.assign(parley, {
    http,
    requireSession: () => requireSession,
    requirePermission(...permissions: string[]): MiddlewareHandler<ParleyEnv> {
      return async (c, next) => {
        const err = http.checkPermissions(c.get('parley'), c, permissions)
        if (err !== null) return problemResponse(c, http.failure(err))
        await next()
        return undefined
      }
    },
    requireRule(rule: Rule<Context>): MiddlewareHandler<ParleyEnv> {
      return async (c, next) => {
        const err = await http.checkRule(c.get('parley'), c, rule)
        if (err !== null) return problemResponse(c, http.failure(err))
        await next()
        return undefined
      }
    },
    setSessionCookie(c: Context, token: string): void {
      putCookie(c, name, http.setCookieHeader(token))
    },
    clearSessionCookie(c: Context): void {
      putCookie(c, name, clearHeader)
    },
  })
}

/** Hands the session token to the browser, outside any middleware instance. */
export function setSessionCookie(c: Context, token: string, cookie?: CookieOptions): void {
  const config = cookieConfig(cookie)
  putCookie(c, config.name, sessionCookie(config, token))
}

/** Deletes the session cookie, outside any middleware instance. */
export function clearSessionCookie(c: Context, cookie?: CookieOptions): void {
  const config = cookieConfig(cookie)
  putCookie(c, config.name, config.clearHeader)
}
