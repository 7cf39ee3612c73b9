/** @module Byte counting and payload checks for the codec; no Node APIs (runs in browsers too). */

/**
 * UTF-8 length of a string, as TextEncoder would write it (a lone surrogate counts 3 bytes, the
 * size of the U+FFFD that replaces it).
 *
 * @example
 * utf8Length('é') // 2
 */
export function utf8Length(s: string): number {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/**
 * Whether `s` fits in `max` UTF-8 bytes. Decides from the length alone when it can, so a huge
 * string is refused without being scanned.
 *
 * @example
 * fitsUtf8('{"t":"ack","ack":1}', 65_536) // true
 */
export function fitsUtf8(s: string, max: number): boolean {
  if (s.length > max) return false
  if (s.length * 3 <= max) return true
  return utf8Length(s) <= max
}

/** What is wrong with a parsed JSON payload: nesting too deep, or a number that is not finite. */
export type PayloadProblem = 'depth' | 'number' | null

/**
 * Checks a value from JSON.parse: containers nested at most `depthLeft` deep, numbers finite
 * (JSON.parse turns `1e400` into Infinity, which no encoder can write back). Stops at the first
 * problem, so the recursion never goes deeper than `depthLeft + 1`.
 *
 * @example
 * payloadProblem(JSON.parse('[[1]]'), 1) // 'depth'
 */
export function payloadProblem(value: unknown, depthLeft: number): PayloadProblem {
  if (typeof value === 'number') return Number.isFinite(value) ? null : 'number'
  if (typeof value !== 'object' || value === null) return null
  if (depthLeft <= 0) return 'depth'
  const items = Array.isArray(value) ? value : Object.values(value)
  for (const item of items) {
    const problem = payloadProblem(item, depthLeft - 1)
    if (problem !== null) return problem
  }
  return null
}

/**
 * Whether a checked payload fits in `max` bytes once encoded. `sourceChars` is the length of the
 * frame text it came from: re-encoding grows a JSON text at most six-fold (`1e20` becomes 21
 * digits), so a small frame skips the second stringify.
 *
 * @example
 * payloadFits({ a: 1 }, 20, 61_440) // true
 */
export function payloadFits(value: unknown, sourceChars: number, max: number): boolean {
  if (sourceChars * 6 <= max) return true
  return fitsUtf8(JSON.stringify(value), max)
}
