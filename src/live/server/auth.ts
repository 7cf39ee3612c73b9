/**
 * @module Who is at the door of a live connection: the upgrade's Origin and subprotocol checks
 * (SEC-26), and the credential of `hello` / `refresh` (SEC-47): a session token, an access token,
 * or the literal `"cookie"` standing for the session cookie of an allowed-origin upgrade.
 */

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { isParleyError } from '../../core/errors.ts'
import type { Session } from '../../core/session.ts'
import type { Sessions } from '../../core/sessions.ts'
import { TOKEN_PREFIXES } from '../../core/token.ts'
import { type CookieConfig, cookieConfig, readSessionToken } from '../../http/cookies.ts'
import { normalizeOrigin } from '../../http/csrf.ts'
import type { CookieOptions } from '../../http/options.ts'
import { SUBPROTOCOL } from '../protocol/index.ts'
import type { AccessTokenCheck } from './types.ts'

/** The `hello.cred` value that names the session cookie of the upgrade as the credential. */
export const COOKIE_CREDENTIAL = 'cookie'

/** The outcome of the checks made on the HTTP upgrade request, before any WebSocket exists. */
export type UpgradeVerdict =
  | {
      ok: true
      /** The session cookie, read only when the request came from an allowed Origin (SEC-26). */
      cookieToken: string | null
    }
  | { ok: false; status: 400 | 403; reason: string }

/** Whether the `Sec-WebSocket-Protocol` header offers `parley.v1`. */
export function offersSubprotocol(header: string | undefined): boolean {
  if (header === undefined) return false
  return header.split(',').some((p) => p.trim() === SUBPROTOCOL)
}

/**
 * Checks an upgrade request: a browser (it sends `Origin`) must come from an allowed origin, or
 * it gets 403 before the upgrade; a request without `parley.v1` among its subprotocols gets 400.
 * A request without Origin (not a browser) passes, but its cookies are ignored: it must present
 * a credential in `hello`.
 *
 * @example
 * checkUpgrade(req, originSet(['https://app.example']), resolveCookie())
 */
export function checkUpgrade(
  req: IncomingMessage,
  allowed: ReadonlySet<string>,
  cookie: CookieConfig,
): UpgradeVerdict {
  const origin = req.headers.origin
  let allowedOrigin = false
  if (origin !== undefined) {
    const normalised = origin === 'null' ? null : normalizeOrigin(origin)
    if (normalised === null || !allowed.has(normalised))
      return { ok: false, status: 403, reason: 'origin not allowed' }
    allowedOrigin = true
  }
  if (!offersSubprotocol(req.headers['sec-websocket-protocol']))
    return { ok: false, status: 400, reason: 'parley.v1 not offered' }
  const cookieToken = allowedOrigin ? readSessionToken(req.headers.cookie, cookie) : null
  return { ok: true, cookieToken }
}

/** The cookie settings for `options` (a resolved config passes through). */
export function resolveCookieOption(
  options: CookieOptions | CookieConfig | undefined,
): CookieConfig {
  if (options !== undefined && 'clearHeader' in options) return options
  return cookieConfig(options)
}

const STATUS_TEXT = { 400: 'Bad Request', 403: 'Forbidden', 503: 'Service Unavailable' } as const

/** Refuses an upgrade with a bare HTTP response and destroys the socket. */
export function refuseUpgrade(socket: Duplex, status: 400 | 403 | 503): void {
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    )
  }
  socket.destroy()
}

/** A credential that was accepted. */
export interface Authenticated {
  session: Session
  /** When the credential expires (epoch ms), or null (session tokens do not expire on their own). */
  exp: number | null
}

/** A credential that was refused, with the close code to use. */
export interface AuthRefusal {
  code: 4101 | 4005 | 4006
  message: string
  /** The unexpected error behind a 4006, for the log. */
  cause?: unknown
}

export interface AuthInput {
  sessions: Sessions
  verifier: AccessTokenCheck | undefined
  /** The session cookie of the upgrade, when its Origin was allowed. */
  cookieToken: string | null
}

/**
 * Authenticates a credential: a Parley session token (`plys_...`), the literal `"cookie"`
 * (the upgrade's session cookie, only from an allowed Origin), or with a verifier an access
 * token whose `sid` must name an active session. Never throws.
 *
 * @example
 * const r = await authenticate(hello.cred, { sessions, verifier, cookieToken })
 * if ('code' in r) close(r.code)
 */
export async function authenticate(
  cred: string,
  input: AuthInput,
): Promise<Authenticated | AuthRefusal> {
  try {
    if (cred === COOKIE_CREDENTIAL) {
      if (input.cookieToken === null)
        return { code: 4101, message: 'no session cookie from an allowed origin' }
      return { session: await input.sessions.validate(input.cookieToken), exp: null }
    }
    if (cred.startsWith(TOKEN_PREFIXES.session))
      return { session: await input.sessions.validate(cred), exp: null }
    if (input.verifier === undefined) return { code: 4101, message: 'credential not accepted' }
    const claims = await input.verifier.verify(cred)
    const session = await input.sessions.get(claims.sid)
    if (session.state !== 'active') return { code: 4101, message: 'the session has ended' }
    return { session, exp: claims.exp * 1000 }
  } catch (err) {
    if (isParleyError(err, 'ERR_STORE_UNAVAILABLE'))
      return { code: 4005, message: 'the session store is unavailable' }
    if (isParleyError(err)) return { code: 4101, message: 'credential not valid' }
    return { code: 4006, message: 'internal error', cause: err }
  }
}
