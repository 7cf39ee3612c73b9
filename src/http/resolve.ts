/**
 * @module Request -> session, the hot path of every adapter: read the credential (Bearer header or
 * the session cookie, never the URL: SEC-22), check CSRF for unsafe cookie requests (SEC-24),
 * validate, and say what the response must carry. Knows no framework: an adapter hands it a
 * {@link RequestAccess} of plain functions for its request type.
 */
import { type Clock, systemClock } from '../core/clock.ts'
import { isParleyError, ParleyError } from '../core/errors.ts'
import type { EndReason, Session } from '../core/session.ts'
import { TOKEN_PREFIXES } from '../core/token.ts'
import { type AccessTokenClaims, ANONYMOUS, REFUSED_COOKIE, ResolvedContext } from './context.ts'
import { type CookieConfig, readSessionToken, resolveCookie, sessionCookie } from './cookies.ts'
import { checkCsrf, csrfError, isSafeMethod, originSet } from './csrf.ts'
import { Diagnostics, isLocalHost } from './diagnostics.ts'
import type { AccessTokenVerifier, DpopProofChecker, ParleyHttpOptions } from './options.ts'
import { type Problem, toProblem } from './problem.ts'
import { RemoteValidator } from './remote.ts'
import { LocalValidator, type SessionValidator } from './validator.ts'

/** How the core reads a request of one framework: plain functions, set once per adapter. */
export interface RequestAccess<Req> {
  method(req: Req): string
  /** A request header by its lower-case name; undefined when absent. */
  header(req: Req, name: string): string | undefined
  /** True when the request came over TLS to this process. */
  encrypted(req: Req): boolean
  /**
   * The request target as received (`/path?query`) or the absolute URL; for the `htu` of DPoP
   * proofs. Without it, the `originalUrl` or `url` string of the request object is used.
   */
  url?(req: Req): string
}

const SESSION_PREFIX = TOKEN_PREFIXES.session

/**
 * The token of an `Authorization: Bearer plys_...` header, or null (another scheme, or a bearer
 * token that is not a Parley session token, is left to the application).
 */
