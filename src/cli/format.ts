/** @module Human-readable output for the CLI: sessions, timelines and what each end reason means. */
import type { AuditEvent, EndReason, Session } from '../core/session.ts'
import { formatDuration } from '../server/duration.ts'

/** One sentence per end reason: the answer to "why was I logged out?". */
export const REASON_TEXT: Record<EndReason, string> = {
  logout: 'the user signed out',
  idle_timeout: 'no activity for longer than the idle timeout',
  absolute_timeout: 'the session reached its maximum lifetime (absolute timeout)',
  revoked: 'it was ended by an administrator, a back end, or the user from another session',
  revoked_all: 'all sessions of the principal (or all others) were ended',
  password_changed: 'the password was changed, which ends the other sessions',
  factor_changed: 'an authentication factor was added, changed or removed',
  principal_disabled: 'the account was disabled or deleted',
  privilege_changed: 'its privileges changed, so a new session replaced it',
  rotated: 'a new session id was issued in its place (sign-in or step-up)',
  refresh_reuse: 'a refresh token was used twice, a sign of theft, so the session was ended',
  evicted_by_limit:
    'the principal opened more sessions than allowed; this was the least recently used',
  resume_window_expired:
    'its live connection dropped and did not come back within the resume window',
}

const iso = (ms: number) => new Date(ms).toISOString()

export function formatSession(s: Session, now: number): string {
  const lines = [
    `session    ${s.id}`,
    `principal  ${s.principal}`,
    `state      ${s.state}${s.endReason ? ` (${s.endReason}: ${REASON_TEXT[s.endReason]})` : ''}`,
    `created    ${iso(s.createdAt)}`,
    `last seen  ${iso(s.lastSeenAt)}`,
  ]
  if (s.state === 'active') {
    lines.push(
      `expires    ${iso(Math.min(s.idleExpiresAt, s.absoluteExpiresAt))} (idle ${formatDuration(s.idleTimeoutMs)}, absolute ${iso(s.absoluteExpiresAt)}; in ${formatDuration(Math.max(0, Math.min(s.idleExpiresAt, s.absoluteExpiresAt) - now))})`,
    )
  } else if (s.endedAt !== null) {
    lines.push(`ended      ${iso(s.endedAt)}`)
  }
  lines.push(
    `auth       factors ${s.auth.factors.join(', ') || '(none)'}, level ${s.auth.level}, at ${iso(s.auth.authenticatedAt)}`,
  )
  lines.push(`client     ip ${s.client.ip ?? '-'}, user agent ${s.client.userAgent ?? '-'}`)
  lines.push(`version    ${s.version}`)
  return lines.join('\n')
}

export function formatSessionRow(s: Session): string {
  return [
    s.id,
    s.state,
    iso(s.createdAt),
    iso(s.lastSeenAt),
    s.client.ip ?? '-',
    s.client.userAgent ?? '-',
  ].join('  ')
}

export function formatEvent(e: AuditEvent): string {
  const parts = [iso(e.at), e.type.padEnd(16)]
  if (e.sessionId) parts.push(`session=${e.sessionId}`)
  if (e.principal) parts.push(`principal=${JSON.stringify(e.principal)}`)
  if (e.reason) parts.push(`reason=${e.reason}`)
  if (e.actor) parts.push(`by=${e.actor}`)
  if (e.ip) parts.push(`ip=${e.ip}`)
  if (e.userAgent) parts.push(`ua=${JSON.stringify(e.userAgent)}`)
  if (e.detail) parts.push(JSON.stringify(e.detail))
  let line = parts.join('  ')
  if (e.reason) line += `\n${' '.repeat(26)}-> ${REASON_TEXT[e.reason]}`
  return line
}
