/**
 * @module The UserStore contract: who may sign in, with which password hash, factors, roles and
 * permissions, plus the failure counters behind brute-force defence. Every store adapter implements
 * it; test/store/user-contract.case.ts proves they behave alike.
 */

/** A TOTP second factor as stored: the secret only ever encrypted (SEC-32). */
export interface TotpRecord {
  /** The 160-bit secret, encrypted with the server's key (AES-256-GCM), base64url. */
  secretEnc: string
  /** False between enrolment and the confirming code. */
  confirmed: boolean
  enrolledAt: number
  /** The last 30-second step whose code was accepted: a code is accepted at most once. */
  lastUsedStep: number
}

/** A user as the store keeps it. Nothing here can be presented as a credential (SEC-02). */
export interface UserRecord {
  /** Random id (22 base64url characters); the principal of the user's sessions. */
  id: string
  /** Normalised login name (NFKC, lower case), unique in the store. */
  username: string
  /** argon2id PHC string, parameters included (SEC-29). */
  passwordHash: string
  roles: string[]
  permissions: string[]
  disabled: boolean
  totp: TotpRecord | null
  /** SHA-256 (base64url) of each unused recovery code (SEC-33). */
  recoveryCodes: string[]
  createdAt: number
  updatedAt: number
  /** Optimistic concurrency: 1 at creation, bumped by every updateUser. */
  version: number
}

/** Fields updateUser may replace; the others stay. `updatedAt` is always set. */
export interface UserPatch {
  updatedAt: number
  passwordHash?: string
  roles?: string[]
  permissions?: string[]
  disabled?: boolean
  totp?: TotpRecord | null
  recoveryCodes?: string[]
}

/** Failures counted under one key (an account or a client address) within a window. */
export interface FailureCount {
  count: number
  /** When the first failure of this window was recorded. */
  firstAt: number
  /** When the latest failure was recorded. */
  lastAt: number
}

export interface UserStore {
  readonly kind: string
  /** Connects (or shares the session store's connection) and applies migrations; idempotent. */
  init(): Promise<void>
  /** Releases what this store opened itself; a shared connection stays with its owner. */
  close(): Promise<void>

  /** Adds a user. Throws ERR_USER_EXISTS when the username is taken. */
  createUser(record: UserRecord): Promise<void>
  getUser(id: string): Promise<UserRecord | null>
  /** Looks up by the normalised username, compared exactly. */
  getUserByName(username: string): Promise<UserRecord | null>
  /**
   * Applies `patch` when the stored version equals `expectedVersion`; bumps the version.
   * Throws ERR_USER_NOT_FOUND or ERR_VERSION_CONFLICT.
   */
  updateUser(id: string, expectedVersion: number, patch: UserPatch): Promise<UserRecord>
  /**
   * Atomically records that the TOTP code of `step` was used: succeeds (true) only when the user
   * has a TOTP factor and `step` is greater than its `lastUsedStep` (replay defence, SEC-32).
   * Does not bump the version.
   */
  useTotpStep(id: string, step: number): Promise<boolean>
  /** Atomically removes one unused recovery code by its hash; true when it was there (SEC-33). */
  useRecoveryCode(id: string, codeHash: string): Promise<boolean>

  /**
   * Counts one failure under `key` at `at`. A window starts at the first failure and lasts
   * `windowMs`; a failure after it starts a new window at count 1. Returns the count after this one.
   * Keys are arbitrary text (they may hold an address or a username): stores hash or escape them.
   */
  recordFailure(key: string, at: number, windowMs: number): Promise<FailureCount>
  /** The failures of the current window of `key` at `at`, or null when none or the window passed. */
  getFailures(key: string, at: number, windowMs: number): Promise<FailureCount | null>
  clearFailures(key: string): Promise<void>
  /**
   * Deletes the counters whose window ended at or before `now`, so keys seen once (attacker-chosen
   * usernames and addresses) never pile up; the server's sweeper runs it. Returns how many.
   */
  purgeFailures(now: number): Promise<number>
}
