/** @module The public JWKS: the verification keys of every signing key not yet expired. */
import { isSigningAlg, publicJwkFor, type SigningAlg } from './keys.ts'
import type { SigningKeyRecord } from './token-store.ts'

/** One published key: public members only, with its kid, its one algorithm and `use: sig`. */
export interface PublicJwk {
  kty: string
  crv: string
  x: string
  y?: string
  kid: string
  alg: SigningAlg
  use: 'sig'
}

/** A JSON Web Key Set (RFC 7517) as served at the JWKS endpoint. */
export interface Jwks {
  keys: PublicJwk[]
}

/**
 * The JWKS of `records` at `now`: every key whose `expiresAt` is still ahead, newest first. A key
 * that no longer signs stays here until every token it signed has expired (SEC-42).
 *
 * @example
 * const jwks = toJwks(await tokens.listSigningKeys(), clock.now())
 * res.json(jwks)
 */
export function toJwks(records: readonly SigningKeyRecord[], now: number): Jwks {
  const keys: PublicJwk[] = []
  for (const r of records) {
    if (r.expiresAt <= now) continue
    const pub = publicJwkFor(r.alg, r.publicJwk)
    if (pub === null) continue
    keys.push({
      ...(pub as Omit<PublicJwk, 'kid' | 'alg' | 'use'>),
      kid: r.kid,
      alg: r.alg,
      use: 'sig',
    })
  }
  return { keys }
}

/**
 * Reads a JWKS document fetched from elsewhere: keeps each entry with a `kid`, an `alg` on the
 * accepted list, `use` absent or `sig`, and a public key of the shape its `alg` requires. Everything
 * else in the document is ignored; a document that is not a JWKS gives null.
 *
 * @example
 * const keys = parseJwks(await res.json(), ['EdDSA']) ?? []
 */
export function parseJwks(
  doc: unknown,
  algorithms: readonly string[],
): { kid: string; alg: SigningAlg; jwk: Record<string, string> }[] | null {
  if (doc === null || typeof doc !== 'object') return null
  const list = (doc as { keys?: unknown }).keys
  if (!Array.isArray(list)) return null
  const out: { kid: string; alg: SigningAlg; jwk: Record<string, string> }[] = []
  const seen = new Set<string>()
  for (const entry of list) {
    if (entry === null || typeof entry !== 'object') continue
    const { kid, alg, use } = entry as Record<string, unknown>
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 128 || seen.has(kid)) continue
    if (!isSigningAlg(alg) || !algorithms.includes(alg)) continue
    if (use !== undefined && use !== 'sig') continue
    const jwk = publicJwkFor(alg, entry)
    if (jwk === null) continue
    seen.add(kid)
    out.push({ kid, alg, jwk })
  }
  return out
}
