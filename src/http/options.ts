/** @module The one options type every HTTP adapter takes, its defaults and limits in one place. */
import type { Clock } from '../core/clock.ts'
import type { Sessions } from '../core/sessions.ts'
import type { AccessTokenClaims } from './context.ts'

/** Defaults and bounds of the HTTP layer (docs/http.md explains each). */
export const HTTP_DEFAULTS = Object.freeze({
  /** The session cookie's name: `__Host-` asks the browser to require Secure, Path=/ and no Domain. */
  cookieName: '__Host-parley',
  /** The cookie's name with `insecure: true` (plain-http development on a non-localhost host). */
  insecureCookieName: 'parley',
  /** Remote mode: how long a validation answer is reused (the staleness bound). */
  remoteCacheMs: 1000,
  /** Remote mode: the largest `cacheMs` accepted. */
  remoteCacheMaxMs: 10_000,
  /** Remote mode: answers kept at most; the oldest go first. */
  remoteMaxEntries: 10_000,
  /** Remote mode: how long a call to the service API may take before it fails closed (503). */
  remoteTimeoutMs: 2000,
  /** Distinct diagnostic warnings remembered (each is logged once); past this, none are logged. */
  maxDiagnostics: 256,
})

/** A pino-compatible logger; only `warn` is required (`error` is used for unexpected failures). */
export interface HttpLogger {
  warn(obj: object, msg: string): void
  error?(obj: object, msg: string): void
}

export interface CookieOptions {
  /** Default `__Host-parley` (or `parley` with `insecure`). */
  name?: string
  /** Default `Lax`. `Strict` also withholds the cookie on top-level navigations from other sites. */
  sameSite?: 'Lax' | 'Strict'
  /** Max-Age in seconds; by default none (a browser-session cookie). The server's timeouts rule. */
  maxAge?: number
  /**
   * Development over plain http on a host other than localhost only: name `parley`, no `Secure`,
   * no `__Host-` prefix. A deviation from SEC-20; never use it in production.
   */
  insecure?: boolean
}

/** Remote mode: validate through a Parley server's service API. */
export interface RemoteOptions {
  /** The Parley server's base URL, for example `http://127.0.0.1:7700`. */
  url: string
  /** An API key (`plyk_...`) with at least the `read` scope. */
  apiKey: string
  /**
   * How long an answer is reused, in ms (default 1000, at most 10 000, 0 turns the cache off).
   * An ended session may still pass on this process for up to this long.
   */
  cacheMs?: number
  /** Answers cached at most (default 10 000). */
  maxEntries?: number
  /** Timeout of one service-API call in ms (default 2000); a timeout fails closed with 503. */
  timeoutMs?: number
}

/**
 * Verifies access tokens (a Parley `Verifier`, or `tokenService.verifier()` in process): resolves to
 * the claims, or throws ERR_TOKEN_* (401). For a DPoP-bound token it calls `dpop` with the claims.
 */
export interface AccessTokenVerifier {
  verify(
    token: string,
    dpop?: (claims: AccessTokenClaims) => Promise<void>,
  ): Promise<AccessTokenClaims>
}

/** Checks a DPoP proof (RFC 9449) at a resource; resolves to its key's thumbprint. */
export interface DpopProofChecker {
  check(input: {
    proof: string | undefined
    method: string
    url: string | readonly string[]
    accessToken: string
  }): Promise<{ jkt: string }>
}

interface CommonOptions {
  cookie?: CookieOptions
  /** The origins allowed to send cookie-authenticated unsafe requests (SEC-24), `scheme://host[:port]`. */
  origins?: string[]
  /** Believe `X-Forwarded-Proto` (only behind a proxy you control). Default false. */
  trustProxy?: boolean
  logger?: HttpLogger
  /** Slide the idle expiry on validation (at most once per touch interval). Default true. */
  touch?: boolean
  /** The clock of the remote cache (in-process mode uses the Sessions' clock). */
  clock?: Clock
  /**
   * Accept access tokens (`Authorization: Bearer <jwt>` or `DPoP <jwt>`) checked by this verifier;
   * in-process mode only: the token's session is loaded by its `sid`, so guards see it.
   */
  verifier?: AccessTokenVerifier
  /** Checks the proofs of DPoP-bound access tokens; without it such tokens are refused. */
  dpop?: DpopProofChecker
}

/** Options shared by every adapter: exactly one of `sessions` (in-process) or `remote`. */
export type ParleyHttpOptions = CommonOptions &
  ({ sessions: Sessions; remote?: undefined } | { remote: RemoteOptions; sessions?: undefined })
