/** @module Audit events of the door (SEC-57): who, when, from where, and never a secret. */
import type { Clock } from '../core/clock.ts'
import type { AuditEventInput, EventType } from '../core/session.ts'
import type { SessionStore } from '../core/store.ts'

/** Where a request came from, as the transport saw it. */
export interface ClientContext {
  ip?: string | null
  userAgent?: string | null
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/

/** Client text as recorded: bounded, well-formed, no control characters, or null. */
function clean(value: unknown, max: number): string | null {
  if (typeof value !== 'string' || !value.isWellFormed() || CONTROL.test(value)) return null
  return value.slice(0, max)
}

/**
 * An audit event about a principal (or, for anonymous failures, about nobody yet).
 *
 * @example
 * await store.appendEvent(authEvent('auth.locked', clock.now(), { principal: user.id, ctx }))
 */
export function authEvent(
  type: EventType,
  at: number,
  fields: {
    principal: string | null
    sessionId?: string | null
    actor?: string | null
    ctx?: ClientContext
    detail?: Record<string, unknown> | null
  },
): AuditEventInput {
  return {
    at,
    type,
    sessionId: fields.sessionId ?? null,
    principal: fields.principal,
    reason: null,
    actor: fields.actor ?? null,
    ip: clean(fields.ctx?.ip, 64),
    userAgent: clean(fields.ctx?.userAgent, 512),
    detail: fields.detail ?? null,
  }
}

/**
 * The context of a session end or update made on behalf of `actor`.
 *
 * @example
 * await sessions.end(id, 'logout', actionContext(ctx, 'principal'))
 */
export function actionContext(
  ctx: ClientContext,
  actor: string | null,
): { actor: string | null; ip: string | null; userAgent: string | null } {
  return { actor, ip: clean(ctx.ip, 64), userAgent: clean(ctx.userAgent, 512) }
}

/**
 * Writes the door's events into the session store's audit trail, stamped by the injected clock.
 *
 * @example
 * const audit = new AuditLog(sessions.store, clock)
 * await audit.write('auth.sign_in', user.id, ctx, { factors: ['password'] }, 'principal', session.id)
 */
export class AuditLog {
  readonly #store: Pick<SessionStore, 'appendEvent'>
  readonly #clock: Clock

  constructor(store: Pick<SessionStore, 'appendEvent'>, clock: Clock) {
    this.#store = store
    this.#clock = clock
  }

  write(
    type: EventType,
    principal: string | null,
    ctx: ClientContext,
    detail: Record<string, unknown> | null,
    actor: string | null,
    sessionId: string | null = null,
  ): Promise<void> {
    const fields = { principal, sessionId, actor, ctx, detail }
    return this.#store.appendEvent(authEvent(type, this.#clock.now(), fields))
  }
}
