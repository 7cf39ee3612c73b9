/** @module The session model: records, states, the closed set of end reasons, and audit events. */

/**
 * Why a session ended: exactly one of these is recorded for every ended session.
 * docs/concepts.md explains each.
 */
export const END_REASONS = [
  'logout',
  'idle_timeout',
  'absolute_timeout',
  'revoked',
  'revoked_all',
  'password_changed',
  'factor_changed',
  'principal_disabled',
  'privilege_changed',
  'rotated',
  'refresh_reuse',
  'evicted_by_limit',
  'resume_window_expired',
] as const

export type EndReason = (typeof END_REASONS)[number]

export function isEndReason(value: unknown): value is EndReason {
  return typeof value === 'string' && (END_REASONS as readonly string[]).includes(value)
}

export type SessionState = 'active' | 'ended'

/** How the principal proved who it is when the session was established (SEC-09). */
export interface AuthContext {
  /** Factors used, for example `['password', 'totp']`; empty when a back end vouched. */
  factors: string[]
  /** Assurance level: 1 for one factor, 2 for two, as the application defines. */
  level: number
  /** When the principal last authenticated (epoch ms). */
  authenticatedAt: number
  /** Roles of the principal, copied in at sign-in and refreshed when they change (SEC-36). */
  roles?: string[]
  /** Permissions of the principal, copied in at sign-in and refreshed when they change. */
  permissions?: string[]
}

export interface ClientInfo {
  ip: string | null
  userAgent: string | null
}

/** A session as the store keeps it. `secretHash` never leaves the server. */
export interface SessionRecord {
  id: string
  secretHash: string
  principal: string
  state: SessionState
  createdAt: number
  lastSeenAt: number
  /** Idle timeout of this session in ms; the idle expiry slides by it at each touch. */
  idleTimeoutMs: number
  /** lastSeenAt + idleTimeoutMs, never later than absoluteExpiresAt (SEC-11). */
  idleExpiresAt: number
  absoluteExpiresAt: number
  endedAt: number | null
  endReason: EndReason | null
  auth: AuthContext
  client: ClientInfo
  /** Small application data (a JSON object, bounded by policy). */
  data: Record<string, unknown>
  /** Optimistic concurrency: bumped by every update and by the end; never by a touch. */
  version: number
}

/** A session as callers see it: the record without its secret hash. */
export type Session = Omit<SessionRecord, 'secretHash'>

export function toSession(record: SessionRecord): Session {
  const { secretHash: _ignored, ...session } = record
  return session
}

/**
 * A deep copy of a record, written out field by field (`structuredClone` costs several
 * microseconds a call, and this runs on the hot path when a record is shared, as cached ones are).
 */
export function copyRecord(r: SessionRecord): SessionRecord {
  return { ...r, auth: copyAuth(r.auth), client: { ...r.client }, data: copyData(r.data) }
}

export function copyAuth(auth: AuthContext): AuthContext {
  const copy: AuthContext = {
    factors: [...auth.factors],
    level: auth.level,
    authenticatedAt: auth.authenticatedAt,
  }
  if (auth.roles !== undefined) copy.roles = [...auth.roles]
  if (auth.permissions !== undefined) copy.permissions = [...auth.permissions]
  return copy
}

/** Session data is plain JSON (the core checks it), so a JSON round trip copies it exactly. */
export function copyData(data: Record<string, unknown>): Record<string, unknown> {
  for (const _key in data) return JSON.parse(JSON.stringify(data))
  return {}
}

/** The earlier of the two deadlines: when this session stops being valid unless touched. */
export function expiresAt(
  record: Pick<SessionRecord, 'idleExpiresAt' | 'absoluteExpiresAt'>,
): number {
  return Math.min(record.idleExpiresAt, record.absoluteExpiresAt)
}

/** Which timeout ends a session that has expired: the deadline that came first. */
export function expiryReason(
  record: Pick<SessionRecord, 'idleExpiresAt' | 'absoluteExpiresAt'>,
): 'idle_timeout' | 'absolute_timeout' {
  return record.idleExpiresAt < record.absoluteExpiresAt ? 'idle_timeout' : 'absolute_timeout'
}

export const EVENT_TYPES = [
  'session.created',
  'session.updated',
  'session.ended',
  'api_key.created',
  'api_key.revoked',
  'user.created',
  'user.disabled',
  'user.enabled',
  'user.privileges_changed',
  'auth.sign_in',
  'auth.sign_in_failed',
  'auth.locked',
  'auth.reauthenticated',
  'auth.password_changed',
  'auth.factor_changed',
  'token.issued',
  'token.refreshed',
  'token.reuse_detected',
  'token.revoked',
  'signing_key.created',
  'live.started',
  'live.resumed',
  'live.ended',
] as const

export type EventType = (typeof EVENT_TYPES)[number]

/** What happened, to whom, when, from where and why. Never holds a secret (SEC-04, SEC-57). */
export interface AuditEventInput {
  at: number
  type: EventType
  sessionId: string | null
  principal: string | null
  reason: EndReason | null
  /** Who caused it: `system` (timeouts, limits), `api_key:<id>`, `cli`, `principal`. */
  actor: string | null
  ip: string | null
  userAgent: string | null
  detail: Record<string, unknown> | null
}

/** A recorded event; `id` orders events within one store. */
export interface AuditEvent extends AuditEventInput {
  id: string
}

/** Who and where an end or change came from, recorded with its event. */
export interface ActionContext {
  at: number
  actor?: string | null
  ip?: string | null
  userAgent?: string | null
}

/** An event about one session, from who and where `ctx` says. */
function sessionEvent(
  type: EventType,
  record: SessionRecord,
  ctx: ActionContext,
  fields: Pick<AuditEventInput, 'at' | 'reason' | 'detail'>,
): AuditEventInput {
  return {
    type,
    sessionId: record.id,
    principal: record.principal,
    actor: ctx.actor ?? null,
    ip: ctx.ip ?? null,
    userAgent: ctx.userAgent ?? null,
    ...fields,
  }
}

/** The `session.ended` event, with its one reason. */
export function endedEvent(
  record: SessionRecord,
  reason: EndReason,
  ctx: ActionContext,
): AuditEventInput {
  return sessionEvent('session.ended', record, ctx, { at: ctx.at, reason, detail: null })
}

/** The `session.created` event, with the factors and level it was established with (SEC-09). */
export function createdEvent(record: SessionRecord, ctx: ActionContext): AuditEventInput {
  const detail = { factors: record.auth.factors, level: record.auth.level }
  return sessionEvent('session.created', record, ctx, {
    at: record.createdAt,
    reason: null,
    detail,
  })
}

/** The `session.updated` event of a record at its new version. */
export function updatedEvent(record: SessionRecord, ctx: ActionContext): AuditEventInput {
  const detail = { version: record.version }
  return sessionEvent('session.updated', record, ctx, { at: ctx.at, reason: null, detail })
}

/** Returns the record as it is once ended with `reason` at `ctx.at`. */
export function endRecord(record: SessionRecord, reason: EndReason, at: number): SessionRecord {
  return { ...record, state: 'ended', endedAt: at, endReason: reason, version: record.version + 1 }
}
