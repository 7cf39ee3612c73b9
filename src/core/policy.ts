/** @module Session policy: timeouts, write throttling and limits, with their defaults in one place. */
import { ParleyError } from './errors.ts'
import type { OnLimit } from './store.ts'

export interface SessionPolicy {
  /** End a session after this long without a touch. Default 30 minutes (SEC-10). */
  idleTimeoutMs: number
  /** End a session this long after creation, whatever its activity. Default 12 hours (SEC-10). */
  absoluteTimeoutMs: number
  /** Write lastSeenAt at most once per interval per session. Default 60 seconds. */
  touchIntervalMs: number
  /** Active sessions per principal; 0 means no limit. Default 100 (SEC-12). */
  maxSessionsPerPrincipal: number
  /** At the limit: end the least recently used session, or refuse the new one. */
  onLimit: OnLimit
  /** Ended sessions and their events are kept this long, then purged. Default 30 days. */
  retentionMs: number
  /** Largest application data object, as JSON bytes. Default 8 KiB. */
  maxDataBytes: number
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

export const DEFAULT_POLICY: Readonly<SessionPolicy> = Object.freeze({
  idleTimeoutMs: 30 * MINUTE,
  absoluteTimeoutMs: 12 * HOUR,
  touchIntervalMs: MINUTE,
  maxSessionsPerPrincipal: 100,
  onLimit: 'evict_lru',
  retentionMs: 30 * DAY,
  maxDataBytes: 8192,
})

function positiveInt(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ParleyError('ERR_CONFIG_INVALID', `${name} must be an integer from ${min} to ${max}`)
  }
}

/**
 * Merges `overrides` onto the defaults and checks that the result makes sense.
 * Throws ERR_CONFIG_INVALID naming the first bad setting.
 *
 * @example
 * const policy = resolvePolicy({ idleTimeoutMs: 15 * 60_000, onLimit: 'refuse' })
 */
export function resolvePolicy(overrides: Partial<SessionPolicy> = {}): SessionPolicy {
  const p: SessionPolicy = { ...DEFAULT_POLICY, ...overrides }
  positiveInt('idleTimeoutMs', p.idleTimeoutMs, 1000, 366 * DAY)
  positiveInt('absoluteTimeoutMs', p.absoluteTimeoutMs, 1000, 366 * DAY)
  positiveInt('touchIntervalMs', p.touchIntervalMs, 0, 366 * DAY)
  positiveInt('maxSessionsPerPrincipal', p.maxSessionsPerPrincipal, 0, 1_000_000)
  positiveInt('retentionMs', p.retentionMs, 0, 3660 * DAY)
  positiveInt('maxDataBytes', p.maxDataBytes, 2, 1 << 20)
  if (p.onLimit !== 'evict_lru' && p.onLimit !== 'refuse') {
    throw new ParleyError('ERR_CONFIG_INVALID', 'onLimit must be "evict_lru" or "refuse"')
  }
  if (p.idleTimeoutMs > p.absoluteTimeoutMs) {
    throw new ParleyError('ERR_CONFIG_INVALID', 'idleTimeoutMs must not exceed absoluteTimeoutMs')
  }
  if (p.touchIntervalMs >= p.idleTimeoutMs) {
    throw new ParleyError(
      'ERR_CONFIG_INVALID',
      'touchIntervalMs must be shorter than idleTimeoutMs',
    )
  }
  return p
}
