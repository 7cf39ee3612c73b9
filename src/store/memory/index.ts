/** @module MemoryStore: the SessionStore in one process's memory, for tests and embedding. */
import { ParleyError } from '../../core/errors.ts'
import {
  type ActionContext,
  type AuditEvent,
  type AuditEventInput,
  copyAuth,
  copyData,
  copyRecord,
  createdEvent,
  type EndReason,
  endedEvent,
  endRecord,
  expiresAt,
  expiryReason,
  type SessionRecord,
  updatedEvent,
} from '../../core/session.ts'
import {
  type ApiKeyRecord,
  apiKeyEvent,
  type CreateInput,
  type CreateResult,
  type EventQuery,
  eventLimit,
  type SessionStore,
  type TouchInput,
  type UpdatePatch,
} from '../../core/store.ts'
import { ExpiryHeap } from './expiry-heap.ts'
import { MemoryLiveStore } from './live.ts'
import { MemoryTokenStore } from './tokens.ts'
import { MemoryUserStore } from './users.ts'

/**
 * A store that keeps everything in memory. Every method completes in one synchronous step, so each
 * is atomic. Nothing survives the process.
 *
 * @example
 * const sessions = new Sessions({ store: new MemoryStore() })
 */
export class MemoryStore implements SessionStore {
  readonly kind = 'memory'
  #sessions = new Map<string, SessionRecord>()
  #byPrincipal = new Map<string, Set<string>>()
  #expiry = new ExpiryHeap()
  #events: AuditEvent[] = []
  #nextEventId = 1
  #apiKeys = new Map<string, ApiKeyRecord>()
  #users: MemoryUserStore | undefined
  #tokens: MemoryTokenStore | undefined
  #live: MemoryLiveStore | undefined

  async init(): Promise<void> {}
  async close(): Promise<void> {}
  async ping(): Promise<void> {}

  /** The user store beside this store: one instance, in the same process's memory. */
  users(): MemoryUserStore {
    this.#users ??= new MemoryUserStore()
    return this.#users
  }

  /** The token store beside this store: one instance, in the same process's memory. */
  tokens(): MemoryTokenStore {
    this.#tokens ??= new MemoryTokenStore()
    return this.#tokens
  }

  /** The live-session store beside this store: one instance; its audit events land in this store. */
  live(): MemoryLiveStore {
    this.#live ??= new MemoryLiveStore((event) => this.#append(event))
    return this.#live
  }

