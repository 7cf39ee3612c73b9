/**
 * @module OAuth error answers (RFC 6749 sec. 5.2, RFC 9449 sec. 7): `{ error, error_description,
 * code }` as JSON, with `WWW-Authenticate` and `DPoP-Nonce` where the RFCs ask for them.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ERROR_CODES, type ErrorCode, isParleyError, ParleyError } from '../../core/errors.ts'
import { toProblem } from '../problem.ts'

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'unsupported_token_type'
  | 'use_dpop_nonce'
  | 'invalid_dpop_proof'
  | 'temporarily_unavailable'
  | 'server_error'

/** A refusal at an OAuth endpoint: the OAuth error, its HTTP status and the Parley code behind it. */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode
  readonly status: number
  readonly code: ErrorCode
  constructor(error: OAuthErrorCode, description: string, code: ErrorCode = 'ERR_VALIDATION') {
    super(description)
    this.error = error
    this.status = error === 'invalid_client' ? 401 : 400
    this.code = code
  }
}

const BY_CODE: Partial<Record<ErrorCode, OAuthErrorCode>> = {
  ERR_VALIDATION: 'invalid_request',
  ERR_REFRESH_INVALID: 'invalid_grant',
  ERR_SESSION_ENDED: 'invalid_grant',
  ERR_SESSION_INVALID: 'invalid_grant',
  ERR_TOKEN_REVOKED: 'invalid_grant',
  ERR_CLIENT_INVALID: 'invalid_client',
  ERR_API_KEY_INVALID: 'invalid_client',
  ERR_DPOP_INVALID: 'invalid_dpop_proof',
  ERR_DPOP_NONCE: 'use_dpop_nonce',
  ERR_STORE_UNAVAILABLE: 'temporarily_unavailable',
  ERR_BODY_TOO_LARGE: 'invalid_request',
  ERR_UNSUPPORTED_MEDIA_TYPE: 'invalid_request',
}

/** The OAuth error for any thrown value (unknown errors become a generic `server_error`). */
export function toOAuthError(err: unknown): {
  status: number
  body: { error: OAuthErrorCode; error_description: string; code: ErrorCode }
  nonce?: string
} {
  if (err instanceof OAuthError) {
    return {
      status: err.status,
      body: { error: err.error, error_description: err.message, code: err.code },
    }
  }
  const problem = toProblem(err)
  const error =
    BY_CODE[problem.code] ?? (problem.status >= 500 ? 'server_error' : 'invalid_request')
  // The token endpoint answers a DPoP failure with 400 (RFC 9449 sec. 5 and 8); 401 is for resources.
  const status =
    error === 'invalid_dpop_proof' ||
    error === 'use_dpop_nonce' ||
    error === 'invalid_grant' ||
    (error === 'invalid_request' && problem.code !== 'ERR_BODY_TOO_LARGE')
      ? 400
      : error === 'invalid_client'
        ? 401
        : problem.status
  const description =
    problem.code === 'ERR_UNSUPPORTED_MEDIA_TYPE'
      ? 'the body must be application/x-www-form-urlencoded'
      : typeof problem.detail === 'string'
        ? problem.detail
        : ERROR_CODES[problem.code].title
  const nonce = isParleyError(err, 'ERR_DPOP_NONCE') ? err.details?.nonce : undefined
  return {
    status,
    body: { error, error_description: description, code: problem.code },
    ...(typeof nonce === 'string' ? { nonce } : {}),
  }
}

/** Sends the OAuth error for `err`, logging what the client must not see. */
export function sendOAuthError(
  request: FastifyRequest,
  reply: FastifyReply,
  err: unknown,
): FastifyReply {
  const { status, body, nonce } = toOAuthError(err)
  if (status >= 500) {
    const log = body.code === 'ERR_STORE_UNAVAILABLE' ? 'warn' : 'error'
    request.log[log]({ err, code: body.code }, 'token request failed')
    if (body.code === 'ERR_STORE_UNAVAILABLE') reply.header('retry-after', '1')
  } else {
    request.log.debug({ code: body.code, error: body.error }, 'token request refused')
  }
  if (body.error === 'invalid_client') reply.header('www-authenticate', 'Basic realm="parley"')
  if (nonce !== undefined) reply.header('dpop-nonce', nonce)
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .type('application/json; charset=utf-8')
    .send(body)
}

/** A ParleyError for a missing or malformed parameter. */
export function badRequest(detail: string): ParleyError {
  return new ParleyError('ERR_VALIDATION', detail)
}
