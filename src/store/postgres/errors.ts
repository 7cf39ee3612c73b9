/** @module Maps node-postgres failures to ParleyError: outages to ERR_STORE_UNAVAILABLE, the rest to ERR_INTERNAL. */
import pg from 'pg'
import { ParleyError, storeUnavailable } from '../../core/errors.ts'

/** SQLSTATEs that mean "the database cannot serve us right now" besides class 08 and class 53. */
const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
  '57P05', // idle_session_timeout: the server dropped an idle connection
  '57014', // query_canceled: statement_timeout, or a cancel from an administrator
  '25P03', // idle_in_transaction_session_timeout
])

/** SQLSTATEs after which the whole transaction can safely be tried again. */
const RETRYABLE_STATES = new Set(['40001', '40P01']) // serialization_failure, deadlock_detected

/** SQLSTATEs for a value PostgreSQL cannot hold (a NUL character, an invalid escape in JSON). */
const UNREPRESENTABLE_STATES = new Set(['22021', '22P05'])

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ERR_STREAM_DESTROYED',
  'ERR_SOCKET_CLOSED',
])

/** Messages node-postgres and pg-pool use for transport failures, which carry no code. */
const TRANSPORT_MESSAGE =
  /connection terminated|connection timeout|timeout exceeded when trying to connect|query read timeout|not queryable|cannot use a pool after calling end/i

function sqlState(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError && typeof err.code === 'string' ? err.code : undefined
}

/** True when `err` means the database is unreachable, shutting down, overloaded or too slow. */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const state = sqlState(err)
  if (state !== undefined) {
    return state.startsWith('08') || state.startsWith('53') || UNAVAILABLE_STATES.has(state)
  }
  if (err instanceof AggregateError && err.errors.some(isUnavailable)) return true
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true
  return TRANSPORT_MESSAGE.test(err.message)
}

/** True when the failed statement or transaction can be run again as it was (deadlock, serialization). */
export function isRetryable(err: unknown): boolean {
  const state = sqlState(err)
  return state !== undefined && RETRYABLE_STATES.has(state)
}

/**
 * Turns any failure into a ParleyError whose message is a generic title: never SQL, never a value.
 * The driver's error stays in `cause`, for logs.
 */
export function toStoreError(err: unknown): ParleyError {
  if (err instanceof ParleyError) return err
  if (isUnavailable(err)) return storeUnavailable(err)
  const state = sqlState(err)
  if (state !== undefined && UNREPRESENTABLE_STATES.has(state)) {
    return new ParleyError('ERR_VALIDATION', 'a value holds a character the store cannot keep', {
      cause: err,
    })
  }
  return new ParleyError('ERR_INTERNAL', undefined, { cause: err })
}
