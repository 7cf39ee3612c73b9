/** @module Passwords: the policy (SEC-28) and argon2id hashing on the thread pool, PHC strings (SEC-29). */
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { ParleyError } from '../core/errors.ts'
import { Semaphore } from './semaphore.ts'

/** argon2id cost: memory in KiB, passes (t) and lanes (p). */
export interface PasswordParams {
  memoryKiB: number
  passes: number
  parallelism: number
}

/** OWASP's minimum for argon2id (m=19 MiB, t=2, p=1): the defaults, and the floor docs recommend. */
export const OWASP_MINIMUM: Readonly<PasswordParams> = Object.freeze({
  memoryKiB: 19_456,
  passes: 2,
  parallelism: 1,
})
/** Bytes of CSPRNG salt per hash, and of the tag (the hash itself). */
export const SALT_BYTES = 16
export const TAG_BYTES = 32
/**
 * Hashes run at once by default: one less than the libuv thread pool (4 unless UV_THREADPOOL_SIZE
 * says otherwise), so file and DNS work still gets a thread, and one less than the cores, so the
 * event loop still gets a core; never less than 1. More requests wait in a queue.
 */
export const DEFAULT_HASH_CONCURRENCY = Math.max(
  1,
  Math.min((Number(process.env.UV_THREADPOOL_SIZE) || 4) - 1, availableParallelism() - 1),
)
export const DEFAULT_MIN_LENGTH = 8
export const DEFAULT_MAX_LENGTH = 256
/** Sign-in input longer than this (UTF-16 units) is not even normalised: it is simply wrong. */
const MAX_INPUT_UNITS = 4096

/** The operator's breached-password check: true when the password is known to be breached. */
export type BreachedCheck = (password: string) => boolean | Promise<boolean>

export interface PasswordOptions extends Partial<PasswordParams> {
  /** Minimum length in code points after NFKC (default 8, at least 8). */
  minLength?: number
  /** Maximum length in code points after NFKC (default 256, at least 128). */
  maxLength?: number
  breached?: BreachedCheck
  /** Hashes computed at once; more wait in a queue (default: see DEFAULT_HASH_CONCURRENCY). */
  concurrency?: number
}

function configError(message: string): ParleyError {
  return new ParleyError('ERR_CONFIG_INVALID', message)
}

function intIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw configError(`${name} must be an integer from ${min} to ${max}`)
  }
  return value
}

/**
 * Fills and checks argon2id parameters (ERR_CONFIG_INVALID when out of range).
 *
 * @example
 * resolveParams({ memoryKiB: 65_536 }) // { memoryKiB: 65536, passes: 2, parallelism: 1 }
 */
export function resolveParams(options: Partial<PasswordParams> = {}): PasswordParams {
  const parallelism = intIn('parallelism', options.parallelism ?? OWASP_MINIMUM.parallelism, 1, 16)
  return {
    memoryKiB: intIn(
      'memoryKiB',
      options.memoryKiB ?? OWASP_MINIMUM.memoryKiB,
      8 * parallelism,
      4_194_304,
    ),
    passes: intIn('passes', options.passes ?? OWASP_MINIMUM.passes, 1, 64),
    parallelism,
  }
}

function runArgon2(
  message: string,
  salt: Buffer,
  params: PasswordParams,
  tagLength: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Runs on the libuv thread pool: the event loop stays free while it works (SEC-29).
    argon2(
      'argon2id',
      {
        message,
        nonce: salt,
        memory: params.memoryKiB,
        passes: params.passes,
        parallelism: params.parallelism,
        tagLength,
      },
      (err, tag) => (err ? reject(err) : resolve(tag)),
    )
  })
}

const b64 = (buf: Buffer): string => buf.toString('base64').replace(/=+$/, '')
const B64 = /^[A-Za-z0-9+/]+$/
const PHC = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,2}),p=(\d{1,2})\$([^$]+)\$([^$]+)$/

/**
 * A PHC string: `$argon2id$v=19$m=..,t=..,p=..$<salt>$<tag>` (unpadded base64).
 *
 * @example
 * formatPhc(OWASP_MINIMUM, salt, tag) // '$argon2id$v=19$m=19456,t=2,p=1$...$...'
 */
export function formatPhc(params: PasswordParams, salt: Buffer, tag: Buffer): string {
  const { memoryKiB: m, passes: t, parallelism: p } = params
  return `$argon2id$v=19$m=${m},t=${t},p=${p}$${b64(salt)}$${b64(tag)}`
}

export interface ParsedHash {
  params: PasswordParams
  salt: Buffer
  tag: Buffer
}

/**
 * Parses an argon2id PHC string; null when it is not one Parley could have written.
 *
 * @example
 * parsePhc(user.passwordHash)?.params // { memoryKiB: 19456, passes: 2, parallelism: 1 }
 */
export function parsePhc(phc: unknown): ParsedHash | null {
  if (typeof phc !== 'string') return null
  const m = PHC.exec(phc)
  if (m === null || !B64.test(m[4]!) || !B64.test(m[5]!)) return null
  const params = {
    memoryKiB: Number(m[1]),
    passes: Number(m[2]),
    parallelism: Number(m[3]),
  }
  const salt = Buffer.from(m[4]!, 'base64')
  const tag = Buffer.from(m[5]!, 'base64')
  try {
    resolveParams(params)
  } catch {
    return null
  }
  if (salt.length < 8 || tag.length < 16 || tag.length > 64) return null
  return { params, salt, tag }
}

