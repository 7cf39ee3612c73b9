/**
 * @module Errors as `application/problem+json`, the same shape as the service API's
 * (src/server/problem.ts), built from the core's error table with no framework involved.
 */
import { ERROR_CODES, type ErrorCode, ParleyError } from '../core/errors.ts'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'
export const PROBLEM_TYPE_BASE = 'urn:parley:error:'

export interface Problem {
  type: string
  title: string
  status: number
  code: ErrorCode
  detail?: string
  /** Why the session ended, for ERR_SESSION_ENDED. */
  reason?: string
  [extra: string]: unknown
}

/** The problem for a code, with an optional detail and extra (non-secret) fields. */
export function problemOf(
  code: ErrorCode,
  detail?: string,
  extra?: Record<string, unknown>,
): Problem {
  const { status, title } = ERROR_CODES[code]
  const problem: Problem = { type: PROBLEM_TYPE_BASE + code, title, status, code }
  if (detail) problem.detail = detail
  return extra === undefined ? problem : { ...problem, ...extra }
}

/**
 * The problem for a thrown value: a ParleyError says its code (and details); anything else is a
 * generic 500 that leaks nothing (SEC-58).
 */
export function toProblem(err: unknown): Problem {
  if (!(err instanceof ParleyError)) return problemOf('ERR_INTERNAL')
  const detail =
    err.message !== ERROR_CODES[err.code].title && err.status < 500 ? err.message : undefined
  return problemOf(err.code, detail, err.details)
}
