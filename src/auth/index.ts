/** @module The door (`parley/auth`): sign-up, sign-in, second factors, step-up, brute-force defence. */
export { AuditLog, authEvent, type ClientContext } from './audit.ts'
export { Auth, DEFAULT_STEP_UP_WINDOW_MS } from './auth.ts'
export type {
  AuthOptions,
  Privileges,
  Rotated,
  SignedIn,
  SignInInput,
  SignUpInput,
  TotpEnrolment,
} from './auth-types.ts'
export {
  type BreachedCheck,
  DEFAULT_HASH_CONCURRENCY,
  needsRehash,
  OWASP_MINIMUM,
  PasswordHasher,
  type PasswordOptions,
  type PasswordParams,
  PasswordPolicy,
  parsePhc,
} from './passwords.ts'
export { type PublicUser, toPublicUser } from './public-user.ts'
export {
  DEFAULT_RATE_LIMITS,
  delayAfter,
  RateLimiter,
  type RateLimitOptions,
} from './rate-limit.ts'
export {
  generateRecoveryCodes,
  hashRecoveryCode,
  RECOVERY_CODE_CHARS,
  RECOVERY_CODE_COUNT,
} from './recovery-codes.ts'
export { SecretBox } from './secret-box.ts'
export { newTotpSecret, TOTP_SETTINGS, totpQrSvg, totpUri, verifyTotp } from './totp.ts'
export type {
  FailureCount,
  TotpRecord,
  UserPatch,
  UserRecord,
  UserStore,
} from './user-store.ts'
export { canonicalUsername, MAX_USERNAME, normalizeUsername } from './username.ts'