/**
 * True when a stored hash is weaker than `params` (or unreadable): rehash it at the next
 * successful sign-in, when the password is at hand.
 *
 * @example
 * if (needsRehash(user.passwordHash, { memoryKiB: 65536, passes: 3, parallelism: 1 })) { ... }
 */
export function needsRehash(phc: string, params: PasswordParams): boolean {
  const parsed = parsePhc(phc)
  if (parsed === null) return true
  const p = parsed.params
  return (
    p.memoryKiB < params.memoryKiB ||
    p.passes < params.passes ||
    p.parallelism < params.parallelism ||
    parsed.salt.length < SALT_BYTES ||
    parsed.tag.length < TAG_BYTES
  )
}

/**
 * NFKC, the one form in which a password is hashed, counted and compared (SEC-28).
 *
 * @example
 * normalizePassword('Ｐａｓｓ') // 'Pass'
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC')
}

/**
 * Length in code points, not UTF-16 units: an emoji is one character.
 *
 * @example
 * codePoints('😀😀') // 2
 */
export function codePoints(text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

/**
 * argon2id hashing with a bounded number of hashes at once, so a sign-in storm queues instead of
 * taking every thread (and memory) at once.
 *
 * @example
 * const hasher = new PasswordHasher() // OWASP defaults
 * const phc = await hasher.hash('correct horse battery staple')
 * await hasher.verify(phc, 'correct horse battery staple') // true
 */
export class PasswordHasher {
  readonly params: PasswordParams
  readonly gate: Semaphore
  /** A well-formed hash of no password, verified when there is no user so timing is alike (SEC-30). */
  readonly #dummy: ParsedHash

  constructor(options: Partial<PasswordParams> & { concurrency?: number } = {}) {
    this.params = resolveParams(options)
    this.gate = new Semaphore(
      intIn('concurrency', options.concurrency ?? DEFAULT_HASH_CONCURRENCY, 1, 256),
    )
    this.#dummy = {
      params: this.params,
      salt: randomBytes(SALT_BYTES),
      tag: randomBytes(TAG_BYTES),
    }
  }

  /** Hashes a password (NFKC first) with a fresh 16-byte CSPRNG salt; returns a PHC string. */
  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES)
    const tag = await this.gate.run(() =>
      runArgon2(normalizePassword(password), salt, this.params, TAG_BYTES),
    )
    return formatPhc(this.params, salt, tag)
  }

  /**
   * True when `password` matches the PHC string, compared in constant time. Anything unusable (no
   * hash, a malformed hash, a non-string or absurdly long password) costs a dummy verification
   * and returns false, so every failure takes about as long as a wrong password.
   */
  async verify(phc: string | null | undefined, password: unknown): Promise<boolean> {
    const parsed = parsePhc(phc)
    const usable =
      typeof password === 'string' && password.length <= MAX_INPUT_UNITS && password.isWellFormed()
    const target = parsed ?? this.#dummy
    const message = usable ? normalizePassword(password) : ''
    const tag = await this.gate.run(() =>
      runArgon2(message, target.salt, target.params, target.tag.length),
    )
    return timingSafeEqual(tag, target.tag) && parsed !== null && usable
  }

  /** Verifies against the dummy hash and returns false: the cost of a check with no user. */
  async verifyDummy(password: unknown): Promise<false> {
    await this.verify(null, password)
    return false
  }

  /** True when a stored hash is weaker than this hasher's parameters. */
  needsRehash(phc: string): boolean {
    return needsRehash(phc, this.params)
  }
}

/**
 * The password policy of NIST 800-63B: length only (in code points after NFKC), any Unicode, no
 * composition rules, never truncated, and an optional breached-password check.
 *
 * @example
 * const policy = new PasswordPolicy({ breached: (p) => breachedSet.has(p) })
 * const normalised = await policy.check(input) // throws ERR_PASSWORD_POLICY / ERR_PASSWORD_BREACHED
 */
export class PasswordPolicy {
  readonly minLength: number
  readonly maxLength: number
  readonly #breached: BreachedCheck | undefined

  constructor(options: Pick<PasswordOptions, 'minLength' | 'maxLength' | 'breached'> = {}) {
    this.minLength = intIn('minLength', options.minLength ?? DEFAULT_MIN_LENGTH, 8, 1024)
    this.maxLength = intIn('maxLength', options.maxLength ?? DEFAULT_MAX_LENGTH, 128, 1024)
    if (this.maxLength < this.minLength) throw configError('maxLength must be >= minLength')
    if (options.breached !== undefined && typeof options.breached !== 'function') {
      throw configError('breached must be a function')
    }
    this.#breached = options.breached
  }

  /** Returns the normalised password, or throws ERR_PASSWORD_POLICY / ERR_PASSWORD_BREACHED. */
  async check(password: unknown): Promise<string> {
    const limits = { minLength: this.minLength, maxLength: this.maxLength }
    const refuse = () =>
      new ParleyError(
        'ERR_PASSWORD_POLICY',
        `The password must be ${this.minLength} to ${this.maxLength} characters long`,
        { details: limits },
      )
    if (typeof password !== 'string' || password.length > 4 * this.maxLength) throw refuse()
    if (!password.isWellFormed()) throw refuse()
    const normalised = normalizePassword(password)
    const n = codePoints(normalised)
    if (n < this.minLength || n > this.maxLength) throw refuse()
    if (this.#breached !== undefined) {
      let breached: boolean
      try {
        breached = await this.#breached(normalised)
      } catch (cause) {
        throw new ParleyError('ERR_INTERNAL', 'The breached-password check failed', { cause })
      }
      if (breached) throw new ParleyError('ERR_PASSWORD_BREACHED')
    }
    return normalised
  }
}
