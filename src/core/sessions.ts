/**
 * @module The session manager: establish, validate (the hot path), touch, update, end, list, sweep.
 * It holds the rules; the store holds the state and makes each step atomic.
 */
import { SessionCache, type SessionCacheOptions } from './cache.ts'
import { type Clock, systemClock } from './clock.ts'
import { ParleyError } from './errors.ts'
import { resolvePolicy, type SessionPolicy } from './policy.ts'
import {
  type ActionContext,
  type AuditEvent,
  type AuthContext,
  copyRecord,
  type EndReason,
  expiresAt,
  expiryReason,
  type Session,
  type SessionRecord,
  toSession,
} from './session.ts'
import type { EventQuery, SessionStore } from './store.ts'
import { issueToken, isWellFormedId, parseToken, secretMatches } from './token.ts'

export interface CreateSessionInput {
  principal: string
  auth?: Partial<AuthContext>
  ip?: string | null
  userAgent?: string | null
  data?: Record<string, unknown>
  /** Shorter (or, for a trusted back end, longer) timeouts for this session than the policy's. */
  idleTimeoutMs?: number
  absoluteTimeoutMs?: number
  actor?: string | null
}

export interface ValidateOptions {
  /** Slide the idle expiry when the last touch is older than the touch interval. Default true. */
  touch?: boolean
  ip?: string | null
  userAgent?: string | null
}

export interface SessionsOptions {
  store: SessionStore
  clock?: Clock
  policy?: Partial<SessionPolicy>
}

export interface EndResult {
  session: Session
  /** False when the session had already ended: its first reason stands. */
  ended: boolean
}

const MAX_PRINCIPAL = 256
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/

export function checkPrincipal(principal: unknown): string {
  if (typeof principal !== 'string' || principal.length === 0 || principal.length > MAX_PRINCIPAL) {
    throw new ParleyError(
      'ERR_VALIDATION',
      `principal must be a string of 1 to ${MAX_PRINCIPAL} characters`,
    )
  }
  if (!principal.isWellFormed()) {
    // a lone surrogate cannot be stored as UTF-8: two such principals would collide (SEC-54)
    throw new ParleyError('ERR_VALIDATION', 'principal must be well-formed Unicode')
  }
  if (CONTROL.test(principal)) {
    throw new ParleyError('ERR_VALIDATION', 'principal must not contain control characters')
  }
  return principal
}

/** Optional client text (ip, user agent): bounded, well-formed, no control characters. */
function checkText(name: string, value: unknown, max: number): void {
  if (value === undefined || value === null) return
  if (
    typeof value !== 'string' ||
    value.length > max ||
    !value.isWellFormed() ||
    CONTROL.test(value)
  ) {
    throw new ParleyError('ERR_VALIDATION', `${name} must be text of at most ${max} characters`)
  }
}

function invalid(): ParleyError {
  return new ParleyError('ERR_SESSION_INVALID')
}

function endedError(reason: EndReason | null): ParleyError {
  return new ParleyError('ERR_SESSION_ENDED', undefined, { details: { reason } })
}

/**
 * The session manager.
 *
 * @example
 * const sessions = new Sessions({ store: new MemoryStore() })
 * const { token } = await sessions.create({ principal: 'user-42', ip: '203.0.113.9' })
 * const session = await sessions.validate(token) // throws ParleyError when not valid
 */
export class Sessions {
  readonly store: SessionStore
  readonly clock: Clock
  readonly policy: SessionPolicy
  #cache: SessionCache | null = null
  #unwatch: (() => Promise<void>) | null = null

  constructor(options: SessionsOptions) {
    this.store = options.store
    this.clock = options.clock ?? systemClock
    this.policy = resolvePolicy(options.policy)
  }

