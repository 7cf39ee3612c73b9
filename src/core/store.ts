/**
 * @module The SessionStore contract: the neutral interface every store adapter implements.
 * Each method is atomic in its store; test/store/contract.case.ts proves every adapter behaves alike.
 */
import type { StoreChange } from './cache.ts'
import type {
  ActionContext,
  AuditEvent,
  AuditEventInput,
  EndReason,
  SessionRecord,
} from './session.ts'

export type OnLimit = 'evict_lru' | 'refuse'

export interface CreateInput {
  record: SessionRecord
  /** Maximum active sessions of the principal, counting the new one; 0 means no limit. */
  maxPerPrincipal: number
  onLimit: OnLimit
  /** Recorded with the creation and with any eviction. */
  context: ActionContext
}

export interface CreateResult {
  /** Sessions of the principal that this creation ended (`evicted_by_limit`, or a timeout that
   * had passed but not yet been swept). */
  ended: SessionRecord[]
}

export interface TouchInput {
  at: number
  idleExpiresAt: number
}

export interface UpdatePatch {
  data?: Record<string, unknown>
  auth?: SessionRecord['auth']
}

export type EventQuery =
  | { sessionId: string; principal?: undefined; limit?: number }
  | { principal: string; sessionId?: undefined; limit?: number }

/** An API key as stored: only the hash of its secret (SEC-52). */
export interface ApiKeyRecord {
  id: string
  secretHash: string
  name: string
  scope: 'read' | 'manage'
  createdAt: number
  revokedAt: number | null
}

export interface SessionStore {
  /** `memory`, `sqlite`, `redis` or `postgres`. */
  readonly kind: string
  /** Connects and applies migrations; safe to call again. */
  init(): Promise<void>
  close(): Promise<void>
  /** Resolves when the store answers; rejects with ERR_STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>

  /**
   * Creates a session. At the limit, ends the least recently used sessions with
   * `evicted_by_limit`, or throws ERR_SESSION_LIMIT when `onLimit` is `refuse`. Sessions of the
   * principal that have already expired are ended with their timeout first and never count.
   */
  create(input: CreateInput): Promise<CreateResult>
  get(id: string): Promise<SessionRecord | null>
  /**
   * Moves lastSeenAt forward and the idle expiry with it, only while the session is active and
   * not expired at `input.at`. Returns the record as stored after the call, or null when the session
   * is missing, ended or expired (a touch never revives a session).
   */
  touch(id: string, input: TouchInput): Promise<SessionRecord | null>
  /**
   * Applies `patch` when the stored version equals `expectedVersion` and the session is active.
   * Throws ERR_VERSION_CONFLICT, ERR_SESSION_ENDED or ERR_SESSION_NOT_FOUND otherwise.
   */
  update(
    id: string,
    expectedVersion: number,
    patch: UpdatePatch,
    context: ActionContext,
  ): Promise<SessionRecord>
  /**
   * Ends an active session with `reason` and records the event in the same atomic step. Returns the
   * ended record, or null when it was missing or had already ended (its first reason stands).
   */
  end(id: string, reason: EndReason, context: ActionContext): Promise<SessionRecord | null>
  /** Ends every active session of a principal, except `exceptId`; returns those it ended. */
  endByPrincipal(
    principal: string,
    reason: EndReason,
    context: ActionContext,
    exceptId?: string,
  ): Promise<SessionRecord[]>
  /** Ends every active session in the store; returns how many. */
  endAll(reason: EndReason, context: ActionContext): Promise<number>
  /** Active sessions of a principal, most recently used first. */
  listByPrincipal(principal: string): Promise<SessionRecord[]>
  /**
   * Ends up to `limit` sessions whose idle or absolute expiry is at or before `now`, each with
   * its timeout reason and `endedAt` at its deadline. Costs in proportion to what expired.
   */
  sweep(now: number, limit: number): Promise<SessionRecord[]>
  /** Deletes ended sessions (and their events) that ended before `endedBefore`; returns how many. */
  purge(endedBefore: number, limit: number): Promise<number>

  /**
   * Sessions that ended (for any reason) with `endedAt` at or after `since`, oldest first, at most
   * `limit`: the feed behind the access-token deny list. Costs what it returns (an index on endedAt).
   */
  endedSince(since: number, limit: number): Promise<{ id: string; endedAt: number }[]>

  appendEvent(event: AuditEventInput): Promise<void>
  /** The most recent `limit` events (default 100) of a session or principal, oldest first. */
  events(query: EventQuery): Promise<AuditEvent[]>

  /**
   * Optional: a feed of changes from every process sharing the store (ended or updated sessions),
   * for the local session cache. Resolves once subscribed (after a first `link up`); the returned
   * function unsubscribes. Stores without it are never cached.
   */
  watch?(listener: (change: StoreChange) => void): Promise<() => Promise<void>>

  createApiKey(record: ApiKeyRecord, context: ActionContext): Promise<void>
  getApiKey(id: string): Promise<ApiKeyRecord | null>
  listApiKeys(): Promise<ApiKeyRecord[]>
  /** Returns false when the key is unknown or already revoked. */
  revokeApiKey(id: string, context: ActionContext): Promise<boolean>
}

export const DEFAULT_EVENT_LIMIT = 100
export const MAX_EVENT_LIMIT = 1000

export function eventLimit(query: EventQuery): number {
  const n = Number.isFinite(query.limit) ? (query.limit as number) : DEFAULT_EVENT_LIMIT
  return Math.max(1, Math.min(MAX_EVENT_LIMIT, Math.floor(n)))
}

/** The audit event for an API key's creation or revocation (shared by every store). */
export function apiKeyEvent(
  type: 'api_key.created' | 'api_key.revoked',
  key: ApiKeyRecord,
  context: ActionContext,
): AuditEventInput {
  return {
    at: context.at,
    type,
    sessionId: null,
    principal: null,
    reason: null,
    actor: context.actor ?? null,
    ip: context.ip ?? null,
    userAgent: context.userAgent ?? null,
    detail: { keyId: key.id, name: key.name, scope: key.scope },
  }
}
