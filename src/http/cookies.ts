/**
 * @module The session cookie (SEC-20, SEC-21): `__Host-parley`, Secure, HttpOnly, SameSite=Lax,
 * Path=/, no Domain; its value is only the opaque session token. Also a Cookie-header reader that
 * never throws and reads only the one cookie it is asked for.
 */
import { ParleyError } from '../core/errors.ts'
import { parseToken } from '../core/token.ts'
import { type CookieOptions, HTTP_DEFAULTS } from './options.ts'

export type { CookieOptions } from './options.ts'

/** Browsers refuse a cookie whose name plus value reach this many bytes (RFC 6265bis). */
export const MAX_COOKIE_BYTES = 4096

/** The resolved cookie settings, with both Set-Cookie suffixes computed once. */
export interface CookieConfig {
  readonly name: string
  readonly secure: boolean
  readonly sameSite: 'Lax' | 'Strict'
  /** Seconds, or null for a browser-session cookie. */
  readonly maxAge: number | null
  /** `; Path=/; Secure; HttpOnly; SameSite=Lax[; Max-Age=n]`. */
  readonly attributes: string
  /** The whole Set-Cookie value that deletes the cookie (same name, path and attributes). */
  readonly clearHeader: string
}

const TOKEN_CHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function configError(message: string): ParleyError {
  return new ParleyError('ERR_CONFIG_INVALID', message)
}

/**
 * Resolves and checks the cookie options.
 *
 * @example
 * resolveCookie({}).name // '__Host-parley'
 * resolveCookie({ insecure: true }).name // 'parley' (no Secure: development only)
 */
export function resolveCookie(options: CookieOptions = {}): CookieConfig {
  const secure = options.insecure !== true
  const name =
    options.name ?? (secure ? HTTP_DEFAULTS.cookieName : HTTP_DEFAULTS.insecureCookieName)
  if (name.length > 256 || !TOKEN_CHAR.test(name)) {
    throw configError('cookie.name must be 1 to 256 cookie-name characters')
  }
  const lower = name.toLowerCase()
  if (secure && !name.startsWith('__Host-')) {
    throw configError('cookie.name must start with __Host- (SEC-20), unless cookie.insecure is set')
  }
  if (!secure && (lower.startsWith('__host-') || lower.startsWith('__secure-'))) {
    throw configError('with cookie.insecure the name cannot carry the __Host-/__Secure- prefix')
  }
  const sameSite = options.sameSite ?? 'Lax'
  if (sameSite !== 'Lax' && sameSite !== 'Strict') {
    throw configError('cookie.sameSite must be "Lax" or "Strict"')
  }
  const maxAge = options.maxAge ?? null
  if (maxAge !== null && (!Number.isInteger(maxAge) || maxAge < 1 || maxAge > 34_560_000)) {
    throw configError('cookie.maxAge must be whole seconds from 1 to 34560000 (400 days)')
  }
  const base = `; Path=/${secure ? '; Secure' : ''}; HttpOnly; SameSite=${sameSite}`
  const attributes = maxAge === null ? base : `${base}; Max-Age=${maxAge}`
  return { name, secure, sameSite, maxAge, attributes, clearHeader: `${name}=${base}; Max-Age=0` }
}

/** True when every character is a cookie-octet (RFC 6265: no space, quote, comma, `;`, `\`). */
function isCookieValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x2c || c === 0x3b || c === 0x5c) return false
  }
  return true
}

/**
 * The Set-Cookie value carrying `value`. Throws ERR_VALIDATION when the value holds a character a
 * cookie cannot, or when name plus value reach 4096 bytes (the browser would drop it silently).
 */
export function serializeCookie(config: CookieConfig, value: string): string {
  if (!isCookieValue(value)) {
    throw new ParleyError('ERR_VALIDATION', 'a cookie value must be cookie-octets only')
  }
  // Both are ASCII here, so characters are bytes.
  if (config.name.length + value.length >= MAX_COOKIE_BYTES) {
    throw new ParleyError(
      'ERR_VALIDATION',
      `cookie name plus value must stay under ${MAX_COOKIE_BYTES} bytes`,
    )
  }
  return `${config.name}=${value}${config.attributes}`
}

/**
 * The Set-Cookie value for a session token. Only a Parley session token is accepted: the cookie
 * holds nothing else (no data, no JWT).
 *
 * @example
 * res.setHeader('set-cookie', sessionCookie(resolveCookie(), token))
 */
export function sessionCookie(config: CookieConfig, token: string): string {
  if (parseToken('session', token) === null) {
    throw new ParleyError('ERR_VALIDATION', 'the session cookie holds only a session token')
  }
  return serializeCookie(config, token)
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09
}

/**
 * Reads one cookie from a Cookie header: the value of the first cookie called `name`, or null.
 * Never throws, never decodes, never backtracks: linear in the header's length.
 *
 * @example
 * readCookie('a=1; __Host-parley=plys_x.y', '__Host-parley') // 'plys_x.y'
 */
export function readCookie(header: string, name: string): string | null {
  const length = header.length
  let from = 0
  while (from < length) {
    const at = header.indexOf(name, from)
    if (at === -1) return null
    from = at + 1
    let before = at - 1
    while (before >= 0 && isSpace(header.charCodeAt(before))) before--
    if (before >= 0 && header.charCodeAt(before) !== 0x3b) continue // inside another pair
    let eq = at + name.length
    while (eq < length && isSpace(header.charCodeAt(eq))) eq++
    if (header.charCodeAt(eq) !== 0x3d) continue // a longer name, or no value
    let end = header.indexOf(';', eq + 1)
    if (end === -1) end = length
    let start = eq + 1
    while (start < end && isSpace(header.charCodeAt(start))) start++
    while (end > start && isSpace(header.charCodeAt(end - 1))) end--
    if (
      end - start >= 2 &&
      header.charCodeAt(start) === 0x22 &&
      header.charCodeAt(end - 1) === 0x22
    ) {
      start++
      end--
    }
    return header.slice(start, end)
  }
  return null
}

const DEFAULT_COOKIE = resolveCookie()
const resolved = new WeakMap<CookieOptions, CookieConfig>()

/** The resolved settings for `options`, computed once per options object. */
export function cookieConfig(options?: CookieOptions): CookieConfig {
  if (options === undefined) return DEFAULT_COOKIE
  let config = resolved.get(options)
  if (config === undefined) {
    config = resolveCookie(options)
    resolved.set(options, config)
  }
  return config
}

/**
 * The session token in a Cookie header (the first cookie of the configured name), or null when
 * there is none or it is empty. It is not validated here: hand it to `Sessions.validate`.
 *
 * @example
 * readSessionToken(req.headers.cookie) // 'plys_...' or null
 */
export function readSessionToken(
  header: string | undefined,
  options?: CookieOptions | CookieConfig,
): string | null {
  if (header === undefined) return null
  const name =
    options !== undefined && 'clearHeader' in options ? options.name : cookieConfig(options).name
  const value = readCookie(header, name)
  return value === null || value === '' ? null : value
}
