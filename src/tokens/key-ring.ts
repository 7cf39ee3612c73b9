/**
 * @module KeyRing: the signing keys of the token store held in memory, rotated on schedule with an
 * overlap (SEC-42), and the in-process source of verification keys.
 */
import type { SecretBox } from '../auth/secret-box.ts'
import { type Clock, systemClock } from '../core/clock.ts'
import { ParleyError } from '../core/errors.ts'
import type { AuditEventInput } from '../core/session.ts'
import { checkMs, TOKEN_DEFAULTS } from './defaults.ts'
import { SingleFlight, storeCall } from './flight.ts'
import { type Jwks, toJwks } from './jwks.ts'
import {
  createSigningKey,
  importVerificationKey,
  openSigningKey,
  type SigningAlg,
  type SigningKey,
  signingBox,
  type VerificationKey,
} from './keys.ts'
import type { SigningKeyRecord, TokenStore } from './token-store.ts'

/** What a verifier asks of its keys: the key a `kid` names, or null when there is none. */
export interface KeyResolver {
  key(kid: string): Promise<VerificationKey | null>
}

export interface KeyRingOptions {
  tokens: TokenStore
  /** The server secret; private keys are sealed with a key derived from it. */
  secret: string
  clock?: Clock
  /** Algorithm of new keys. Default `EdDSA` (Ed25519). */
  alg?: SigningAlg
  /** Age of the newest key after which the next is created. Default 30 days. */
  rotationMs?: number
  /** The longest access-token lifetime, for `expiresAt`. Default 5 minutes. */
  accessTtlMs?: number
  /** Clock skew verifiers tolerate, for `expiresAt`. Default 30 s. */
  clockSkewMs?: number
  /** Keys are re-read from the store at most this often, when next needed. Default 5 s. */
  reloadMs?: number
  /** An unknown kid re-reads the store at most this often. Default 1 s. */
  minReloadMs?: number
  /** Records `signing_key.created` (kid and dates only, never key material). */
  audit?: (event: AuditEventInput) => Promise<void>
}

/**
 * The signing keys, newest first. Signing uses the newest key; verification accepts every key whose
 * `expiresAt` is ahead, so tokens signed just before a rotation stay valid until they expire.
 *
 * @example
 * const ring = new KeyRing({ tokens: store.tokens(), secret, clock })
 * await ring.ensureCurrent()
 * const key = await ring.signingKey() // { kid, alg, privateKey }
 */
export class KeyRing implements KeyResolver {
  readonly alg: SigningAlg
  readonly rotationMs: number
  readonly accessTtlMs: number
  readonly clockSkewMs: number
  readonly reloadMs: number
  readonly minReloadMs: number
  readonly #tokens: TokenStore
  readonly #box: SecretBox
  readonly #clock: Clock
  readonly #audit: ((event: AuditEventInput) => Promise<void>) | undefined
  #records: SigningKeyRecord[] = []
  #loaded = false
  #lastAttempt = Number.NEGATIVE_INFINITY
  #loads = new SingleFlight<void>()
  #rotations = new SingleFlight<void>()
  #verifyKeys = new Map<string, Promise<VerificationKey>>()
  #signKeys = new Map<string, Promise<SigningKey>>()

  constructor(options: KeyRingOptions) {
    this.#tokens = options.tokens
    this.#box = signingBox(options.secret)
    this.#clock = options.clock ?? systemClock
    this.#audit = options.audit
    this.alg = options.alg ?? TOKEN_DEFAULTS.alg
    if (this.alg !== 'EdDSA' && this.alg !== 'ES256') {
      throw new ParleyError('ERR_CONFIG_INVALID', 'alg must be EdDSA or ES256')
    }
    this.rotationMs = checkMs('rotationMs', options.rotationMs ?? TOKEN_DEFAULTS.rotationMs, 60_000)
    this.accessTtlMs = checkMs(
      'accessTtlMs',
      options.accessTtlMs ?? TOKEN_DEFAULTS.accessTtlMs,
      1000,
    )
    this.clockSkewMs = checkMs('clockSkewMs', options.clockSkewMs ?? TOKEN_DEFAULTS.clockSkewMs, 0)
    this.reloadMs = checkMs('reloadMs', options.reloadMs ?? TOKEN_DEFAULTS.keyReloadMs, 0)
    this.minReloadMs = checkMs(
      'minReloadMs',
      options.minReloadMs ?? TOKEN_DEFAULTS.keyMinReloadMs,
      0,
    )
  }

