/** @module Codec of the Redis store: records, events and API keys to and from Redis fields. */
import { createHash } from 'node:crypto'
import { ParleyError } from '../../core/errors.ts'
import type {
  AuditEvent,
  AuditEventInput,
  EndReason,
  EventType,
  SessionRecord,
  SessionState,
} from '../../core/session.ts'
import type { ApiKeyRecord } from '../../core/store.ts'

/** Digits of an event id: the store-wide sequence number, zero-padded so ids sort as strings. */
const EVENT_ID_DIGITS = 16

/**
 * The key suffix of a principal: SHA-256 of its UTF-8, base64url. No user input ever becomes key
 * syntax (SEC-54), and every principal key has the same length.
 */
export function principalKey(principal: string): string {
  return createHash('sha256').update(principal, 'utf8').digest('base64url')
}

/** A nullable argument for a script: '' for null, '=' followed by the value otherwise. */
export function opt(value: string | null | undefined): string {
  return value === null || value === undefined ? '' : `=${value}`
}

/** A number as a script argument or hash field; Lua copies it, never reformats it. */
export function num(value: number): string {
  return String(value)
}

/** The record as hash fields, flattened: [field, value, ...]. Null fields are left out. */
export function encodeSession(record: SessionRecord, pk: string): string[] {
  const fields = [
    'id',
    record.id,
    'secretHash',
    record.secretHash,
    'principal',
    record.principal,
    'pk',
    pk,
    'state',
    record.state,
    'createdAt',
    num(record.createdAt),
    'lastSeenAt',
    num(record.lastSeenAt),
    'idleTimeoutMs',
    num(record.idleTimeoutMs),
    'idleExpiresAt',
    num(record.idleExpiresAt),
    'absoluteExpiresAt',
    num(record.absoluteExpiresAt),
    'auth',
    JSON.stringify(record.auth),
    'client',
    JSON.stringify(record.client),
    'data',
    JSON.stringify(record.data),
    'version',
    num(record.version),
  ]
  if (record.endedAt !== null) fields.push('endedAt', num(record.endedAt))
  if (record.endReason !== null) fields.push('endReason', record.endReason)
  return fields
}

function malformed(): ParleyError {
  return new ParleyError('ERR_INTERNAL', 'The store returned a malformed reply')
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string')
}

/** A flat [field, value, ...] reply (as HGETALL gives it inside Lua) as an object. */
export function pairs(reply: unknown): Record<string, string> {
  if (!isStringArray(reply) || reply.length % 2 !== 0) throw malformed()
  const out: Record<string, string> = {}
  for (let i = 0; i < reply.length; i += 2) out[reply[i]!] = reply[i + 1]!
  return out
}

/**
 * A WITHSCORES reply as [member, score] pairs: a flat [member, score, ...] array over RESP2, an
 * array of [member, score] pairs over RESP3.
 */
export function decodeScored(reply: unknown): [string, number][] {
  if (!Array.isArray(reply)) throw malformed()
  const flat = reply.every((item) => !Array.isArray(item)) ? reply : reply.flat()
  if (flat.length % 2 !== 0) throw malformed()
  const out: [string, number][] = []
  for (let i = 0; i < flat.length; i += 2) {
    const member = flat[i]
    const score = Number(flat[i + 1])
    if (typeof member !== 'string' || !Number.isFinite(score)) throw malformed()
    out.push([member, score])
  }
  return out
}

/** A hash reply: a flat array from Lua, an object from HGETALL over RESP3, or a Map. */
export function hash(reply: unknown): Record<string, string> {
  if (Array.isArray(reply)) return pairs(reply)
  if (reply instanceof Map) return Object.fromEntries(reply) as Record<string, string>
  if (reply !== null && typeof reply === 'object') return reply as Record<string, string>
  throw malformed()
}

function field(h: Record<string, string>, name: string): string {
  const v = h[name]
  if (v === undefined) throw malformed()
  return v
}

function numberField(h: Record<string, string>, name: string): number {
  const n = Number(field(h, name))
  if (!Number.isFinite(n)) throw malformed()
  return n
}

function jsonField<T>(h: Record<string, string>, name: string): T {
  try {
    return JSON.parse(field(h, name)) as T
  } catch (err) {
    if (err instanceof ParleyError) throw err
    throw malformed()
  }
}

