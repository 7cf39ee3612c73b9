/**
 * @module Cross-site request forgery (SEC-24): a cookie-authenticated request with an unsafe method
 * must come from a configured origin (`Origin`), or, when the browser sent no Origin, say it is
 * same-origin or user-initiated (`Sec-Fetch-Site`). Bearer-authenticated requests are exempt.
 */
import { ParleyError } from '../core/errors.ts'

/** Why a request was refused; null when it may go on. */
export type CsrfVerdict =
  | null
  | 'no-origins-configured'
  | 'origin-null'
  | 'origin-not-allowed'
  | 'no-origin-cross-site'

/** GET, HEAD and OPTIONS are safe (they never change state, SEC-25); every other method is not. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS'
}

/**
 * The serialised origin (`scheme://host[:port]`, lower case, default port dropped) of `value`, or
 * null when it is not an http(s) origin.
 *
 * @example
 * normalizeOrigin('HTTPS://App.Example:443') // 'https://app.example'
 */
export function normalizeOrigin(value: string): string | null {
  if (value.length > 2048) return null
  const url = URL.parse(value)
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) return null
  if (url.username !== '' || url.password !== '') return null
  return url.origin
}

/** The configured origins, checked and normalised once; throws ERR_CONFIG_INVALID on a bad one. */
export function originSet(origins: readonly string[] | undefined): ReadonlySet<string> {
  const set = new Set<string>()
  for (const raw of origins ?? []) {
    const origin = typeof raw === 'string' ? normalizeOrigin(raw) : null
    const url = origin === null ? null : URL.parse(raw)
    if (
      origin === null ||
      url === null ||
      (url.pathname !== '/' && url.pathname !== '') ||
      url.search !== '' ||
      url.hash !== ''
    ) {
      throw new ParleyError(
        'ERR_CONFIG_INVALID',
        `origins must be scheme://host[:port] with no path, not ${JSON.stringify(String(raw).slice(0, 100))}`,
      )
    }
    set.add(origin)
  }
  return set
}

/**
 * Decides an unsafe, cookie-authenticated request from its `Origin` and `Sec-Fetch-Site` headers.
 *
 * @example
 * checkCsrf(originSet(['https://app.example']), 'https://evil.example', 'cross-site') // 'origin-not-allowed'
 */
export function checkCsrf(
  allowed: ReadonlySet<string>,
  origin: string | undefined,
  fetchSite: string | undefined,
): CsrfVerdict {
  if (allowed.size === 0) return 'no-origins-configured'
  if (origin !== undefined) {
    if (allowed.has(origin)) return null
    if (origin === 'null') return 'origin-null'
    const normalised = normalizeOrigin(origin)
    return normalised !== null && allowed.has(normalised) ? null : 'origin-not-allowed'
  }
  return fetchSite === 'same-origin' || fetchSite === 'none' ? null : 'no-origin-cross-site'
}

const DETAILS: Record<Exclude<CsrfVerdict, null>, string> = {
  'no-origins-configured': 'no origins are configured for cookie-authenticated requests',
  'origin-null': 'an opaque origin (Origin: null) is refused',
  'origin-not-allowed': 'the request comes from an origin that is not allowed',
  'no-origin-cross-site': 'no Origin header, and Sec-Fetch-Site does not say same-origin',
}

/** The ERR_CSRF error for a verdict. */
export function csrfError(verdict: Exclude<CsrfVerdict, null>): ParleyError {
  return new ParleyError('ERR_CSRF', DETAILS[verdict])
}

const normalisedLists = new WeakMap<readonly string[], ReadonlySet<string>>()

/**
 * For routes that run before any session exists (sign-in, sign-up: login CSRF, SEC-08): throws
 * ERR_CSRF when an unsafe request fails the same check as a cookie-authenticated one. Safe
 * methods pass. `origins` is normalised once per array.
 *
 * @example
 * checkOrigin(req.method, req.headers, ['https://app.example']) // throws ParleyError ERR_CSRF
 */
export function checkOrigin(
  method: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  origins: readonly string[] | ReadonlySet<string>,
): void {
  if (isSafeMethod(method)) return
  let allowed: ReadonlySet<string>
  if (Array.isArray(origins)) {
    const list = origins as readonly string[]
    allowed = normalisedLists.get(list) ?? originSet(list)
    normalisedLists.set(list, allowed)
  } else allowed = origins as ReadonlySet<string>
  const origin = headers.origin
  const site = headers['sec-fetch-site']
  const verdict = checkCsrf(
    allowed,
    typeof origin === 'string' ? origin : undefined,
    typeof site === 'string' ? site : undefined,
  )
  if (verdict !== null) throw csrfError(verdict)
}
