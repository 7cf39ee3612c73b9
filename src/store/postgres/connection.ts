/** @module The Postgres store's pool: its settings, and running a statement or a transaction on it. */
import pg from 'pg'
import { ParleyError } from '../../core/errors.ts'
import { isRetryable, isUnavailable, toStoreError } from './errors.ts'

/** The settings of a pool the store creates for itself. */
export interface PoolSettings {
  connectionString?: string
  max?: number
  connectionTimeoutMs?: number
  statementTimeoutMs?: number
}

export const DEFAULT_MAX = 10
export const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000
/** Attempts of a statement or transaction that PostgreSQL aborted as a deadlock or serialization failure. */
const ATTEMPTS = 3

/** Runs one statement inside a transaction. */
export type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>

export function configError(message: string): ParleyError {
  return new ParleyError('ERR_CONFIG_INVALID', message)
}

function checkMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 0) {
    throw configError(`${name} must be a whole number of ms, 0 or more`)
  }
  return value
}

/**
 * A pool that fails fast: a bounded wait for a connection, a server-side statement timeout, and a
 * client-side one a second later for a network that went silent; TCP keep-alive on.
 */
export function createPool(settings: PoolSettings): pg.Pool {
  const max = settings.max ?? DEFAULT_MAX
  if (!Number.isSafeInteger(max) || max < 1) {
    throw configError('max must be a whole number, 1 or more')
  }
  const connectTimeout = checkMs(
    'connectionTimeoutMs',
    settings.connectionTimeoutMs,
    DEFAULT_CONNECTION_TIMEOUT_MS,
  )
  const statementTimeout = checkMs(
    'statementTimeoutMs',
    settings.statementTimeoutMs,
    DEFAULT_STATEMENT_TIMEOUT_MS,
  )
  const config: pg.PoolConfig = {
    max,
    connectionTimeoutMillis: connectTimeout,
    keepAlive: true,
    application_name: 'parley',
  }
  if (settings.connectionString !== undefined) config.connectionString = settings.connectionString
  if (statementTimeout > 0) {
    config.statement_timeout = statementTimeout
    config.query_timeout = statementTimeout + 1_000
  }
  return new pg.Pool(config)
}

/**
 * Runs one statement on a pooled connection (pg-pool destroys a connection whose statement failed).
 * A deadlock or serialization failure, which rolls the statement back whole, is tried again; every
 * failure leaves as a ParleyError.
 */
export async function runQuery(pool: pg.Pool, config: pg.QueryConfig): Promise<pg.QueryResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.query(config)
    } catch (err) {
      if (attempt < ATTEMPTS && isRetryable(err)) continue
      throw toStoreError(err)
    }
  }
}

/**
 * Runs `work` in a transaction on one connection: COMMIT when it returns, ROLLBACK when it throws,
 * and the whole transaction again after a deadlock or serialization failure. A connection that
 * failed is destroyed rather than returned to the pool. Every failure leaves as a ParleyError.
 */
export async function runTransaction<T>(
  pool: pg.Pool,
  work: (query: Query, client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (err) {
      throw toStoreError(err)
    }
    // A checked-out client has no listener of the pool's: without one, a connection dropped
    // between two statements would be an unhandled 'error' event, and a crash.
    const onError = (): void => {}
    client.on('error', onError)
    const query: Query = (text, values) => client.query(text, values)
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await work(query, client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      if (isUnavailable(err)) broken = err as Error
      else {
        try {
          await client.query('ROLLBACK')
        } catch (rollbackErr) {
          broken = rollbackErr instanceof Error ? rollbackErr : new Error('rollback failed')
        }
      }
      if (attempt < ATTEMPTS && isRetryable(err)) continue
      throw toStoreError(err)
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }
}