  async create(input: CreateInput): Promise<CreateResult> {
    const { record, context } = input
    const ended: SessionRecord[] = []
    const live: SessionRecord[] = []
    for (const id of this.#byPrincipal.get(record.principal) ?? []) {
      const other = this.#sessions.get(id)!
      if (context.at >= expiresAt(other)) {
        ended.push(this.#end(other, expiryReason(other), { at: expiresAt(other), actor: 'system' }))
      } else live.push(other)
    }
    if (input.maxPerPrincipal > 0 && live.length >= input.maxPerPrincipal) {
      if (input.onLimit === 'refuse') throw new ParleyError('ERR_SESSION_LIMIT')
      live.sort((a, b) => a.lastSeenAt - b.lastSeenAt || a.createdAt - b.createdAt)
      for (const victim of live.slice(0, live.length - input.maxPerPrincipal + 1)) {
        ended.push(this.#end(victim, 'evicted_by_limit', { ...context, actor: 'system' }))
      }
    }
    this.#sessions.set(record.id, copyRecord(record))
    this.#index(record)
    this.#expiry.push(record.id, expiresAt(record))
    this.#append(createdEvent(record, context))
    return { ended: ended.map((r) => copyRecord(r)) }
  }

  async get(id: string): Promise<SessionRecord | null> {
    const r = this.#sessions.get(id)
    return r === undefined ? null : copyRecord(r)
  }

  async touch(id: string, input: TouchInput): Promise<SessionRecord | null> {
    const r = this.#sessions.get(id)
    if (r === undefined || r.state !== 'active' || input.at >= expiresAt(r)) return null
    if (input.at > r.lastSeenAt) {
      r.lastSeenAt = input.at
      r.idleExpiresAt = Math.min(
        Math.max(r.idleExpiresAt, input.idleExpiresAt),
        r.absoluteExpiresAt,
      )
      this.#expiry.push(r.id, expiresAt(r))
    }
    return copyRecord(r)
  }

  async update(
    id: string,
    expectedVersion: number,
    patch: UpdatePatch,
    context: ActionContext,
  ): Promise<SessionRecord> {
    const r = this.#sessions.get(id)
    if (r === undefined) throw new ParleyError('ERR_SESSION_NOT_FOUND')
    if (r.state !== 'active')
      throw new ParleyError('ERR_SESSION_ENDED', undefined, { details: { reason: r.endReason } })
    if (r.version !== expectedVersion) throw new ParleyError('ERR_VERSION_CONFLICT')
    if (patch.data !== undefined) r.data = copyData(patch.data)
    if (patch.auth !== undefined) r.auth = copyAuth(patch.auth)
    r.version += 1
    this.#append(updatedEvent(r, context))
    return copyRecord(r)
  }

  async end(id: string, reason: EndReason, context: ActionContext): Promise<SessionRecord | null> {
    const r = this.#sessions.get(id)
    if (r === undefined || r.state !== 'active') return null
    return copyRecord(this.#end(r, reason, context))
  }

  async endByPrincipal(
    principal: string,
    reason: EndReason,
    context: ActionContext,
    exceptId?: string,
  ): Promise<SessionRecord[]> {
    const out: SessionRecord[] = []
    for (const id of [...(this.#byPrincipal.get(principal) ?? [])]) {
      if (id === exceptId) continue
      out.push(copyRecord(this.#end(this.#sessions.get(id)!, reason, context)))
    }
    return out
  }

  async endAll(reason: EndReason, context: ActionContext): Promise<number> {
    let n = 0
    for (const r of this.#sessions.values()) {
      if (r.state === 'active') {
        this.#end(r, reason, context)
        n++
      }
    }
    return n
  }

  async listByPrincipal(principal: string): Promise<SessionRecord[]> {
    const ids = this.#byPrincipal.get(principal) ?? []
    return [...ids]
      .map((id) => copyRecord(this.#sessions.get(id)!))
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt || b.createdAt - a.createdAt)
  }

  async sweep(now: number, limit: number): Promise<SessionRecord[]> {
    const out: SessionRecord[] = []
    while (out.length < limit) {
      const next = this.#expiry.popDue(now)
      if (next === undefined) break
      const r = this.#sessions.get(next.id)
      if (r === undefined || r.state !== 'active') continue
      const due = expiresAt(r)
      if (due !== next.at) continue // a stale entry: a touch moved the expiry and pushed a newer one
      out.push(copyRecord(this.#end(r, expiryReason(r), { at: due, actor: 'system' })))
    }
    return out
  }

  async purge(endedBefore: number, limit: number): Promise<number> {
    const purged = new Set<string>()
    for (const r of this.#sessions.values()) {
      if (purged.size >= limit) break
      if (r.state === 'ended' && r.endedAt !== null && r.endedAt < endedBefore) purged.add(r.id)
    }
    for (const id of purged) this.#sessions.delete(id)
    if (purged.size > 0) {
      this.#events = this.#events.filter((e) => e.sessionId === null || !purged.has(e.sessionId))
    }
    return purged.size
  }

  async endedSince(since: number, limit: number): Promise<{ id: string; endedAt: number }[]> {
    const out: { id: string; endedAt: number }[] = []
    for (const r of this.#sessions.values()) {
      if (r.state === 'ended' && r.endedAt !== null && r.endedAt >= since) {
        out.push({ id: r.id, endedAt: r.endedAt })
      }
    }
    out.sort((a, b) => a.endedAt - b.endedAt || (a.id < b.id ? -1 : 1))
    return out.slice(0, Math.max(0, limit))
  }

  async appendEvent(event: AuditEventInput): Promise<void> {
    this.#append(event)
  }

  async events(query: EventQuery): Promise<AuditEvent[]> {
    const match =
      query.sessionId !== undefined
        ? (e: AuditEvent) => e.sessionId === query.sessionId
        : (e: AuditEvent) => e.principal === query.principal
    return structuredClone(this.#events.filter(match).slice(-eventLimit(query)))
  }

  async createApiKey(record: ApiKeyRecord, context: ActionContext): Promise<void> {
    this.#apiKeys.set(record.id, structuredClone(record))
    this.#append(apiKeyEvent('api_key.created', record, context))
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    const k = this.#apiKeys.get(id)
    return k === undefined ? null : structuredClone(k)
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return [...this.#apiKeys.values()]
      .map((k) => structuredClone(k))
      .sort((a, b) => a.createdAt - b.createdAt)
  }

  async revokeApiKey(id: string, context: ActionContext): Promise<boolean> {
    const k = this.#apiKeys.get(id)
    if (k === undefined || k.revokedAt !== null) return false
    k.revokedAt = context.at
    this.#append(apiKeyEvent('api_key.revoked', k, context))
    return true
  }

  #index(r: SessionRecord): void {
    const set = this.#byPrincipal.get(r.principal)
    if (set === undefined) this.#byPrincipal.set(r.principal, new Set([r.id]))
    else set.add(r.id)
  }

  #end(r: SessionRecord, reason: EndReason, context: ActionContext): SessionRecord {
    const ended = endRecord(r, reason, context.at)
    this.#sessions.set(r.id, ended)
    const set = this.#byPrincipal.get(r.principal)
    set?.delete(r.id)
    if (set?.size === 0) this.#byPrincipal.delete(r.principal)
    this.#append(endedEvent(r, reason, context))
    return ended
  }

  #append(event: AuditEventInput): void {
    this.#events.push(copyEvent(event, String(this.#nextEventId++)))
  }
}
/**
 * A deep copy of an event with its id, as `{ ...structuredClone(event), id }` makes, except that
 * primitive values (its strings) are shared, not copied: the audit log holds an event per session
 * start and end, and its strings are most of it.
 */
function copyEvent(event: AuditEventInput, id: string): AuditEvent {
  const copy: Record<string, unknown> = {}
  const from = event as unknown as Record<string, unknown>
  for (const key of Object.keys(from)) {
    const v = from[key]
    copy[key] = isPrimitive(v) ? v : isFlat(v) ? { ...v } : structuredClone(v)
  }
  copy.id = id
  return copy as unknown as AuditEvent
}

function isPrimitive(v: unknown): boolean {
  return v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'symbol')
}

/** A plain object of primitives only (a `detail`): a shallow copy is its structured clone. */
function isFlat(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return false
  if (Object.getOwnPropertySymbols(v).length > 0) return false
  for (const key of Object.keys(v))
    if (!isPrimitive((v as Record<string, unknown>)[key])) return false
  return true
}

export { MemoryLiveStore } from './live.ts'
export { MemoryTokenStore } from './tokens.ts'
export { MemoryUserStore } from './users.ts'
