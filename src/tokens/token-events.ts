/** @module The audit events of the token module: who, which session, which client; never a secret. */
import type { AuditEventInput, EventType } from '../core/session.ts'

/** Where a token request came from, for the audit trail. */
export interface TokenContext {
  ip?: string | null
  userAgent?: string | null
}

/**
 * A `token.*` event. `detail` holds ids (refresh id, jti, kid), never a token or a secret (SEC-57).
 *
 * @example
 * await store.appendEvent(tokenEvent('token.issued', now, session, ctx, 'web', { jti }))
 */
export function tokenEvent(
  type: Extract<EventType, `token.${string}`>,
  at: number,
  session: { id: string; principal: string | null },
  ctx: TokenContext,
  clientId: string,
  detail: Record<string, unknown>,
  actor = `client:${clientId}`,
): AuditEventInput {
  return {
    at,
    type,
    sessionId: session.id,
    principal: session.principal,
    reason: type === 'token.reuse_detected' ? 'refresh_reuse' : null,
    actor,
    ip: ctx.ip ?? null,
    userAgent: ctx.userAgent ?? null,
    detail: { clientId, ...detail },
  }
}
