/**
 * @module Cookie diagnostics: the three ways a session cookie silently goes missing, each logged as
 * a warning once per cause (bounded memory). No warning ever holds a cookie or token value.
 */
import { HTTP_DEFAULTS, type HttpLogger } from './options.ts'

/** Any Parley token prefix (session, refresh, resume, API key). */
const TOKEN_LIKE = /ply[srck]_/

/**
 * Client-sent text in a log line: bounded, printable ASCII only, and withheld entirely when it
 * holds anything shaped like a Parley token (a client may put one anywhere, SEC-04).
 */
export function printable(value: string, max = 200): string {
  if (TOKEN_LIKE.test(value)) return '[withheld: holds a token]'
  let out = ''
  const n = Math.min(value.length, max)
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    out += c >= 0x20 && c < 0x7f ? value[i] : '?'
  }
  return value.length > max ? `${out}...` : out
}

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/

/**
 * True when browsers treat `http://<host>` as secure, so that they keep Secure cookies there:
 * localhost, *.localhost, 127.0.0.0/8 and [::1]. A missing Host counts as local (nothing to say).
 */
export function isLocalHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return true
  let name = host.toLowerCase()
  if (name.charCodeAt(0) === 0x5b) {
    const end = name.indexOf(']')
    return end !== -1 && name.slice(0, end + 1) === '[::1]'
  }
  const colon = name.indexOf(':')
  if (colon !== -1) name = name.slice(0, colon)
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === '127.0.0.1' ||
    LOOPBACK_V4.test(name)
  )
}

/** Logs each distinct cause once; remembers at most `max` causes. */
export class Diagnostics {
  readonly logger: HttpLogger | undefined
  #seen = new Set<string>()
  #max: number

  constructor(logger: HttpLogger | undefined, max: number = HTTP_DEFAULTS.maxDiagnostics) {
    this.logger = logger
    this.#max = max
  }

  /** True when a warning for `cause` would still be logged. */
  pending(cause: string): boolean {
    return this.logger !== undefined && this.#seen.size < this.#max && !this.#seen.has(cause)
  }

  warnOnce(cause: string, obj: Record<string, unknown>, msg: string): void {
    if (!this.pending(cause)) return
    this.#seen.add(cause)
    this.logger!.warn({ parley: cause, ...obj }, msg)
  }

  /** (a) Plain http on a host where browsers drop Secure and __Host- cookies. */
  plainHttp(host: string, cookieName: string): void {
    this.warnOnce(
      'cookie-plain-http',
      { host: printable(host) },
      `A request arrived over plain http on ${printable(host)}. Browsers drop Secure and __Host- ` +
        `cookies on http:// origins other than localhost, so the session cookie (${cookieName}) ` +
        'is never stored or sent back and every sign-in looks lost. Serve the site over https ' +
        '(behind a TLS-terminating proxy, set trustProxy: true so X-Forwarded-Proto: https is ' +
        'believed), or, for development only, set cookie: { insecure: true }.',
    )
  }

  /** (b) A cross-site request without the cookie reached a route that needs a session. */
  crossSiteWithoutCookie(cookieName: string, sameSite: string): void {
    this.warnOnce(
      'cookie-cross-site',
      { sameSite },
      `A cross-site request (Sec-Fetch-Site: cross-site) reached a route that needs a session ` +
        `without the session cookie (${cookieName}). SameSite=${sameSite} withholds the cookie ` +
        'on cross-site requests (subresources, fetches, form posts' +
        (sameSite === 'Strict' ? ', and even top-level links' : '') +
        ') by design. Serve the page and the API from the same site, or authenticate such ' +
        'calls with Authorization: Bearer.',
    )
  }

  /** (c) An Origin that is not in the configured list. */
  unknownOrigin(origin: string, allowed: ReadonlySet<string>): void {
    const shown = printable(origin)
    this.warnOnce(
      `origin:${shown}`,
      { origin: shown, allowed: [...allowed] },
      `A cookie-authenticated request from Origin ${shown} was refused (ERR_CSRF): it is not ` +
        'in origins. If that is your own site, add it to origins (scheme://host:port exactly).',
    )
  }

  /** At construction: no origins means every unsafe cookie-authenticated request is refused. */
  noOrigins(): void {
    const msg =
      'Parley: no origins are configured, so every cookie-authenticated POST, PUT, PATCH and ' +
      'DELETE is refused with ERR_CSRF. Set origins to the origin(s) your pages are served ' +
      'from, for example origins: ["https://app.example.com"].'
    if (this.logger !== undefined) this.warnOnce('no-origins', {}, msg)
    else process.emitWarning(msg, { code: 'PARLEY_NO_ORIGINS' })
  }
}
