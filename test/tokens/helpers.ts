/** @module Test helpers for the token module: a TokenService over memory stores and a manual clock. */
import { randomBytes } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose'
import { expect } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { isParleyError, type ParleyError, storeUnavailable } from '../../src/core/errors.ts'
import type { SessionPolicy } from '../../src/core/policy.ts'
import type {
  ActionContext,
  AuditEventInput,
  EndReason,
  SessionRecord,
} from '../../src/core/session.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'
import type { MemoryTokenStore } from '../../src/store/memory/tokens.ts'
import type { AccessTokenClaims } from '../../src/tokens/access.ts'
import type { SigningKey } from '../../src/tokens/keys.ts'
import { TokenService } from '../../src/tokens/service.ts'
import type { TokenServiceOptions } from '../../src/tokens/service-options.ts'
import type {
  RefreshRecord,
  RotateResult,
  SigningKeyRecord,
  SuccessorAccess,
  TokenStore,
} from '../../src/tokens/token-store.ts'

export const ISSUER = 'https://auth.example'
export const AUDIENCE = 'https://api.example'
export const MINUTE = 60_000
export const DAY = 24 * 60 * MINUTE
/** A DPoP key thumbprint (43 base64url characters). */
export const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'

/** A MemoryStore that keeps every appended event and can be taken down. */
export class TestStore extends MemoryStore {
  readonly appended: AuditEventInput[] = []
  /** Every method below fails while true. */
  down = false
  /** These methods fail. */
  readonly failing = new Set<'appendEvent' | 'get' | 'touch' | 'end' | 'endedSince'>()

  #check(name: 'appendEvent' | 'get' | 'touch' | 'end' | 'endedSince'): void {
    if (this.down || this.failing.has(name)) throw storeUnavailable(new Error('connection refused'))
  }

  override async appendEvent(event: AuditEventInput): Promise<void> {
    this.#check('appendEvent')
    this.appended.push(structuredClone(event))
    await super.appendEvent(event)
  }
  override async get(id: string): Promise<SessionRecord | null> {
    this.#check('get')
    return super.get(id)
  }
  override async touch(id: string, input: { at: number; idleExpiresAt: number }) {
    this.#check('touch')
    return super.touch(id, input)
  }
  override async end(id: string, reason: EndReason, context: ActionContext) {
    this.#check('end')
    return super.end(id, reason, context)
  }
  override async endedSince(since: number, limit: number) {
    this.#check('endedSince')
    return super.endedSince(since, limit)
  }
}

/** A TokenStore that delegates, counts rotations by outcome, and fails the methods named in `down`. */
export class FlakyTokens implements TokenStore {
  readonly kind = 'flaky'
  readonly down = new Set<keyof TokenStore>()
  readonly rotations: RotateResult['status'][] = []
  /** When set, rotateRefresh commits and then throws, as a lost reply would. */
  loseRotateReply = false
  readonly #inner: MemoryTokenStore

  constructor(inner: MemoryTokenStore) {
    this.#inner = inner
  }

  #check(name: keyof TokenStore): void {
    if (this.down.has(name)) throw storeUnavailable(new Error('connection refused'))
  }
  async init() {}
  async close() {}
  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    this.#check('listSigningKeys')
    return this.#inner.listSigningKeys()
  }
  async addSigningKey(record: SigningKeyRecord, expected: string | null): Promise<boolean> {
    this.#check('addSigningKey')
    return this.#inner.addSigningKey(record, expected)
  }
  async purgeSigningKeys(now: number): Promise<number> {
    this.#check('purgeSigningKeys')
    return this.#inner.purgeSigningKeys(now)
  }
  async createRefresh(record: RefreshRecord): Promise<void> {
    this.#check('createRefresh')
    return this.#inner.createRefresh(record)
  }
  async getRefresh(id: string): Promise<RefreshRecord | null> {
    this.#check('getRefresh')
    return this.#inner.getRefresh(id)
  }
  async rotateRefresh(
    id: string,
    successor: RefreshRecord,
    access: SuccessorAccess,
    at: number,
  ): Promise<RotateResult> {
    this.#check('rotateRefresh')
    const result = await this.#inner.rotateRefresh(id, successor, access, at)
    this.rotations.push(result.status)
    if (this.loseRotateReply) throw storeUnavailable(new Error('reply lost'))
    return result
  }
  async purgeRefresh(now: number, limit: number): Promise<number> {
    this.#check('purgeRefresh')
    return this.#inner.purgeRefresh(now, limit)
  }
  async useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    this.#check('useOnce')
    return this.#inner.useOnce(key, expiresAt, now)
  }
}

export interface SetupOptions {
  service?: Partial<TokenServiceOptions>
  policy?: Partial<SessionPolicy>
}

/** A TokenService (initialised) over a TestStore and FlakyTokens, with one active session. */
export async function setup(options: SetupOptions = {}) {
  const clock = new ManualClock()
  const store = new TestStore()
  const sessions = new Sessions({ store, clock, policy: options.policy })
  const tokens = new FlakyTokens(store.tokens())
  const secret = randomBytes(32).toString('base64url')
  const service = new TokenService({
    sessions,
    tokens,
    secret,
    issuer: ISSUER,
    audience: AUDIENCE,
    clients: [{ id: 'web' }, { id: 'cli' }, { id: 'mobile', dpop: true }],
    clock,
    ...options.service,
  })
  await service.init()
  const { session } = await sessions.create({
    principal: 'user-42',
    auth: { level: 2, factors: ['password', 'totp'] },
    ip: '203.0.113.9',
  })
  return { clock, store, sessions, tokens, secret, service, session }
}

/** Runs `fn`, expects a ParleyError, and returns it. */
export async function rejection(fn: () => Promise<unknown>): Promise<ParleyError> {
  try {
    await fn()
  } catch (err) {
    if (isParleyError(err)) return err
    throw err
  }
  return expect.fail('expected a ParleyError')
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A compact JWS from a header, a payload and a signature (base64url), without any checks. */
export function compact(header: object, payload: object, signature = ''): string {
  return `${b64(header)}.${b64(payload)}.${signature}`
}

/** The header and claims of a JWT, decoded without verification. */
export function decode(token: string) {
  return {
    header: decodeProtectedHeader(token),
    claims: decodeJwt(token) as unknown as AccessTokenClaims,
  }
}

/** Signs `payload` with `key` under any header (for forged and malformed tokens). */
export function signWith(
  key: Pick<SigningKey, 'privateKey'>,
  header: Record<string, unknown> & { alg: string },
  payload: Record<string, unknown>,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey)
}
