/** @module Usernames: one canonical form (NFKC, trimmed, lower case) so look-alikes cannot coexist. */
import { ParleyError } from '../core/errors.ts'
import { codePoints } from './passwords.ts'

export const MAX_USERNAME = 64
/** Control and format characters (zero-width joiners, bidi overrides): never part of a name. */
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u

/**
 * The canonical form of a name, without checks; null when it is not text at all.
 *
 * @example
 * canonicalUsername(' Ada ') // 'ada'
 */
export function canonicalUsername(input: unknown): string | null {
  if (typeof input !== 'string' || input.length > 4 * MAX_USERNAME || !input.isWellFormed()) {
    return null
  }
  return input.normalize('NFKC').trim().toLowerCase().normalize('NFKC')
}

/**
 * Normalises a username for sign-up, or throws ERR_VALIDATION.
 *
 * @example
 * normalizeUsername('  Ａda ') // 'ada' (full-width A folded by NFKC)
 */
export function normalizeUsername(input: unknown): string {
  const name = canonicalUsername(input)
  if (
    name === null ||
    name.length === 0 ||
    codePoints(name) > MAX_USERNAME ||
    FORBIDDEN.test(name)
  ) {
    throw new ParleyError(
      'ERR_VALIDATION',
      `username must be 1 to ${MAX_USERNAME} characters without control characters`,
    )
  }
  return name
}
