/** @module Row and record conversion for the Postgres store: bigint strings to numbers, JSON in and out. */
import type {
  AuditEvent,
  AuditEventInput,
  AuthContext,
  EndReason,
  EventType,
  SessionRecord,
  SessionState,
} from '../../core/session.ts'
import type { ApiKeyRecord } from '../../core/store.ts'

/** A bigint or integer column as node-postgres returns it (bigint as a decimal string). */
type Int = string | number

/** A row of `sessions`; `seq` is the insertion order, used only to break ties. */
export interface SessionRow {
  id: string
  seq: Int
  secret_hash: string
  principal: string
  state: string
  created_at: Int
  last_seen_at: Int
  idle_timeout_ms: Int
  idle_expires_at: Int
  absolute_expires_at: Int
  ended_at: Int | null
  end_reason: string | null
  auth: unknown
  client_ip: string | null
  user_agent: string | null
  data: unknown
  version: Int
}

export interface EventRow {
  id: Int
  at: Int
  type: string
  session_id: string | null
  principal: string | null
  reason: string | null
  actor: string | null
  ip: string | null
  user_agent: string | null
  detail: unknown
}

export interface ApiKeyRow {
  id: string
  secret_hash: string
  name: string
  scope: string
  created_at: Int
  revoked_at: Int | null
}

/** The columns of `sessions`, in the order `sessionParams` binds them (seq is generated). */
export const SESSION_COLUMNS = [
  'id',
  'secret_hash',
  'principal',
  'state',
  'created_at',
  'last_seen_at',
  'idle_timeout_ms',
  'idle_expires_at',
  'absolute_expires_at',
  'ended_at',
  'end_reason',
  'auth',
  'client_ip',
  'user_agent',
  'data',
  'version',
] as const

/** The casts that go with SESSION_COLUMNS, so every value is a typed bind parameter. */
export const SESSION_TYPES = [
  'text',
  'text',
  'text',
  'text',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
  'text',
  'jsonb',
  'text',
  'text',
  'jsonb',
  'integer',
] as const

export const EVENT_COLUMNS = [
  'at',
  'type',
  'session_id',
  'principal',
  'reason',
  'actor',
  'ip',
  'user_agent',
  'detail',
] as const

export const EVENT_TYPES = [
  'bigint',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'jsonb',
] as const

/** A bigint column as a JS number (epoch ms and durations fit exactly). */
export function toInt(value: Int): number {
  return typeof value === 'number' ? value : Number(value)
}

function toIntOrNull(value: Int | null): number | null {
  return value === null ? null : toInt(value)
}

/** JSON for a jsonb bind parameter (objects must not reach the driver, which would mangle arrays). */
export function json(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value)
}

export function rowToRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    principal: row.principal,
    state: row.state as SessionState,
    createdAt: toInt(row.created_at),
    lastSeenAt: toInt(row.last_seen_at),
    idleTimeoutMs: toInt(row.idle_timeout_ms),
    idleExpiresAt: toInt(row.idle_expires_at),
    absoluteExpiresAt: toInt(row.absolute_expires_at),
    endedAt: toIntOrNull(row.ended_at),
    endReason: row.end_reason as EndReason | null,
    auth: row.auth as AuthContext,
    client: { ip: row.client_ip, userAgent: row.user_agent },
    data: row.data as Record<string, unknown>,
    version: toInt(row.version),
  }
}

/** The bind parameters of a session row, in SESSION_COLUMNS order. */
export function sessionParams(r: SessionRecord): unknown[] {
  return [
    r.id,
    r.secretHash,
    r.principal,
    r.state,
    r.createdAt,
    r.lastSeenAt,
    r.idleTimeoutMs,
    r.idleExpiresAt,
    r.absoluteExpiresAt,
    r.endedAt ?? null,
    r.endReason ?? null,
    json(r.auth),
    r.client.ip ?? null,
    r.client.userAgent ?? null,
    json(r.data ?? {}),
    r.version,
  ]
}

export function rowToEvent(row: EventRow): AuditEvent {
  return {
    id: String(row.id),
    at: toInt(row.at),
    type: row.type as EventType,
    sessionId: row.session_id,
    principal: row.principal,
    reason: row.reason as EndReason | null,
    actor: row.actor,
    ip: row.ip,
    userAgent: row.user_agent,
    detail: (row.detail ?? null) as Record<string, unknown> | null,
  }
}

/** The bind parameters of an event row, in EVENT_COLUMNS order. */
export function eventParams(e: AuditEventInput): unknown[] {
  return [
    e.at,
    e.type,
    e.sessionId ?? null,
    e.principal ?? null,
    e.reason ?? null,
    e.actor ?? null,
    e.ip ?? null,
    e.userAgent ?? null,
    json(e.detail),
  ]
}

export function rowToApiKey(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    name: row.name,
    scope: row.scope as ApiKeyRecord['scope'],
    createdAt: toInt(row.created_at),
    revokedAt: toIntOrNull(row.revoked_at),
  }
}