  /** The keys as last read from the store, newest first (public facts; the private half stays sealed). */
  get records(): readonly Readonly<SigningKeyRecord>[] {
    return this.#records
  }

  /** Reads the keys from the store now. Throws ERR_STORE_UNAVAILABLE when it cannot. */
  load(): Promise<void> {
    return this.#loads.run(async () => {
      this.#lastAttempt = this.#clock.now()
      const list = await storeCall(() => this.#tokens.listSigningKeys())
      list.sort((a, b) => b.createdAt - a.createdAt)
      this.#records = list
      this.#loaded = true
      const kids = new Set(list.map((r) => r.kid))
      for (const kid of this.#verifyKeys.keys()) if (!kids.has(kid)) this.#verifyKeys.delete(kid)
      for (const kid of this.#signKeys.keys()) if (!kids.has(kid)) this.#signKeys.delete(kid)
    })
  }

  /**
   * Makes sure a current key exists: when there is none, or the newest is `rotationMs` old, creates
   * the next one. Several nodes may try at once; the store adds one key (compare-and-set on the
   * newest kid) and the others load it.
   */
  async ensureCurrent(): Promise<void> {
    await this.#reloadIfStale()
    if (this.#isCurrent(this.#clock.now())) return
    await this.#rotations.run(() => this.#rotate())
  }

  /**
   * The key that signs at `at` (default now): the newest whose `createdAt` is not after `at`. Passing
   * a token's issue time picks the same key again when the same claims are re-signed.
   */
  async signingKey(at?: number): Promise<SigningKey> {
    await this.ensureCurrent()
    const when = at ?? this.#clock.now()
    const record = this.#records.find((r) => r.createdAt <= when) ?? this.#records[0]
    if (record === undefined) throw new ParleyError('ERR_INTERNAL', 'no signing key')
    let key = this.#signKeys.get(record.kid)
    if (key === undefined) {
      key = openSigningKey(this.#box, record)
      this.#signKeys.set(record.kid, key)
      key.catch(() => this.#signKeys.delete(record.kid))
    }
    return key
  }

  /**
   * The verification key for `kid`, or null when no unexpired key has it. An unknown kid re-reads
   * the store (at most every `minReloadMs`): a key another node just created becomes known.
   */
  async key(kid: string): Promise<VerificationKey | null> {
    await this.#reloadIfStale()
    let record = this.#find(kid)
    if (record === undefined && this.#clock.now() - this.#lastAttempt >= this.minReloadMs) {
      await this.load()
      record = this.#find(kid)
    }
    if (record === undefined || record.expiresAt <= this.#clock.now()) return null
    let key = this.#verifyKeys.get(kid)
    if (key === undefined) {
      key = importVerificationKey(record.kid, record.alg, record.publicJwk)
      this.#verifyKeys.set(kid, key)
      key.catch(() => this.#verifyKeys.delete(kid))
    }
    return key
  }

  /** The public JWKS: every key not yet expired. */
  async jwks(): Promise<Jwks> {
    await this.#reloadIfStale()
    return toJwks(this.#records, this.#clock.now())
  }

  #find(kid: string): SigningKeyRecord | undefined {
    return this.#records.find((r) => r.kid === kid)
  }

  #isCurrent(now: number): boolean {
    const newest = this.#records[0]
    return (
      newest !== undefined && now - newest.createdAt < this.rotationMs && newest.expiresAt > now
    )
  }

  /** Re-reads the keys when the last read is `reloadMs` old; a failure keeps the keys already known. */
  async #reloadIfStale(): Promise<void> {
    if (this.#loaded && this.#clock.now() - this.#lastAttempt < this.reloadMs) return
    try {
      await this.load()
    } catch (err) {
      if (!this.#loaded) throw err
    }
  }

  async #rotate(): Promise<void> {
    await this.load()
    const now = this.#clock.now()
    if (this.#isCurrent(now)) return // another node rotated
    const newest = this.#records[0]?.kid ?? null
    const record = await createSigningKey(this.#box, this.alg, now, this)
    const added = await storeCall(() => this.#tokens.addSigningKey(record, newest))
    if (added) {
      await storeCall(() => this.#tokens.purgeSigningKeys(now))
      await this.#audit?.({
        at: now,
        type: 'signing_key.created',
        sessionId: null,
        principal: null,
        reason: null,
        actor: 'system',
        ip: null,
        userAgent: null,
        detail: {
          kid: record.kid,
          alg: record.alg,
          retiresAt: record.retiresAt,
          expiresAt: record.expiresAt,
        },
      })
    }
    await this.load()
  }
}