  /** Establishes a session and returns it with its token; the token is shown once, never stored. */
  async create(
    input: CreateSessionInput,
  ): Promise<{ session: Session; token: string; ended: Session[] }> {
    const principal = checkPrincipal(input.principal)
    const now = this.clock.now()
    const idle = input.idleTimeoutMs ?? this.policy.idleTimeoutMs
    const absolute = input.absoluteTimeoutMs ?? this.policy.absoluteTimeoutMs
    if (!Number.isInteger(idle) || idle < 1000 || !Number.isInteger(absolute) || absolute < idle) {
      throw new ParleyError(
        'ERR_VALIDATION',
        'timeouts must be whole ms, idle >= 1000 and idle <= absolute',
      )
    }
    const data = input.data ?? {}
    this.checkData(data)
    checkText('ip', input.ip, 64)
    checkText('userAgent', input.userAgent, 512)
    const issued = issueToken('session')
    const absoluteExpiresAt = now + absolute
    const record: SessionRecord = {
      id: issued.id,
      secretHash: issued.secretHash,
      principal,
      state: 'active',
      createdAt: now,
      lastSeenAt: now,
      idleTimeoutMs: idle,
      idleExpiresAt: Math.min(now + idle, absoluteExpiresAt),
      absoluteExpiresAt,
      endedAt: null,
      endReason: null,
      auth: {
        factors: input.auth?.factors ?? [],
        level: input.auth?.level ?? 0,
        authenticatedAt: input.auth?.authenticatedAt ?? now,
        ...(input.auth?.roles !== undefined ? { roles: [...input.auth.roles] } : {}),
        ...(input.auth?.permissions !== undefined
          ? { permissions: [...input.auth.permissions] }
          : {}),
      },
      client: { ip: input.ip ?? null, userAgent: input.userAgent ?? null },
      data,
      version: 1,
    }
    const result = await this.store.create({
      record,
      maxPerPrincipal: this.policy.maxSessionsPerPrincipal,
      onLimit: this.policy.onLimit,
      context: {
        at: now,
        actor: input.actor ?? null,
        ip: record.client.ip,
        userAgent: record.client.userAgent,
      },
    })
    for (const e of result.ended) this.#cache?.invalidate(e.id)
    return { session: toSession(record), token: issued.token, ended: result.ended.map(toSession) }
  }

  /**
   * The hot path: is this token a live session? Returns the session, or throws
   * ERR_SESSION_INVALID (malformed, unknown id or wrong secret: one code for all, SEC-03),
   * ERR_SESSION_ENDED (with `details.reason`) or ERR_STORE_UNAVAILABLE (fail closed, SEC-56).
   */
  async validate(token: unknown, options: ValidateOptions = {}): Promise<Session> {
    const parsed = parseToken('session', token)
    if (parsed === null) {
      secretMatches(null, typeof token === 'string' ? token.slice(0, 64) : '')
      throw invalid()
    }
    const cache = this.#cache
    if (cache !== null) {
      const cached = cache.get(parsed.id, this.clock.now())
      if (cached !== undefined) {
        if (!secretMatches(cached.secretHash, parsed.secret)) throw invalid()
        return this.check(cached, options, false, true)
      }
    }
    const generation = cache?.generation() ?? 0
    const record = await this.store.get(parsed.id)
    if (!secretMatches(record?.secretHash, parsed.secret) || record === null) throw invalid()
    if (cache === null) return this.check(record, options)
    // The cached object is shared with later requests: the caller gets its own copy.
    cache.set(record, this.clock.now(), generation)
    return this.check(record, options, false, true)
  }

