/** @module ParleyError: one error class whose `code` is a closed union of stable, documented codes. */

/**
 * Every error code Parley produces, with its HTTP status and a generic title that is safe to show
 * to any client. docs/errors.md documents the same set; a test keeps the two equal.
 */
export const ERROR_CODES = {
  ERR_VALIDATION: { status: 400, title: 'The request is not valid' },
  ERR_BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body must be JSON' },
  ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  ERR_API_KEY_INVALID: { status: 401, title: 'A valid API key is required' },
  ERR_API_KEY_SCOPE: { status: 403, title: 'The API key does not allow this action' },
  ERR_SESSION_INVALID: { status: 401, title: 'The session token is not valid' },
  ERR_SESSION_ENDED: { status: 401, title: 'The session has ended' },
  ERR_SESSION_NOT_FOUND: { status: 404, title: 'No such session' },
  ERR_SESSION_LIMIT: { status: 409, title: 'The principal has reached its session limit' },
  ERR_VERSION_CONFLICT: { status: 409, title: 'The session was changed by someone else' },
  ERR_UNAUTHENTICATED: { status: 401, title: 'Sign-in is required' },
  ERR_FORBIDDEN: { status: 403, title: 'You do not have permission for this action' },
  ERR_CSRF: { status: 403, title: 'Cross-site request refused' },
  ERR_SIGN_IN_FAILED: { status: 401, title: 'The username or password is not correct' },
  ERR_MFA_REQUIRED: { status: 401, title: 'A second factor is required' },
  ERR_REAUTH_REQUIRED: { status: 401, title: 'Please confirm it is you: sign in again' },
  ERR_RATE_LIMITED: { status: 429, title: 'Too many attempts: wait and try again' },
  ERR_USER_EXISTS: { status: 409, title: 'That username is taken' },
  ERR_USER_NOT_FOUND: { status: 404, title: 'No such user' },
  ERR_PASSWORD_POLICY: { status: 400, title: 'The password does not meet the policy' },
  ERR_PASSWORD_BREACHED: {
    status: 400,
    title: 'The password appears in a list of breached passwords',
  },
  ERR_TOTP_INVALID: { status: 400, title: 'The code is not correct' },
  ERR_TOTP_STATE: { status: 409, title: 'The second factor is not in a state that allows this' },
  ERR_TOKEN_INVALID: { status: 401, title: 'The access token is not valid' },
  ERR_TOKEN_EXPIRED: { status: 401, title: 'The access token has expired' },
  ERR_TOKEN_NOT_YET_VALID: { status: 401, title: 'The access token is not valid yet' },
  ERR_TOKEN_CLAIMS: { status: 401, title: 'The access token is not meant for this service' },
  ERR_TOKEN_REVOKED: { status: 401, title: 'The session of this access token has ended' },
  ERR_DPOP_INVALID: { status: 401, title: 'The DPoP proof is missing or not valid' },
  ERR_DPOP_NONCE: { status: 401, title: 'A fresh DPoP nonce is required' },
  ERR_REFRESH_INVALID: { status: 400, title: 'The refresh token is not valid' },
  ERR_CLIENT_INVALID: { status: 401, title: 'Client authentication failed' },
  ERR_STORE_UNAVAILABLE: { status: 503, title: 'The session store is unavailable' },
  ERR_CONFIG_INVALID: { status: 500, title: 'The configuration is not valid' },
  ERR_INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>

export type ErrorCode = keyof typeof ERROR_CODES

export interface ParleyErrorOptions {
  cause?: unknown
  /** Extra, non-secret facts for the client (for example the end reason of a session). */
  details?: Record<string, unknown>
}

/**
 * The one error type Parley throws. `code` narrows in a `switch`; `message` never holds a secret.
 *
 * @example
 * try { await sessions.validate(token) } catch (err) {
 *   if (err instanceof ParleyError && err.code === 'ERR_SESSION_ENDED') console.log(err.details)
 * }
 */
export class ParleyError extends Error {
  override readonly name = 'ParleyError'
  readonly code: ErrorCode
  readonly status: number
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message?: string, options: ParleyErrorOptions = {}) {
    super(
      message ?? ERROR_CODES[code].title,
      options.cause === undefined ? undefined : { cause: options.cause },
    )
    this.code = code
    this.status = ERROR_CODES[code].status
    this.details = options.details
  }
}

/** True when `err` is a {@link ParleyError}, optionally with the given code. */
export function isParleyError(err: unknown, code?: ErrorCode): err is ParleyError {
  return err instanceof ParleyError && (code === undefined || err.code === code)
}

/** Wraps a driver failure (connection refused, timeout, busy database) as ERR_STORE_UNAVAILABLE. */
export function storeUnavailable(cause: unknown): ParleyError {
  return new ParleyError('ERR_STORE_UNAVAILABLE', undefined, { cause })
}
