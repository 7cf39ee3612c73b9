/**
 * @module The one place errors become responses: `application/problem+json` (RFC 9457) with a stable
 * code. Unknown errors are logged and answered with a generic 500 that leaks nothing (SEC-58).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { ERROR_CODES, type ErrorCode, ParleyError } from '../core/errors.ts'

export interface Problem {
  type: string
  title: string
  status: number
  code: ErrorCode
  detail?: string
  [extra: string]: unknown
}

export const PROBLEM_TYPE_BASE = 'urn:parley:error:'

export function problemOf(
  code: ErrorCode,
  detail?: string,
  extra?: Record<string, unknown>,
): Problem {
  const { status, title } = ERROR_CODES[code]
  return {
    type: PROBLEM_TYPE_BASE + code,
    title,
    status,
    code,
    ...(detail ? { detail } : {}),
    ...extra,
  }
}

/** Maps any thrown value to a problem. Only ParleyErrors and request-shape errors say more than a title. */
export function toProblem(err: unknown): Problem {
  if (err instanceof ParleyError) {
    const detail =
      err.message !== ERROR_CODES[err.code].title && err.code !== 'ERR_STORE_UNAVAILABLE'
        ? err.message
        : undefined
    return problemOf(err.code, detail, err.details)
  }
  const e = err as FastifyError
  if (e?.validation) {
    return problemOf(
      'ERR_VALIDATION',
      `${e.validationContext ?? 'request'}${e.validation[0]?.instancePath ?? ''} ${e.validation[0]?.message ?? 'is not valid'}`.trim(),
    )
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problemOf('ERR_BODY_TOO_LARGE')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problemOf('ERR_UNSUPPORTED_MEDIA_TYPE')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problemOf('ERR_VALIDATION', 'the body must be a JSON object')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problemOf('ERR_VALIDATION', 'the Content-Length does not match the body')
  }
  if (e instanceof SyntaxError || e?.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
    return problemOf('ERR_VALIDATION', 'the body is not valid JSON')
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return problemOf(
      e.statusCode === 404
        ? 'ERR_NOT_FOUND'
        : e.statusCode === 405
          ? 'ERR_METHOD_NOT_ALLOWED'
          : 'ERR_VALIDATION',
    )
  }
  return problemOf('ERR_INTERNAL')
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  // ERR_RATE_LIMITED says when to come back (SEC-31), in the header clients and proxies read.
  if (typeof problem.retryAfterSeconds === 'number') {
    reply.header('retry-after', String(Math.max(1, Math.ceil(problem.retryAfterSeconds))))
  }
  return reply.code(problem.status).type('application/problem+json').send(problem)
}

/** Fastify error handler: logs what the client must not see, answers with the problem. */
export function errorHandler(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const problem = toProblem(err)
  if (problem.status >= 500) {
    request.log.error({ err, code: problem.code }, 'request failed')
  } else {
    request.log.debug({ code: problem.code }, 'request refused')
  }
  return sendProblem(reply, problem)
}