export function bearerToken(authorization: string): string | null {
  if (authorization.length < 8 || authorization.charCodeAt(6) !== 0x20) return null
  const scheme = authorization.slice(0, 6)
  if (scheme !== 'Bearer' && scheme.toLowerCase() !== 'bearer') return null
  const token = authorization.slice(7).trim()
  return token.startsWith(SESSION_PREFIX) ? token : null
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const MAX_ACCESS_TOKEN = 8192

/**
 * The access token of an `Authorization: Bearer <jwt>` or `DPoP <jwt>` header, with its scheme; null
 * for anything else (a Parley session token included).
 */
export function accessToken(
  authorization: string,
): { scheme: 'Bearer' | 'DPoP'; token: string } | null {
  const space = authorization.indexOf(' ')
  if (space === -1) return null
  const scheme = authorization.slice(0, space).toLowerCase()
  if (scheme !== 'bearer' && scheme !== 'dpop') return null
  const token = authorization.slice(space + 1).trim()
  if (token.length > MAX_ACCESS_TOKEN || !JWT_SHAPE.test(token)) return null
  return { scheme: scheme === 'dpop' ? 'DPoP' : 'Bearer', token }
}

const dpopInvalid = (detail: string) => new ParleyError('ERR_DPOP_INVALID', detail)

function cookieOk(session: Session): ResolvedContext {
  return new ResolvedContext(session, 'cookie', null, false)
}

function bearerOk(session: Session): ResolvedContext {
  return new ResolvedContext(session, 'bearer', null, false)
}

/** A cookie the store refuses makes the request anonymous, and the response deletes the cookie. */
function cookieRefused(err: unknown): ResolvedContext {
  if (isParleyError(err, 'ERR_SESSION_INVALID')) return REFUSED_COOKIE
  if (isParleyError(err, 'ERR_SESSION_ENDED')) {
    return new ResolvedContext(null, null, (err.details?.reason as EndReason) ?? null, true)
  }
  throw err
}

/** A rule of `requireRule`: true lets the request through. */
export type Rule<Req> = (
  principal: string,
  session: Session,
  request: Req,
) => boolean | Promise<boolean>

/**
 * The HTTP core shared by every adapter.
 *
 * @example
 * const http = new ParleyHttp({ sessions, origins: ['https://app.example'] }, nodeAccess)
 * const ctx = await http.resolve(req) // throws ERR_CSRF, ERR_SESSION_* (bearer), ERR_STORE_UNAVAILABLE
 */
export class ParleyHttp<Req> {
  readonly cookie: CookieConfig
  readonly origins: ReadonlySet<string>
  readonly diagnostics: Diagnostics
  readonly validator: SessionValidator
  readonly trustProxy: boolean
  #access: RequestAccess<Req>
  #sessions: ParleyHttpOptions['sessions']
  #verifier: AccessTokenVerifier | null
  #dpop: DpopProofChecker | null
  /** Still looking for a plain-http request on a non-local host (diagnostic a). */
  #watchTransport: boolean

  constructor(options: ParleyHttpOptions, access: RequestAccess<Req>) {
    if (options === null || typeof options !== 'object') {
      throw new ParleyError('ERR_CONFIG_INVALID', 'options are required')
    }
    const touch = options.touch !== false
    if ((options.sessions === undefined) === (options.remote === undefined)) {
      throw new ParleyError('ERR_CONFIG_INVALID', 'give exactly one of sessions or remote')
    }
    if (options.verifier !== undefined && options.sessions === undefined) {
      throw new ParleyError(
        'ERR_CONFIG_INVALID',
        'access tokens need in-process sessions; a remote service uses the Verifier directly',
      )
    }
    this.#sessions = options.sessions
    this.#verifier = options.verifier ?? null
    this.#dpop = options.dpop ?? null
    const clock: Clock = options.clock ?? options.sessions?.clock ?? systemClock
    this.validator =
      options.sessions !== undefined
        ? new LocalValidator(options.sessions, touch)
        : new RemoteValidator(options.remote!, clock, touch)
    this.cookie = resolveCookie(options.cookie)
    this.origins = originSet(options.origins)
    this.trustProxy = options.trustProxy === true
    this.diagnostics = new Diagnostics(options.logger)
    this.#access = access
    this.#watchTransport = this.cookie.secure && options.logger !== undefined
    if (this.origins.size === 0) this.diagnostics.noOrigins()
  }

  /**
   * The session of a request. Resolves to the anonymous context when no credential came or the
   * cookie was refused (then `clearCookie` is set); throws a ParleyError the adapter answers with
   * (ERR_CSRF 403, ERR_SESSION_INVALID / ERR_SESSION_ENDED 401 for a Bearer token,
   * ERR_STORE_UNAVAILABLE 503).
   */
  resolve(req: Req): Promise<ResolvedContext> {
    const access = this.#access
    const authorization = access.header(req, 'authorization')
    if (authorization !== undefined) {
      const token = bearerToken(authorization)
      if (token !== null) return this.validator.validate(token).then(bearerOk)
      if (this.#verifier !== null) {
        const access = accessToken(authorization)
        if (access !== null) return this.#resolveAccessToken(req, access.scheme, access.token)
      }
    }
    const header = access.header(req, 'cookie')
    const token = readSessionToken(header, this.cookie)
    if (token === null) {
      if (this.#watchTransport) this.#checkTransport(req)
      return Promise.resolve(ANONYMOUS)
    }
    if (!isSafeMethod(access.method(req))) {
      const origin = access.header(req, 'origin')
      const verdict = checkCsrf(this.origins, origin, access.header(req, 'sec-fetch-site'))
      if (verdict !== null) {
        if (verdict === 'origin-not-allowed') this.diagnostics.unknownOrigin(origin!, this.origins)
        return Promise.reject(csrfError(verdict))
      }
    }
    return this.validator.validate(token).then(cookieOk, cookieRefused)
  }

  /**
   * An access token: verified, its DPoP binding checked (SEC-46), its session loaded by `sid` so
   * that an ended session is refused at once (SEC-41) and guards see the live session.
   */
  async #resolveAccessToken(
    req: Req,
    scheme: 'Bearer' | 'DPoP',
    token: string,
  ): Promise<ResolvedContext> {
    let checked = false
    const checkProof = async (claims: AccessTokenClaims): Promise<void> => {
      const bound = claims.cnf?.jkt
      if (bound === undefined) return
      if (scheme !== 'DPoP') throw dpopInvalid('a DPoP-bound access token needs the DPoP scheme')
      if (this.#dpop === null) throw dpopInvalid('this service does not check DPoP proofs')
      const access = this.#access
      const { jkt } = await this.#dpop.check({
        proof: access.header(req, 'dpop'),
        method: access.method(req),
        url: this.#requestUrl(req),
        accessToken: token,
      })
      if (jkt !== bound) throw dpopInvalid('the DPoP proof is signed by another key')
      checked = true
    }
    const claims: AccessTokenClaims = await this.#verifier!.verify(token, checkProof)
    if (claims.cnf !== undefined && !checked) await checkProof(claims) // a verifier that skips it
    if (claims.cnf === undefined && scheme === 'DPoP')
      throw dpopInvalid('the access token is not DPoP-bound: send it as a Bearer token')
    let session: Session
    try {
      session = await this.#sessions!.get(claims.sid)
    } catch (err) {
      if (isParleyError(err, 'ERR_SESSION_NOT_FOUND')) throw new ParleyError('ERR_TOKEN_REVOKED')
      throw err
    }
    if (session.state !== 'active') {
      throw new ParleyError('ERR_TOKEN_REVOKED', undefined, {
        details: { reason: session.endReason },
      })
    }
    if (session.principal !== claims.sub) throw new ParleyError('ERR_TOKEN_INVALID')
    return new ResolvedContext(session, 'access_token', null, false, claims)
  }

  /** The absolute URL the request was addressed to, as a DPoP proof's `htu` names it. */
  /**
   * The URLs a DPoP proof's `htu` may name: the request's path under each configured origin. Never
   * built from the Host header or X-Forwarded-* (the client writes those): a proof made for another
   * server must not pass here (SEC-46).
   */
  #requestUrl(req: Req): string[] {
    const access = this.#access
    const raw = req as { originalUrl?: unknown; url?: unknown }
    const target =
      access.url?.(req) ??
      (typeof raw.originalUrl === 'string'
        ? raw.originalUrl
        : typeof raw.url === 'string'
          ? raw.url
          : '/')
    let path = target
    if (!target.startsWith('/')) {
      try {
        path = new URL(target).pathname
      } catch {
        path = '/'
      }
    }
    return [...this.origins].map((origin) => `${origin}${path}`)
  }

  /** The guard of `requireSession`: null when the request has a session, else the error to answer. */
  checkSession(ctx: ParleyContextLike | undefined, req: Req): ParleyError | null {
    if (ctx?.session != null) return null
    if (ctx instanceof ResolvedContext && ctx.endReason !== null) {
      return new ParleyError('ERR_SESSION_ENDED', undefined, { details: { reason: ctx.endReason } })
    }
    if (
      ctx === ANONYMOUS &&
      this.diagnostics.pending('cookie-cross-site') &&
      this.#access.header(req, 'sec-fetch-site') === 'cross-site'
    ) {
      this.diagnostics.crossSiteWithoutCookie(this.cookie.name, this.cookie.sameSite)
    }
    return new ParleyError('ERR_UNAUTHENTICATED')
  }

  /**
   * The guard of `requirePermission`: every permission must be in the server-side session's
   * `auth.permissions` (SEC-36). No role bypasses it, `admin` included.
   */
  checkPermissions(
    ctx: ParleyContextLike | undefined,
    req: Req,
    permissions: readonly string[],
  ): ParleyError | null {
    const missing = this.checkSession(ctx, req)
    if (missing !== null) return missing
    const granted = ctx!.session!.auth.permissions
    if (granted === undefined) return new ParleyError('ERR_FORBIDDEN')
    for (const p of permissions) if (!granted.includes(p)) return new ParleyError('ERR_FORBIDDEN')
    return null
  }

  /** The guard of `requireRule`: 401 without a session, 403 unless the rule returns true. */
  async checkRule(
    ctx: ParleyContextLike | undefined,
    req: Req,
    rule: Rule<Req>,
  ): Promise<ParleyError | null> {
    const missing = this.checkSession(ctx, req)
    if (missing !== null) return missing
    const session = ctx!.session!
    let allowed: boolean
    try {
      allowed = (await rule(session.principal, session, req)) === true
    } catch (err) {
      // A rule that throws denies, and what it threw stays in the server log (SEC-58).
      const failed = new ParleyError('ERR_INTERNAL', undefined, { cause: err })
      this.failure(failed)
      return failed
    }
    return allowed ? null : new ParleyError('ERR_FORBIDDEN')
  }

  /** The Set-Cookie value that hands `token` to the browser (throws ERR_VALIDATION if not a token). */
  setCookieHeader(token: string): string {
    return sessionCookie(this.cookie, token)
  }

  /** The problem for a failure; an unexpected one (a 5xx) is logged without any secret. */
  failure(err: unknown): Problem {
    const problem = toProblem(err)
    if (problem.status >= 500) {
      const logger = this.diagnostics.logger
      const cause = (err as { cause?: { code?: unknown } } | null)?.cause
      const fields = {
        code: problem.code,
        cause: typeof cause?.code === 'string' ? cause.code : undefined,
        error: isParleyError(err) ? undefined : String((err as Error)?.name ?? typeof err),
      }
      if (logger?.error !== undefined) logger.error(fields, 'parley: request failed')
      else logger?.warn(fields, 'parley: request failed')
    }
    return problem
  }

  #checkTransport(req: Req): void {
    const access = this.#access
    if (access.encrypted(req)) return
    if (this.trustProxy) {
      const proto = access.header(req, 'x-forwarded-proto')
      if (proto !== undefined && forwardedHttps(proto)) return
    }
    const host = access.header(req, 'host')
    if (isLocalHost(host)) return
    this.#watchTransport = false
    this.diagnostics.plainHttp(host!, this.cookie.name)
  }
}

/** Guards take any context-shaped value (a caller may build its own). */
type ParleyContextLike = { readonly session: Session | null }

function forwardedHttps(proto: string): boolean {
  const comma = proto.indexOf(',')
  return (comma === -1 ? proto : proto.slice(0, comma)).trim().toLowerCase() === 'https'
}
