/** @module Credentials: CSPRNG ids and secrets, prefixed tokens, SHA-256 at rest, constant-time compare. */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Token kinds and their prefixes (SEC-06). A prefix makes a leaked token easy for secret scanners to
 * find, and a token of one kind is refused where another kind is expected.
 */
export const TOKEN_PREFIXES = {
  session: 'plys_',
  refresh: 'plyr_',
  resume: 'plyc_',
  apiKey: 'plyk_',
} as const

export type TokenKind = keyof typeof TOKEN_PREFIXES

/** Bytes of CSPRNG output in an id (128 bits) and in a secret (256 bits). */
export const ID_BYTES = 16
export const SECRET_BYTES = 32
const ID_CHARS = 22 // base64url of 16 bytes
const SECRET_CHARS = 43 // base64url of 32 bytes
const B64URL = /^[A-Za-z0-9_-]+$/

/**
 * A new random identifier: 128 bits from the CSPRNG, base64url (22 characters). It never starts
 * with `-`, which a command line would take for an option (`parley keys revoke -Kx...`); redrawing
 * the 1 in 64 that do costs less than 0.03 bits.
 */
export function newId(): string {
  for (;;) {
    const id = randomBytes(ID_BYTES).toString('base64url')
    if (id.charCodeAt(0) !== 45) return id // '-'
  }
}

/** A new random secret: 256 bits from the CSPRNG, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url')
}

/** SHA-256 of a secret, base64url: the only form in which a secret is ever stored. */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'base64url')
}

/** True when `id` has the shape of an id Parley issues. */
export function isWellFormedId(id: string): boolean {
  return id.length === ID_CHARS && B64URL.test(id)
}

export interface IssuedToken {
  /** The public part: safe to log, to show and to use in URLs. */
  id: string
  /** The whole credential, `<prefix><id>.<secret>`: give it to the holder once, never store it. */
  token: string
  /** SHA-256 of the secret: what the store keeps. */
  secretHash: string
}

/**
 * Issues a token of the given kind.
 *
 * @example
 * const { id, token, secretHash } = issueToken('session')
 * // token: 'plys_' + 22 chars + '.' + 43 chars
 */
export function issueToken(kind: TokenKind, id: string = newId()): IssuedToken {
  const secret = newSecret()
  return { id, token: `${TOKEN_PREFIXES[kind]}${id}.${secret}`, secretHash: hashSecret(secret) }
}

/** Splits a presented token into id and secret, or returns null when it is not a token of `kind`. */
export function parseToken(kind: TokenKind, raw: unknown): { id: string; secret: string } | null {
  if (typeof raw !== 'string') return null
  const prefix = TOKEN_PREFIXES[kind]
  if (raw.length !== prefix.length + ID_CHARS + 1 + SECRET_CHARS || !raw.startsWith(prefix)) {
    return null
  }
  const id = raw.slice(prefix.length, prefix.length + ID_CHARS)
  const dot = raw.charCodeAt(prefix.length + ID_CHARS)
  const secret = raw.slice(prefix.length + ID_CHARS + 1)
  if (dot !== 46 || !B64URL.test(id) || !B64URL.test(secret)) return null
  return { id, secret }
}

const DUMMY_HASH = 'A'.repeat(43)

/**
 * Compares a presented secret with a stored hash in constant time (SEC-03). With no stored hash
 * (unknown id), it still hashes and compares, so that both paths cost the same.
 */
export function secretMatches(storedHash: string | null | undefined, secret: string): boolean {
  const presented = Buffer.from(hash('sha256', secret, 'base64url'))
  const known = typeof storedHash === 'string' && storedHash.length === presented.length
  const stored = Buffer.from(known ? storedHash : DUMMY_HASH)
  return timingSafeEqual(stored, presented) && known
}
