/** @module The client's one error class: the server's code (or a client-side one) and whether to retry. */

/** Codes the client itself raises; server codes (`ERR_SIGN_IN_FAILED`, ...) come through as they are. */
export type ClientOnlyCode = 'ERR_NETWORK' | 'ERR_NOT_SIGNED_IN' | 'ERR_BAD_RESPONSE'

/** The codes a client is expected to handle; any other server code is passed through unchanged. */
export type KnownCode =
  | ClientOnlyCode
  | 'ERR_SIGN_IN_FAILED'
  | 'ERR_MFA_REQUIRED'
  | 'ERR_RATE_LIMITED'
  | 'ERR_REFRESH_INVALID'
  | 'ERR_SESSION_ENDED'
  | 'ERR_TOKEN_REVOKED'
  | 'ERR_CLIENT_INVALID'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_VALIDATION'
  | 'ERR_INTERNAL'

export interface ClientErrorDetails {
  /** HTTP status of the answer; 0 when none came. */
  status?: number
  /** The server's end reason of the session, when it gave one. */
  reason?: string | null
  /** Seconds to wait before trying again (rate limits, outages). */
  retryAfterSeconds?: number | null
  /** The OAuth `error` (`invalid_grant`, ...) of an answer from an OAuth endpoint. */
  oauthError?: string | null
  cause?: unknown
}

/**
 * A failed client call. `retryable` says the same call may succeed later (network, 503, 429).
 *
 * @example
 * try { await client.signIn({ username, password }) } catch (err) {
 *   if (err instanceof ParleyClientError && err.code === 'ERR_MFA_REQUIRED') askForCode()
 * }
 */
export class ParleyClientError extends Error {
  readonly code: KnownCode | (string & {})
  readonly status: number
  readonly reason: string | null
  readonly retryAfterSeconds: number | null
  readonly oauthError: string | null
  constructor(code: KnownCode | (string & {}), message: string, details: ClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'ParleyClientError'
    this.code = code
    this.status = details.status ?? 0
    this.reason = details.reason ?? null
    this.retryAfterSeconds = details.retryAfterSeconds ?? null
    this.oauthError = details.oauthError ?? null
  }

  get retryable(): boolean {
    return this.code === 'ERR_NETWORK' || this.status === 429 || this.status >= 500
  }
}
