/** @module Recovery codes (SEC-33): CSPRNG codes shown once, stored as SHA-256, each usable once. */
import { randomBytes } from 'node:crypto'
import { hashSecret } from '../core/token.ts'

/** Codes in a set; regenerating replaces the whole set. */
export const RECOVERY_CODE_COUNT = 10
/** Characters per code: 30 of a 32-letter alphabet is 150 bits, above SEC-01's 128. */
export const RECOVERY_CODE_CHARS = 30
const GROUP = 5
/** Crockford's base32, lower case: no i, l, o or u to misread. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
const VALID = new RegExp(`^[${ALPHABET}]{${RECOVERY_CODE_CHARS}}$`)

/**
 * A new set of codes, formatted `xxxxx-xxxxx-xxxxx-xxxxx-xxxxx-xxxxx`, and their hashes. Show the
 * codes once; store only the hashes.
 *
 * @example
 * const { codes, hashes } = generateRecoveryCodes()
 * await users.updateUser(id, version, { updatedAt: now, recoveryCodes: hashes })
 */
export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): {
  codes: string[]
  hashes: string[]
} {
  const codes: string[] = []
  for (let i = 0; i < count; i++) {
    // 32 letters: the low 5 bits of a uniform byte are uniform, so no letter is favoured.
    const bytes = randomBytes(RECOVERY_CODE_CHARS)
    let plain = ''
    for (const b of bytes) plain += ALPHABET[b & 31]
    codes.push(plain.match(new RegExp(`.{${GROUP}}`, 'g'))!.join('-'))
  }
  return { codes, hashes: codes.map((c) => hashRecoveryCode(c)!) }
}

/**
 * The canonical form of a typed code: lower case, no dashes or spaces, and the letters people
 * confuse with digits read as those digits. Null when it cannot be a code.
 *
 * @example
 * normalizeRecoveryCode(' ABCDE-FGHJK-... ') // 'abcdefghjk...'
 */
export function normalizeRecoveryCode(code: unknown): string | null {
  if (typeof code !== 'string' || code.length > 4 * RECOVERY_CODE_CHARS) return null
  const plain = code
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s-]+/g, '')
    .replace(/[il]/g, '1')
    .replace(/o/g, '0')
  return VALID.test(plain) ? plain : null
}

/** SHA-256 (base64url) of the canonical code, or null when it is not a code at all. */
export function hashRecoveryCode(code: unknown): string | null {
  const plain = normalizeRecoveryCode(code)
  return plain === null ? null : hashSecret(plain)
}
