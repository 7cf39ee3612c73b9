/** @module The public types of {@link Auth}: options, inputs and results. */
import type { Clock } from '../core/clock.ts'
import type { Session } from '../core/session.ts'
import type { Sessions } from '../core/sessions.ts'
import type { PasswordOptions } from './passwords.ts'
import type { PublicUser } from './public-user.ts'
import type { RateLimitOptions } from './rate-limit.ts'
import type { UserStore } from './user-store.ts'

export interface AuthOptions {
  users: UserStore
  /** The session manager; `session.principal` is the user id. */
  sessions: Sessions
  /** The server secret (at least 32 characters): the TOTP encryption key is derived from it. */
  secret: string
  clock?: Clock
  /** argon2id cost (defaults: OWASP's m=19456 KiB, t=2, p=1), length limits, breached check. */
  password?: PasswordOptions
  limits?: RateLimitOptions
  /** How recent an authentication sensitive actions need (SEC-34). Default 10 min. */
  stepUpWindowMs?: number
  /** The issuer authenticator apps show. Default `Parley`. */
  totpIssuer?: string
  /** Whether anyone may sign up. Default true. */
  allowSignUp?: boolean
}

export interface SignUpInput {
  username: string
  password: string
  /** The session token the client holds, if any: it is ended (`rotated`), SEC-07. */
  replaces?: string
}

export interface SignInInput extends SignUpInput {
  totp?: string
  recoveryCode?: string
}

export interface SignedIn {
  user: PublicUser
  session: Session
  /** The new session token: give it to the client once. */
  token: string
}

export interface Rotated {
  session: Session
  token: string
}

export interface TotpEnrolment {
  /** Base32, for manual entry. Show it once; it is stored only encrypted. */
  secret: string
  uri: string
  qrSvg: string
}

export interface Privileges {
  roles: string[]
  permissions: string[]
}
