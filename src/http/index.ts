/**
 * @module The browser side of sessions, framework-neutral: the session cookie, CSRF checks,
 * cookie diagnostics, request -> session, and the guards. Adapters live in `node/`, `express/`,
 * `fastify/` and `hono/`.
 */
export {
  ANONYMOUS,
  type AuthenticatedContext,
  type ParleyContext,
  ResolvedContext,
  type Via,
} from './context.ts'
export {
  type CookieConfig,
  MAX_COOKIE_BYTES,
  readCookie,
  resolveCookie,
  serializeCookie,
  sessionCookie,
} from './cookies.ts'
export { type CsrfVerdict, checkCsrf, isSafeMethod, normalizeOrigin, originSet } from './csrf.ts'
export { Diagnostics, isLocalHost } from './diagnostics.ts'
export {
  type CookieOptions,
  HTTP_DEFAULTS,
  type HttpLogger,
  type ParleyHttpOptions,
  type RemoteOptions,
} from './options.ts'
export { PROBLEM_CONTENT_TYPE, type Problem, problemOf, toProblem } from './problem.ts'
export { RemoteValidator } from './remote.ts'
export { bearerToken, ParleyHttp, type RequestAccess, type Rule } from './resolve.ts'
export { LocalValidator, type SessionValidator } from './validator.ts'
