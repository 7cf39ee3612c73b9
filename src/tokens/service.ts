/**
 * @module TokenService: access and refresh tokens for sessions. Issues a pair, rotates the refresh
 * token at every use with reuse detection and a grace window (SEC-43, SEC-44), revokes (RFC 7009),
 * introspects (RFC 7662), and serves the JWKS and an in-process verifier.
 */
import { type Clock, systemClock } from '../core/clock.ts'
import { isParleyError, ParleyError } from '../core/errors.ts'
import type { Session } from '../core/session.ts'
import type { Sessions } from '../core/sessions.ts'
import { issueToken, newId, parseToken, secretMatches, TOKEN_PREFIXES } from '../core/token.ts'
import { type AccessTokenClaims, accessClaims, accessTimes, signAccessToken } from './access.ts'
import { DenyList } from './deny-list.ts'
import { storeCall } from './flight.ts'
import {
  accessIntrospection,
  INACTIVE,
  type Introspection,
  refreshIntrospection,
} from './introspection.ts'
import type { Jwks } from './jwks.ts'
import { KeyRing } from './key-ring.ts'
import { refreshRecord, refreshToken, Successors } from './refresh.ts'
import {
  clientOf,
  jktOf,
  type ResolvedTokenOptions,
  resolveTokenOptions,
  type TokenRequest,
  type TokenResponse,
  type TokenServiceOptions,
  tokenResponse,
} from './service-options.ts'
import { type TokenContext, tokenEvent } from './token-events.ts'
import type { RefreshRecord, TokenStore } from './token-store.ts'
import { Verifier } from './verifier.ts'

const refreshInvalid = () => new ParleyError('ERR_REFRESH_INVALID')
const sessionGone = (err: unknown) =>
  isParleyError(err, 'ERR_SESSION_ENDED') || isParleyError(err, 'ERR_SESSION_NOT_FOUND')

/**
 * Access and refresh tokens for Parley sessions.
 *
 * @example
 * const tokens = new TokenService({
 *   sessions, tokens: store.tokens(), secret, issuer: 'https://auth.example',
 *   audience: 'https://api.example', clients: [{ id: 'web' }],
 * })
 * await tokens.init()
 * const pair = await tokens.issue(session, { clientId: 'web' })
 * const next = await tokens.refresh(pair.refresh_token, { clientId: 'web' })
 * const claims = await tokens.verifier().verify(next.access_token)
 */
export class TokenService {
  readonly issuer: string
  readonly audience: string
  readonly options: Readonly<ResolvedTokenOptions>
  readonly keyRing: KeyRing
  readonly denyList: DenyList
  /** Where failures that must not fail a request go (a lost audit line after a saved rotation). */
  readonly #onError: (err: unknown) => void
  readonly #sessions: Sessions
  readonly #tokens: TokenStore
  readonly #clock: Clock
  readonly #successors: Successors
  readonly #verifier: Verifier

