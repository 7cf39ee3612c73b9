/** @module The token module's public API: access tokens (JWT), refresh tokens, keys, verification. */
export {
  type AccessTokenClaims,
  type AccessTokenInput,
  accessClaims,
  accessTimes,
  signAccessToken,
} from './access.ts'
export { TOKEN_DEFAULTS } from './defaults.ts'
export { DenyList, type DenyListOptions, type EndedFeed } from './deny-list.ts'
export {
  accessIntrospection,
  INACTIVE,
  type Introspection,
  refreshIntrospection,
} from './introspection.ts'
export { type Jwks, type PublicJwk, parseJwks, toJwks } from './jwks.ts'
export { type KeyResolver, KeyRing, type KeyRingOptions } from './key-ring.ts'
export {
  createSigningKey,
  importVerificationKey,
  openSigningKey,
  SIGNING_BOX_INFO,
  type SigningAlg,
  type SigningKey,
  signingBox,
  type VerificationKey,
} from './keys.ts'
export { refreshToken, SUCCESSOR_INFO, Successors } from './refresh.ts'
export { type FetchLike, RemoteJwks, type RemoteJwksOptions } from './remote-jwks.ts'
export { TokenService } from './service.ts'
export type {
  TokenClient,
  TokenRequest,
  TokenResponse,
  TokenServiceOptions,
} from './service-options.ts'
export { type TokenContext, tokenEvent } from './token-events.ts'
export type {
  RefreshRecord,
  RotateResult,
  SigningKeyRecord,
  SuccessorAccess,
  TokenStore,
} from './token-store.ts'
export {
  type DpopCheck,
  type KeySource,
  type RevocationCheck,
  Verifier,
  type VerifierOptions,
} from './verifier.ts'
