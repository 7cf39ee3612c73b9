/** @module Durations in configuration: `90s`, `30m`, `12h`, `30d`, `250ms`, or a number of ms. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parses a duration into ms, or returns null when it is not one. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null
  if (typeof value !== 'string') return null
  const m = /^(\d{1,12})(ms|s|m|h|d)?$/.exec(value.trim())
  if (m === null) return null
  const n = Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1)
  return Number.isSafeInteger(n) ? n : null
}

/** Formats ms as the largest whole unit: 1800000 -> `30m`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNITS[unit]!
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}
