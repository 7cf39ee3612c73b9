/**
 * @module Refresh tokens: opaque `plyr_<id>.<secret>`, hashed at rest, bound to one session and one
 * client (SEC-43), and the successor derivation that lets every racer within the grace window
 * rebuild the same new token without any secret being stored (SEC-44).
 */
import { createHmac, hkdfSync } from 'node:crypto'
import { hashSecret, newId, TOKEN_PREFIXES } from '../core/token.ts'
import type { RefreshRecord } from './token-store.ts'

/** The HKDF `info` of the key that derives successor secrets. */
export const SUCCESSOR_INFO = 'parley refresh successor v1'

/** What a new refresh token is bound to. */
export interface RefreshBinding {
  sessionId: string
  clientId: string
  jkt: string | null
}

/** The whole credential for a refresh token id and secret. */
export function refreshToken(id: string, secret: string): string {
  return `${TOKEN_PREFIXES.refresh}${id}.${secret}`
}

/**
 * A new, unused refresh record. Its lifetime is `ttlMs`, never past `notAfter` (the session's
 * absolute expiry).
 *
 * @example
 * const record = refreshRecord(newId(), hashSecret(secret), binding, now, ttlMs, session.absoluteExpiresAt)
 */
export function refreshRecord(
  id: string,
  secretHash: string,
  binding: RefreshBinding,
  now: number,
  ttlMs: number,
  notAfter: number,
): RefreshRecord {
  return {
    id,
    secretHash,
    sessionId: binding.sessionId,
    clientId: binding.clientId,
    createdAt: now,
    expiresAt: Math.min(now + ttlMs, notAfter),
    rotatedAt: null,
    successorId: null,
    successorAccess: null,
    jkt: binding.jkt,
  }
}

/**
 * Derives successor secrets: HMAC-SHA256 of the presented secret under a key derived from the server
 * secret. Whoever presents the same rotated token gets the same successor; nobody without the server
 * secret can compute one.
 *
 * @example
 * const successors = new Successors(serverSecret)
 * const next = successors.secret(presentedSecret) // 43 base64url characters
 */
export class Successors {
  readonly #key: Buffer

  constructor(serverSecret: string) {
    this.#key = Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), SUCCESSOR_INFO, 32))
  }

  /** The successor secret of a presented secret. */
  secret(presented: string): string {
    return createHmac('sha256', this.#key).update(presented).digest('base64url')
  }

  /** A fresh successor record for `previous`, with a new id and the derived secret's hash. */
  record(
    previous: RefreshRecord,
    presented: string,
    now: number,
    ttlMs: number,
    notAfter: number,
  ): RefreshRecord {
    return refreshRecord(
      newId(),
      hashSecret(this.secret(presented)),
      { sessionId: previous.sessionId, clientId: previous.clientId, jkt: previous.jkt },
      now,
      ttlMs,
      notAfter,
    )
  }
}
