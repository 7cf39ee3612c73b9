/** @module Rows of the SQLite store to records and back, and driver errors to ParleyErrors. */
import type { SQLInputValue } from 'node:sqlite'
import { ParleyError, storeUnavailable } from '../../core/errors.ts'
import type { AuditEvent, EndReason, SessionRecord } from '../../core/session.ts'
import type { ApiKeyRecord } from '../../core/store.ts'

export type Row = Record<string, SQLInputValue>

const SQLITE_UNAVAILABLE = new Set([5, 6, 10, 13, 14, 26]) // BUSY LOCKED IOERR FULL CANTOPEN NOTADB

export function wrap(err: unknown): unknown {
  if (err instanceof ParleyError) return err
  const e = err as { code?: string; errcode?: number; message?: string }
  if (e?.code === 'ERR_SQLITE_ERROR' && SQLITE_UNAVAILABLE.has((e.errcode ?? 0) & 0xff))
    return storeUnavailable(err)
  if (e?.code === 'ERR_INVALID_STATE') return storeUnavailable(err) // the database was closed
  return err
}

export function toRecord(row: Row): SessionRecord {
  return {
    id: row.id as string,
    secretHash: row.secret_hash as string,
    principal: row.principal as string,
    state: row.state as SessionRecord['state'],
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    idleTimeoutMs: Number(row.idle_timeout_ms),
    idleExpiresAt: Number(row.idle_expires_at),
    absoluteExpiresAt: Number(row.absolute_expires_at),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
    endReason: (row.end_reason ?? null) as EndReason | null,
    auth: JSON.parse(row.auth as string),
    client: {
      ip: (row.client_ip ?? null) as string | null,
      userAgent: (row.user_agent ?? null) as string | null,
    },
    data: parseObject(row.data as string),
    version: Number(row.version),
  }
}

const parseObject = (json: string) => (json === '{}' ? {} : JSON.parse(json))

/** The hot path's row, read as an array in COLUMNS order (about half the cost of an object row). */
export function arrayToRecord(v: SQLInputValue[]): SessionRecord {
  return {
    id: v[0] as string,
    secretHash: v[1] as string,
    principal: v[2] as string,
    state: v[3] as SessionRecord['state'],
    createdAt: Number(v[4]),
    lastSeenAt: Number(v[5]),
    idleTimeoutMs: Number(v[6]),
    idleExpiresAt: Number(v[7]),
    absoluteExpiresAt: Number(v[8]),
    endedAt: v[9] === null ? null : Number(v[9]),
    endReason: (v[10] ?? null) as EndReason | null,
    auth: JSON.parse(v[11] as string),
    client: { ip: (v[12] ?? null) as string | null, userAgent: (v[13] ?? null) as string | null },
    data: parseObject(v[14] as string),
    version: Number(v[15]),
  }
}

export function toEvent(row: Row): AuditEvent {
  return {
    id: String(row.id),
    at: Number(row.at),
    type: row.type as AuditEvent['type'],
    sessionId: (row.session_id ?? null) as string | null,
    principal: (row.principal ?? null) as string | null,
    reason: (row.reason ?? null) as EndReason | null,
    actor: (row.actor ?? null) as string | null,
    ip: (row.ip ?? null) as string | null,
    userAgent: (row.user_agent ?? null) as string | null,
    detail:
      row.detail === null || row.detail === undefined ? null : JSON.parse(row.detail as string),
  }
}

export function toApiKey(row: Row): ApiKeyRecord {
  return {
    id: row.id as string,
    secretHash: row.secret_hash as string,
    name: row.name as string,
    scope: row.scope as ApiKeyRecord['scope'],
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  }
}

export const COLUMNS =
  'id, secret_hash, principal, state, created_at, last_seen_at, idle_timeout_ms, idle_expires_at, absolute_expires_at, ended_at, end_reason, auth, client_ip, user_agent, data, version'