  constructor(options: TokenServiceOptions) {
    this.options = Object.freeze(resolveTokenOptions(options))
    const { accessTtlMs, clockSkewMs } = this.options
    this.issuer = options.issuer
    this.audience = options.audience
    this.#sessions = options.sessions
    this.#tokens = options.tokens
    this.#clock = options.clock ?? systemClock
    this.#successors = new Successors(options.secret)
    const store = options.sessions.store
    this.keyRing = new KeyRing({
      tokens: options.tokens,
      secret: options.secret,
      clock: this.#clock,
      alg: options.alg,
      rotationMs: options.rotationMs,
      accessTtlMs,
      clockSkewMs,
      audit: (event) => storeCall(() => store.appendEvent(event)),
    })
    this.#onError = options.denyList?.onError ?? (() => {})
    this.denyList = new DenyList({
      ...options.denyList,
      source: store,
      clock: this.#clock,
      maxAccessTtlMs: accessTtlMs,
      clockSkewMs,
    })
    this.#verifier = new Verifier({
      issuer: this.issuer,
      audience: this.audience,
      keys: this.keyRing,
      clockSkewMs,
      denyList: this.denyList,
      clock: this.#clock,
    })
  }

  /** Loads (or creates) the signing keys and starts the deny list's feed. The stores must be open. */
  async init(): Promise<void> {
    await this.keyRing.ensureCurrent()
    await this.denyList.start()
  }

  /** Stops the deny list's feed. The stores stay open: they belong to the caller. */
  async close(): Promise<void> {
    await this.denyList.close()
  }

  /** The public JWKS of every signing key not yet expired. */
  jwks(): Promise<Jwks> {
    return this.keyRing.jwks()
  }

  /** The in-process verifier: this service's keys and deny list. */
  verifier(): Verifier {
    return this.#verifier
  }

  /**
   * Issues an access token and a refresh token for an active session. Throws ERR_CLIENT_INVALID for
   * an unknown client, ERR_DPOP_INVALID when a DPoP client gives no key, ERR_SESSION_ENDED.
   *
   * @example
   * const { access_token, refresh_token } = await tokens.issue(session, { clientId: 'web' })
   */
  async issue(
    session: Pick<Session, 'id'>,
    request: TokenRequest,
    ctx: TokenContext = {},
  ): Promise<TokenResponse> {
    const client = clientOf(this.options.clients, request.clientId)
    const jkt = jktOf(client, request.jkt)
    const current = await storeCall(() => this.#sessions.get(session.id))
    if (current.state !== 'active') {
      throw new ParleyError('ERR_SESSION_ENDED', undefined, {
        details: { reason: current.endReason },
      })
    }
    const now = this.#clock.now()
    const claims = accessClaims({ ...this.#claimBase(current, client.id, jkt), now })
    const access = await this.#sign(claims)
    const issued = issueToken('refresh')
    const { refreshTtlMs } = this.options
    const binding = { sessionId: current.id, clientId: client.id, jkt }
    const record = refreshRecord(
      issued.id,
      issued.secretHash,
      binding,
      now,
      refreshTtlMs,
      current.absoluteExpiresAt,
    )
    await storeCall(() => this.#tokens.createRefresh(record))
    await this.#audit('token.issued', current, ctx, client.id, {
      refreshId: record.id,
      jti: claims.jti,
    })
    return tokenResponse(access, claims, issued.token, now)
  }

  /**
   * Exchanges a refresh token for a new pair and retires it. A rotated token presented again within
   * `graceMs` yields the identical pair (concurrent requests, SEC-44); later, it ends the session with
   * `refresh_reuse` (SEC-43). Throws ERR_REFRESH_INVALID, ERR_CLIENT_INVALID, ERR_DPOP_INVALID, or
   * ERR_STORE_UNAVAILABLE, which never ends the session.
   *
   * @example
   * const next = await tokens.refresh(body.refresh_token, { clientId, jkt }, { ip, userAgent })
   */
  async refresh(
    token: unknown,
    request: TokenRequest,
    ctx: TokenContext = {},
  ): Promise<TokenResponse> {
    const client = clientOf(this.options.clients, request.clientId)
    const jkt = jktOf(client, request.jkt)
    const { record, secret } = await this.#findRefresh(token)
    if (record === null || record.clientId !== client.id) throw refreshInvalid()
    if (record.jkt !== jkt) throw new ParleyError('ERR_DPOP_INVALID', 'bound to another DPoP key')
    const now = this.#clock.now()
    if (now >= record.expiresAt) throw refreshInvalid()
    if (record.rotatedAt !== null) return this.#presentedAgain(record, secret, ctx)

    let session: Session
    try {
      session = await storeCall(() => this.#sessions.touch(record.sessionId, ctx))
    } catch (err) {
      throw sessionGone(err) ? refreshInvalid() : err
    }
    const { accessTtlMs, refreshTtlMs } = this.options
    const successor = this.#successors.record(
      record,
      secret,
      now,
      refreshTtlMs,
      session.absoluteExpiresAt,
    )
    const access = { jti: newId(), ...accessTimes(now, accessTtlMs, session) }
    // The pair is signed before the rotation is saved: once it is saved, nothing may fail any more,
    // or a client told "503" would retry with its old token after the grace window and be taken
    // for a thief (refresh_reuse).
    const planned = {
      ...record,
      rotatedAt: now,
      successorId: successor.id,
      successorAccess: access,
    }
    const pair = await this.#successorPair(session, planned, secret, now)
    const result = await storeCall(() =>
      this.#tokens.rotateRefresh(record.id, successor, access, now),
    )
    if (result.status === 'missing') throw refreshInvalid()
    if (result.status === 'already') return this.#presentedAgain(result.record, secret, ctx)
    try {
      await this.#audit('token.refreshed', session, ctx, client.id, {
        refreshId: record.id,
        successorId: successor.id,
        jti: access.jti,
      })
    } catch (err) {
      // The rotation is saved (the refresh record says when and into what): a lost audit line
      // must not turn a good refresh into a failure.
      this.#onError(err)
    }
    return pair
  }

  /**
   * Revokes a refresh or access token (RFC 7009): its session ends with `revoked`. Unknown, invalid,
   * expired or another client's tokens change nothing and raise nothing (the answer is 200 either
   * way). Returns true when a session was ended.
   *
   * @example
   * await tokens.revoke(body.token, { clientId }) // then answer 200 whatever it returned
   */
  async revoke(
    token: unknown,
    request: { clientId?: string } = {},
    ctx: TokenContext = {},
  ): Promise<boolean> {
    if (typeof token === 'string' && token.startsWith(TOKEN_PREFIXES.refresh)) {
      const { record } = await this.#findRefresh(token)
      if (record === null || (request.clientId ?? record.clientId) !== record.clientId) return false
      return this.#revokeSession(record.sessionId, 'refresh_token', record.clientId, ctx)
    }
    const claims = await this.#verifiedOrNull(token)
    if (claims === null || (request.clientId ?? claims.client_id) !== claims.client_id) return false
    return this.#revokeSession(claims.sid, 'access_token', claims.client_id, ctx)
  }

  /**
   * Introspects a token (RFC 7662): the listed facts of an active token, and `{ active: false }` for
   * anything unknown, expired, rotated, revoked, malformed or issued elsewhere (SEC-45).
   *
   * @example
   * const answer = await tokens.introspect(body.token) // { active: false } or the listed claims
   */
  async introspect(token: unknown): Promise<Introspection> {
    if (typeof token === 'string' && token.startsWith(TOKEN_PREFIXES.refresh)) {
      const { record } = await this.#findRefresh(token)
      if (record === null || record.rotatedAt !== null) return INACTIVE
      if (this.#clock.now() >= record.expiresAt) return INACTIVE
      const session = await this.#activeOrNull(record.sessionId)
      if (session === null) return INACTIVE
      return refreshIntrospection(record, session, this.issuer, this.audience)
    }
    const claims = await this.#verifiedOrNull(token)
    if (claims === null || (await this.#activeOrNull(claims.sid)) === null) return INACTIVE
    return accessIntrospection(claims)
  }

  /** Deletes expired refresh tokens and signing keys; returns how many refresh tokens went. */
  async sweep(batch = 500): Promise<number> {
    const now = this.#clock.now()
    let purged = 0
    for (;;) {
      const n = await storeCall(() => this.#tokens.purgeRefresh(now, batch))
      purged += n
      if (n < batch) break
    }
    await storeCall(() => this.#tokens.purgeSigningKeys(now))
    return purged
  }

  /** Parses and looks up a refresh token, checking its secret in constant time. */
  async #findRefresh(token: unknown): Promise<{ record: RefreshRecord | null; secret: string }> {
    const parsed = parseToken('refresh', token)
    if (parsed === null) {
      secretMatches(null, '')
      return { record: null, secret: '' }
    }
    const record = await storeCall(() => this.#tokens.getRefresh(parsed.id))
    const ok = secretMatches(record?.secretHash, parsed.secret)
    return { record: ok ? record : null, secret: parsed.secret }
  }

  /** A rotated token again: the same pair within the grace window, else reuse (SEC-43, SEC-44). */
  async #presentedAgain(
    record: RefreshRecord,
    secret: string,
    ctx: TokenContext,
  ): Promise<TokenResponse> {
    const now = this.#clock.now()
    const rotatedAt = record.rotatedAt ?? now
    if (now - rotatedAt <= this.options.graceMs) {
      const session = await this.#activeOrNull(record.sessionId)
      if (session === null) throw refreshInvalid()
      return this.#successorPair(session, record, secret, now)
    }
    let ended: Session | null = null
    try {
      const result = await storeCall(() =>
        this.#sessions.end(record.sessionId, 'refresh_reuse', { ...ctx, actor: 'system' }),
      )
      ended = result.session
      this.denyList.add(ended.id, ended.endReason)
    } catch (err) {
      if (!isParleyError(err, 'ERR_SESSION_NOT_FOUND')) throw err
    }
    await this.#audit(
      'token.reuse_detected',
      { id: record.sessionId, principal: ended?.principal ?? null },
      ctx,
      record.clientId,
      { refreshId: record.id, rotatedAt },
      'system',
    )
    throw refreshInvalid()
  }

  /** The pair a rotation minted, rebuilt from the stored successor facts and the presented secret. */
  async #successorPair(
    session: Session,
    record: RefreshRecord,
    secret: string,
    now: number,
  ): Promise<TokenResponse> {
    const access = record.successorAccess
    if (record.successorId === null || access === null) throw refreshInvalid()
    const claims = accessClaims({
      ...this.#claimBase(session, record.clientId, record.jkt),
      now,
      ...access,
    })
    const token = refreshToken(record.successorId, this.#successors.secret(secret))
    return tokenResponse(await this.#sign(claims), claims, token, now)
  }

  #claimBase(session: Session, clientId: string, jkt: string | null) {
    return {
      issuer: this.issuer,
      audience: this.audience,
      session,
      clientId,
      jkt,
      ttlMs: this.options.accessTtlMs,
    }
  }

  /** Signs with the key current at the token's issue second, so a re-signing picks the same key. */
  async #sign(claims: AccessTokenClaims): Promise<string> {
    return signAccessToken(await this.keyRing.signingKey(claims.iat * 1000 + 999), claims)
  }

  async #activeOrNull(sid: string): Promise<Session | null> {
    try {
      const session = await storeCall(() => this.#sessions.get(sid))
      return session.state === 'active' ? session : null
    } catch (err) {
      if (sessionGone(err)) return null
      throw err
    }
  }

  /** The claims of a valid access token of this service, or null; a store outage still throws. */
  async #verifiedOrNull(token: unknown): Promise<Readonly<AccessTokenClaims> | null> {
    try {
      // The caller of introspection or revocation checks DPoP itself: `cnf` is reported.
      return await this.#verifier.verify(token, async () => {})
    } catch (err) {
      if (isParleyError(err, 'ERR_STORE_UNAVAILABLE')) throw err
      return null
    }
  }

  async #revokeSession(
    sid: string,
    tokenType: 'access_token' | 'refresh_token',
    clientId: string,
    ctx: TokenContext,
  ): Promise<boolean> {
    let result: { session: Session; ended: boolean }
    try {
      result = await storeCall(() =>
        this.#sessions.end(sid, 'revoked', { ...ctx, actor: `client:${clientId}` }),
      )
    } catch (err) {
      if (isParleyError(err, 'ERR_SESSION_NOT_FOUND')) return false
      throw err
    }
    this.denyList.add(sid, result.session.endReason)
    if (!result.ended) return false
    await this.#audit('token.revoked', result.session, ctx, clientId, { tokenType })
    return true
  }

  #audit(
    type: Parameters<typeof tokenEvent>[0],
    session: { id: string; principal: string | null },
    ctx: TokenContext,
    clientId: string,
    detail: Record<string, unknown>,
    actor?: string,
  ): Promise<void> {
    const event = tokenEvent(type, this.#clock.now(), session, ctx, clientId, detail, actor)
    return storeCall(() => this.#sessions.store.appendEvent(event))
  }
}
