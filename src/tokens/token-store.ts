/**
 * @module The TokenStore contract: signing keys (private halves encrypted), refresh tokens with
 * atomic rotation, and the single-use `jti` cache behind DPoP. Every store adapter implements it;
 * test/store/token-contract.case.ts proves they behave alike.
 */

/** A JWT signing key. The private key is only ever stored sealed (AES-256-GCM, SEC-42). */
export interface SigningKeyRecord {
  kid: string
  alg: 'EdDSA' | 'ES256'
  /** The public JWK (`kty`, `crv`, `x`, `y`?), as published in the JWKS. */
  publicJwk: Record<string, string>
  /** The private JWK as JSON, sealed with the server's key; never stored in the clear. */
  privateKeyEnc: string
  createdAt: number
  /** After this, the key no longer signs (its successor does); it still verifies. */
  retiresAt: number
  /** After this, the key no longer verifies (every token it signed has expired) and is purged. */
  expiresAt: number
}

/** Claims of the access token minted together with a refresh token's successor. Not secret. */
export interface SuccessorAccess {
  jti: string
  iat: number
  exp: number
}

/** A refresh token as stored: only the SHA-256 of its secret (SEC-43). */
export interface RefreshRecord {
  id: string
  secretHash: string
  sessionId: string
  /** The client it was issued to; it is refused for any other. */
  clientId: string
  createdAt: number
  expiresAt: number
  /** When it was exchanged for its successor; null while unused. Set once. */
  rotatedAt: number | null
  successorId: string | null
  /** So that a racer within the grace window receives the identical pair (SEC-44). */
  successorAccess: SuccessorAccess | null
  /** RFC 7638 thumbprint of the DPoP key it is bound to, or null (SEC-46). */
  jkt: string | null
}

export type RotateResult =
  /** This call rotated it: `record` is the token as now stored (rotatedAt set), successor created. */
  | { status: 'rotated'; record: RefreshRecord }
  /** It had been rotated before (by a racer or a thief): `record` says when and into what. */
  | { status: 'already'; record: RefreshRecord }
  | { status: 'missing' }

export interface TokenStore {
  readonly kind: string
  /** Applies migrations (sharing the session store's connection); idempotent. */
  init(): Promise<void>
  /** Releases what this store opened itself; a shared connection stays with its owner. */
  close(): Promise<void>

  /** Every signing key not yet purged, newest (`createdAt`) first. */
  listSigningKeys(): Promise<SigningKeyRecord[]>
  /**
   * Adds `record` only if the newest stored key is still `expectedNewestKid` (null: no key yet), so
   * that nodes rotating at once add one key, not several. Returns false when another node won.
   */
  addSigningKey(record: SigningKeyRecord, expectedNewestKid: string | null): Promise<boolean>
  /** Deletes keys whose `expiresAt` is at or before `now`; returns how many. */
  purgeSigningKeys(now: number): Promise<number>

  /** Stores a new refresh token. */
  createRefresh(record: RefreshRecord): Promise<void>
  getRefresh(id: string): Promise<RefreshRecord | null>
  /**
   * Atomically: when the token `id` has not been rotated, marks it rotated at `at` with
   * `successor.id` and `access`, and stores `successor`, in one step; two concurrent calls can never
   * both rotate it (at most one successor is ever minted, SEC-44). Otherwise changes nothing.
   */
  rotateRefresh(
    id: string,
    successor: RefreshRecord,
    access: SuccessorAccess,
    at: number,
  ): Promise<RotateResult>
  /** Deletes refresh tokens whose `expiresAt` is at or before `now`, up to `limit`; returns how many. */
  purgeRefresh(now: number, limit: number): Promise<number>

  /**
   * Records a single-use value (a DPoP proof's `jti`, scoped by the caller) until `expiresAt`.
   * True the first time; false when it was already recorded and has not expired (a replay).
   */
  useOnce(key: string, expiresAt: number, now: number): Promise<boolean>
}
