/** @module Signing keys: generation with jose, RFC 7638 kids, private halves sealed at rest (SEC-42). */
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose'
import { SecretBox } from '../auth/secret-box.ts'
import { ParleyError } from '../core/errors.ts'
import type { SigningKeyRecord } from './token-store.ts'

/** The algorithms Parley signs and verifies access tokens with. */
export type SigningAlg = SigningKeyRecord['alg']

export const SIGNING_ALGS: readonly SigningAlg[] = ['EdDSA', 'ES256']

/** The HKDF `info` of the key that seals private signing keys. */
export const SIGNING_BOX_INFO = 'parley signing v1'

/** A key ready to sign: its id, algorithm and private half (not extractable). */
export interface SigningKey {
  kid: string
  alg: SigningAlg
  privateKey: CryptoKey
}

/** A key ready to verify: what a `kid` resolves to. Its `alg` is the only one it accepts (SEC-38). */
export interface VerificationKey {
  kid: string
  alg: SigningAlg
  key: CryptoKey
}

/** The lifetimes that set a new key's `retiresAt` and `expiresAt`. */
export interface KeyTimings {
  rotationMs: number
  accessTtlMs: number
  clockSkewMs: number
}

const CURVES: Record<SigningAlg, { kty: string; crv: string; coords: readonly string[] }> = {
  EdDSA: { kty: 'OKP', crv: 'Ed25519', coords: ['x'] },
  ES256: { kty: 'EC', crv: 'P-256', coords: ['x', 'y'] },
}

/** True when `alg` is one Parley signs with. */
export function isSigningAlg(alg: unknown): alg is SigningAlg {
  return alg === 'EdDSA' || alg === 'ES256'
}

/**
 * The public members of `jwk` when it is a well-formed public key for `alg` (kty, crv and
 * coordinates match; no private member), else null.
 */
export function publicJwkFor(alg: SigningAlg, jwk: unknown): Record<string, string> | null {
  if (jwk === null || typeof jwk !== 'object') return null
  const source = jwk as Record<string, unknown>
  const shape = CURVES[alg]
  if (source.kty !== shape.kty || source.crv !== shape.crv || 'd' in source) return null
  const out: Record<string, string> = { kty: shape.kty, crv: shape.crv }
  for (const c of shape.coords) {
    const v = source[c]
    if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{40,50}$/.test(v)) return null
    out[c] = v
  }
  return out
}

/**
 * Generates a key pair and returns it as a store record: kid = RFC 7638 thumbprint, the private JWK
 * sealed with `box` (context: the kid), `retiresAt` one rotation after creation and `expiresAt` late
 * enough that every token the key may sign has expired first.
 *
 * @example
 * const box = new SecretBox(serverSecret, SIGNING_BOX_INFO)
 * const record = await createSigningKey(box, 'EdDSA', clock.now(), timings)
 * await tokens.addSigningKey(record, null)
 */
export async function createSigningKey(
  box: SecretBox,
  alg: SigningAlg,
  createdAt: number,
  timings: KeyTimings,
): Promise<SigningKeyRecord> {
  const pair = await generateKeyPair(alg, { extractable: true })
  const publicJwk = publicJwkFor(alg, await exportJWK(pair.publicKey))
  if (publicJwk === null) throw new ParleyError('ERR_INTERNAL', 'unexpected public key shape')
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256')
  const privateJwk = await exportJWK(pair.privateKey)
  const privateKeyEnc = box.seal(JSON.stringify(privateJwk), kid)
  return {
    kid,
    alg,
    publicJwk,
    privateKeyEnc,
    createdAt,
    retiresAt: createdAt + timings.rotationMs,
    // It may sign for up to two rotation periods (a late rotation), then its tokens live out.
    expiresAt: createdAt + 2 * timings.rotationMs + timings.accessTtlMs + timings.clockSkewMs,
  }
}

/**
 * Opens a record's sealed private key. Throws ERR_INTERNAL when the seal was altered, belongs to
 * another kid or was made with another server secret.
 *
 * @example
 * const key = await openSigningKey(box, record) // { kid, alg, privateKey }
 */
export async function openSigningKey(
  box: SecretBox,
  record: SigningKeyRecord,
): Promise<SigningKey> {
  const jwk = JSON.parse(box.open(record.privateKeyEnc, record.kid)) as JWK
  const privateKey = await importJWK(jwk, record.alg)
  if (privateKey instanceof Uint8Array) throw new ParleyError('ERR_INTERNAL', 'not a key pair')
  return { kid: record.kid, alg: record.alg, privateKey }
}

/**
 * Imports a public JWK for verification under exactly `alg`.
 *
 * @example
 * const key = await importVerificationKey('kid-1', 'EdDSA', { kty: 'OKP', crv: 'Ed25519', x })
 */
export async function importVerificationKey(
  kid: string,
  alg: SigningAlg,
  jwk: Record<string, string>,
): Promise<VerificationKey> {
  const clean = publicJwkFor(alg, jwk)
  if (clean === null) throw new ParleyError('ERR_INTERNAL', 'not a public key for its alg')
  const key = await importJWK(clean, alg)
  if (key instanceof Uint8Array) throw new ParleyError('ERR_INTERNAL', 'not a public key')
  return { kid, alg, key }
}

/** A SecretBox for signing keys, keyed from the server secret. */
export function signingBox(serverSecret: string): SecretBox {
  return new SecretBox(serverSecret, SIGNING_BOX_INFO)
}
