/**
 * @module What every LiveStore adapter shares and no driver is needed for: the audit events of a
 * live session, the constant-time token-hash check (SEC-48), limits and the sweep's reason.
 */
import { timingSafeEqual } from 'node:crypto'
import type { ActionContext, AuditEventInput, EndReason, EventType } from '../core/session.ts'
import type { LiveCommit, LiveRecord } from '../live/live-store.ts'

/** Why the sweeper ends a live session whose resume window (or open lease) ran out. */
export const SWEEP_REASON: EndReason = 'resume_window_expired'

/** The most a batch (sweep, messages) reads at once: beyond, the caller asks again. */
export const MAX_LIVE_BATCH = 1_000_000

/**
 * An audit event about a live session. It is filed under the Parley session it belongs to
 * (`sessionId`), so it is found, and purged, with that session's events; `detail.live` names the
 * live session, `detail.gen` its generation at the time. Never holds a token or a payload.
 */
export function liveEvent(
  type: Extract<EventType, 'live.started' | 'live.resumed' | 'live.ended'>,
  record: Pick<LiveRecord, 'id' | 'sessionId' | 'principal' | 'gen'>,
  ctx: ActionContext,
  reason: EndReason | null = null,
): AuditEventInput {
  return {
    at: ctx.at,
    type,
    sessionId: record.sessionId,
    principal: record.principal,
    reason,
    actor: ctx.actor ?? null,
    ip: ctx.ip ?? null,
    userAgent: ctx.userAgent ?? null,
    detail: { live: record.id, gen: record.gen },
  }
}

/** Who resumes a live session: the holder of its resume token. */
export const RESUME_ACTOR = 'principal'

/**
 * Whether two token hashes are equal, in time that does not depend on where they differ (SEC-48).
 * Their length is public (every hash is a base64url SHA-256), so unequal lengths fail at once.
 */
export function sameHash(stored: string, given: string): boolean {
  if (typeof stored !== 'string' || typeof given !== 'string') return false
  const a = Buffer.from(stored, 'utf8')
  const b = Buffer.from(given, 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}

/** A count or limit as a whole number from 0 to MAX_LIVE_BATCH (NaN and negatives are 0). */
export function toBatch(limit: number): number {
  if (Number.isNaN(limit) || limit <= 0) return 0
  return Math.min(Math.floor(limit), MAX_LIVE_BATCH)
}

/**
 * Sets on `r` the fields a commit gives beside its messages and checkpoints: acks, the lost range,
 * inLast, turn, state (`suspended` sets suspendedAt = at, `open` clears it), expiresAt, and
 * `confirmToken` (clears prevTokenHash).
 */
export function applyFields(r: LiveRecord, c: LiveCommit): void {
  if (c.outAcked !== undefined) r.outAcked = c.outAcked
  if (c.outLostTo !== undefined) r.outLostTo = c.outLostTo
  if (c.outLostReason !== undefined) r.outLostReason = c.outLostReason
  if (c.inLast !== undefined) r.inLast = c.inLast
  if (c.turn !== undefined) r.turn = c.turn
  if (c.state === 'suspended') {
    r.state = 'suspended'
    r.suspendedAt = c.at
  } else if (c.state === 'open') {
    r.state = 'open'
    r.suspendedAt = null
  }
  if (c.expiresAt !== undefined) r.expiresAt = c.expiresAt
  if (c.confirmToken === true) r.prevTokenHash = null
}

/** Which stored hash a resume's token hash matched (both compared, in constant time). */
export type TokenMatch = 'current' | 'previous' | null

/** Matches `given` against the current and, while set, the previous token hash (SEC-48). */
export function matchToken(
  r: Pick<LiveRecord, 'tokenHash' | 'prevTokenHash'>,
  given: string,
): TokenMatch {
  const current = sameHash(r.tokenHash, given)
  const previous = r.prevTokenHash !== null && sameHash(r.prevTokenHash, given)
  return current ? 'current' : previous ? 'previous' : null
}

/** Whether a resume at `at` finds the record's window or lease run out (SEC-48). */
export const expiredAt = (r: Pick<LiveRecord, 'state' | 'expiresAt'>, at: number): boolean =>
  r.state !== 'ended' && r.expiresAt <= at

/**
 * Applies a successful resume to `r` (already matched, not ended, not expired): rotates the
 * token (a match on the current hash keeps it as prevTokenHash; on the previous one, prev stays),
 * gen + 1, state open, suspendedAt null, expiresAt.
 */
export function applyResume(
  r: LiveRecord,
  match: Exclude<TokenMatch, null>,
  input: { newTokenHash: string; expiresAt: number },
): void {
  if (match === 'current') r.prevTokenHash = r.tokenHash
  r.tokenHash = input.newTokenHash
  r.gen += 1
  r.state = 'open'
  r.suspendedAt = null
  r.expiresAt = input.expiresAt
}

/** How a resume that finds the window run out ends the record: as the sweeper does. */
export const expiryContext = (r: Pick<LiveRecord, 'expiresAt'>): ActionContext => ({
  at: r.expiresAt,
  actor: 'system',
})

/** Whether an id can be stored and compared exactly everywhere: well-formed Unicode, no NUL. */
export function storableId(id: unknown): id is string {
  return typeof id === 'string' && id.isWellFormed() && !id.includes('\u0000')
}

/** The columns of the SQL stores' `live_sessions` table, in the order of {@link liveParams}. */
export const LIVE_COLUMNS =
  'id, session_id, principal, token_hash, gen, mode, turn, state, created_at, suspended_at, expires_at, end_reason, ended_at, out_seq, out_acked, out_lost_to, out_lost_reason, in_last, prev_token_hash'

/** A record's values in {@link LIVE_COLUMNS} order (SQLite and PostgreSQL). */
export function liveParams(r: LiveRecord): (string | number | null)[] {
  return [
    r.id,
    r.sessionId,
    r.principal,
    r.tokenHash,
    r.gen,
    r.mode,
    r.turn,
    r.state,
    r.createdAt,
    r.suspendedAt,
    r.expiresAt,
    r.endReason,
    r.endedAt,
    r.outSeq,
    r.outAcked,
    r.outLostTo,
    r.outLostReason,
    r.inLast,
    r.prevTokenHash,
  ]
}