/** A session hash as a record; null when the hash is empty (no such session). */
export function decodeSession(reply: unknown): SessionRecord | null {
  if (reply === null || reply === undefined) return null
  const h = hash(reply)
  if (h.id === undefined) return null
  return {
    id: h.id,
    secretHash: field(h, 'secretHash'),
    principal: field(h, 'principal'),
    state: field(h, 'state') as SessionState,
    createdAt: numberField(h, 'createdAt'),
    lastSeenAt: numberField(h, 'lastSeenAt'),
    idleTimeoutMs: numberField(h, 'idleTimeoutMs'),
    idleExpiresAt: numberField(h, 'idleExpiresAt'),
    absoluteExpiresAt: numberField(h, 'absoluteExpiresAt'),
    endedAt: h.endedAt === undefined ? null : numberField(h, 'endedAt'),
    endReason: (h.endReason ?? null) as EndReason | null,
    auth: jsonField(h, 'auth'),
    client: jsonField(h, 'client'),
    data: jsonField(h, 'data'),
    version: numberField(h, 'version'),
  }
}

/** A list of session hashes (each a flat array) as records. */
export function decodeSessions(reply: unknown): SessionRecord[] {
  if (!Array.isArray(reply)) throw malformed()
  const out: SessionRecord[] = []
  for (const item of reply) {
    const r = decodeSession(item)
    if (r !== null) out.push(r)
  }
  return out
}

/**
 * The ten script arguments of an event, in the order `event_args` reads them: at, type,
 * sessionId, principal, principal key, reason, actor, ip, user agent, detail (JSON).
 */
export function eventArgs(event: AuditEventInput): string[] {
  return [
    num(event.at),
    event.type,
    opt(event.sessionId),
    opt(event.principal),
    opt(event.principal === null ? null : principalKey(event.principal)),
    opt(event.reason),
    opt(event.actor),
    opt(event.ip),
    opt(event.userAgent),
    opt(event.detail === null || event.detail === undefined ? null : JSON.stringify(event.detail)),
  ]
}

/** An event id from its stream entry id (`<seq>-0`). */
export function eventId(streamId: string): string {
  const seq = streamId.split('-')[0] ?? streamId
  return seq.padStart(EVENT_ID_DIGITS, '0')
}

/** One stream entry, `[id, [field, value, ...]]`, as an event. */
export function decodeEvent(entry: unknown): AuditEvent {
  if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw malformed()
  const f = pairs(entry[1])
  return {
    id: eventId(entry[0]),
    at: numberField(f, 'at'),
    type: field(f, 'type') as EventType,
    sessionId: f.sid ?? null,
    principal: f.p ?? null,
    reason: (f.r ?? null) as EndReason | null,
    actor: f.a ?? null,
    ip: f.ip ?? null,
    userAgent: f.ua ?? null,
    detail: f.d === undefined ? null : jsonField(f, 'd'),
  }
}

/** An XREVRANGE reply (newest first) as events, oldest first. */
export function decodeEventsNewestFirst(reply: unknown): AuditEvent[] {
  if (!Array.isArray(reply)) throw malformed()
  return reply.map(decodeEvent).reverse()
}

/** An API key as hash fields, flattened. `revokedAt` is left out while null. */
export function encodeApiKey(key: ApiKeyRecord): string[] {
  const fields = [
    'id',
    key.id,
    'secretHash',
    key.secretHash,
    'name',
    key.name,
    'scope',
    key.scope,
    'createdAt',
    num(key.createdAt),
  ]
  if (key.revokedAt !== null) fields.push('revokedAt', num(key.revokedAt))
  return fields
}

/** An API key hash as a record; null when empty. */
export function decodeApiKey(reply: unknown): ApiKeyRecord | null {
  if (reply === null || reply === undefined) return null
  const h = hash(reply)
  if (h.id === undefined) return null
  return {
    id: h.id,
    secretHash: field(h, 'secretHash'),
    name: field(h, 'name'),
    scope: field(h, 'scope') as ApiKeyRecord['scope'],
    createdAt: numberField(h, 'createdAt'),
    revokedAt: h.revokedAt === undefined ? null : numberField(h, 'revokedAt'),
  }
}