  /**
   * Turns on the local session cache, for stores with a change feed (Redis): a hot session then
   * costs no store round trip. An ended session stops validating here as soon as the store's
   * notification arrives, and at the latest after `ttlMs`; while the feed is down nothing is
   * served from the cache. Resolves once subscribed; does nothing for stores without a feed.
   */
  async enableCache(options: SessionCacheOptions = {}): Promise<boolean> {
    if (this.#cache !== null || this.store.watch === undefined) return this.#cache !== null
    const cache = new SessionCache(options)
    this.#unwatch = await this.store.watch((change) => cache.apply(change))
    this.#cache = cache
    return true
  }

  /** The cache, when enabled (for metrics and tests). */
  get cache(): SessionCache | null {
    return this.#cache
  }

  /** Stops the store's change feed (the store itself stays open). */
  async close(): Promise<void> {
    const unwatch = this.#unwatch
    this.#unwatch = null
    this.#cache?.apply({ type: 'link', up: false })
    this.#cache = null
    await unwatch?.()
  }

  /** Returns the session with this id, ending it first if it expired. Throws ERR_SESSION_NOT_FOUND. */
  async get(id: string): Promise<Session> {
    const record = isWellFormedId(id) ? await this.store.get(id) : null
    if (record === null) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    if (record.state === 'active' && this.clock.now() >= expiresAt(record)) {
      return (await this.expire(record)).session
    }
    return toSession(record)
  }

  /** Marks activity on a session by id (as validate does, but without a token). */
  async touch(id: string, options: Omit<ValidateOptions, 'touch'> = {}): Promise<Session> {
    const record = isWellFormedId(id) ? await this.store.get(id) : null
    if (record === null) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    return this.check(record, { ...options, touch: true }, true)
  }

  /** Replaces the data (and optionally the auth context) when `expectedVersion` still holds. */
  async update(
    id: string,
    expectedVersion: number,
    patch: { data?: Record<string, unknown>; auth?: AuthContext },
    context: Omit<ActionContext, 'at'> = {},
  ): Promise<Session> {
    if (!isWellFormedId(id)) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    if (patch.data !== undefined) this.checkData(patch.data)
    const record = await this.store.get(id)
    if (record === null) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    if (record.state === 'active' && this.clock.now() >= expiresAt(record)) {
      await this.expire(record)
      throw endedError(expiryReason(record))
    }
    this.#cache?.invalidate(id)
    const updated = await this.store.update(id, expectedVersion, patch, {
      ...context,
      at: this.clock.now(),
    })
    this.#cache?.invalidate(id)
    return toSession(updated)
  }

  /** Ends a session with a reason. Ending an ended session changes nothing and says so. */
  async end(
    id: string,
    reason: EndReason,
    context: Omit<ActionContext, 'at'> = {},
  ): Promise<EndResult> {
    if (!isWellFormedId(id)) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    // A session whose timeout passed before anyone swept it ended by that timeout, not by `reason`.
    const current = await this.store.get(id)
    if (current === null) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    if (current.state === 'active' && this.clock.now() >= expiresAt(current)) {
      const expired = await this.expire(current)
      return { session: expired.session, ended: false }
    }
    const ended = await this.store.end(id, reason, { ...context, at: this.clock.now() })
    this.#cache?.invalidate(id)
    if (ended !== null) return { session: toSession(ended), ended: true }
    const record = await this.store.get(id)
    if (record === null) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    return { session: toSession(record), ended: false }
  }

  /** Ends every session of a principal (or every other one, with `exceptId`). */
  async endByPrincipal(
    principal: string,
    reason: EndReason,
    context: Omit<ActionContext, 'at'> = {},
    exceptId?: string,
  ): Promise<Session[]> {
    checkPrincipal(principal)
    await this.sweepExpired() // sessions already timed out keep their timeout as the reason
    const ended = await this.store.endByPrincipal(
      principal,
      reason,
      { ...context, at: this.clock.now() },
      exceptId,
    )
    for (const e of ended) this.#cache?.invalidate(e.id)
    return ended.map(toSession)
  }

  /** Ends every active session in the store (an administrator's last resort, SEC-17). */
  async endAll(reason: EndReason, context: Omit<ActionContext, 'at'> = {}): Promise<number> {
    await this.sweepExpired()
    const n = await this.store.endAll(reason, { ...context, at: this.clock.now() })
    this.#cache?.flush()
    return n
  }

  /** Active, unexpired sessions of a principal, most recently used first. */
  async list(principal: string): Promise<Session[]> {
    checkPrincipal(principal)
    const now = this.clock.now()
    const records = await this.store.listByPrincipal(principal)
    return records.filter((r) => now < expiresAt(r)).map(toSession)
  }

  /** The audit trail of a session or a principal, oldest first. */
  async events(query: EventQuery): Promise<AuditEvent[]> {
    if (query.principal !== undefined) checkPrincipal(query.principal)
    else if (!isWellFormedId(query.sessionId)) return []
    return this.store.events(query)
  }

  /**
   * Ends every expired session with its timeout reason and purges what passed retention.
   * Run it on a timer; validation refuses expired sessions without waiting for it (SEC-13).
   */
  async sweep(batch = 500): Promise<{ ended: number; purged: number }> {
    const now = this.clock.now()
    const ended = await this.sweepExpired(batch)
    let purged = 0
    for (;;) {
      const n = await this.store.purge(now - this.policy.retentionMs, batch)
      purged += n
      if (n < batch) break
    }
    return { ended, purged }
  }

  /** Ends every session whose timeout has passed, with its timeout reason; returns how many. */
  private async sweepExpired(batch = 500): Promise<number> {
    const now = this.clock.now()
    let ended = 0
    for (;;) {
      const done = await this.store.sweep(now, batch)
      for (const e of done) this.#cache?.invalidate(e.id)
      ended += done.length
      if (done.length < batch) return ended
    }
  }

  private async check(
    record: SessionRecord,
    options: ValidateOptions,
    forceTouch = false,
    fromCache = false,
  ): Promise<Session> {
    if (record.state === 'ended') throw endedError(record.endReason)
    const now = this.clock.now()
    if (now >= expiresAt(record)) {
      if (fromCache) {
        // Another node may have touched it since it was cached: only the store can say it expired.
        const fresh = await this.store.get(record.id)
        if (fresh === null) throw invalid()
        return this.check(fresh, options, forceTouch)
      }
      await this.expire(record)
      throw endedError(expiryReason(record))
    }
    const due = forceTouch || now - record.lastSeenAt >= this.policy.touchIntervalMs
    if (options.touch === false || !due || now <= record.lastSeenAt) {
      return fromCache ? toSession(copyRecord(record)) : toSession(record)
    }
    const generation = this.#cache?.generation() ?? 0
    const touched = await this.store.touch(record.id, {
      at: now,
      idleExpiresAt: Math.min(now + record.idleTimeoutMs, record.absoluteExpiresAt),
    })
    if (touched !== null) {
      this.#cache?.set(touched, now, generation)
      return toSession(copyRecord(touched))
    }
    // It ended (or expired) between our read and our write: the end stands.
    this.#cache?.invalidate(record.id)
    const current = await this.store.get(record.id)
    throw endedError(current?.endReason ?? expiryReason(record))
  }

  private async expire(record: SessionRecord): Promise<EndResult> {
    this.#cache?.invalidate(record.id)
    const reason = expiryReason(record)
    const ended = await this.store.end(record.id, reason, {
      at: expiresAt(record),
      actor: 'system',
    })
    if (ended !== null) return { session: toSession(ended), ended: true }
    const current = await this.store.get(record.id)
    return { session: toSession(current ?? record), ended: false }
  }

  private checkData(data: unknown): void {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new ParleyError('ERR_VALIDATION', 'data must be a JSON object')
    }
    const json = JSON.stringify(data, (_key, value) => {
      if (typeof value === 'string' && (!value.isWellFormed() || value.includes('\u0000'))) {
        throw new ParleyError(
          'ERR_VALIDATION',
          'data strings must be well-formed Unicode without NUL',
        )
      }
      return value
    })
    const size = Buffer.byteLength(json)
    if (size > this.policy.maxDataBytes) {
      throw new ParleyError(
        'ERR_VALIDATION',
        `data must be at most ${this.policy.maxDataBytes} bytes of JSON`,
      )
    }
  }
}
