/** @module The SQL of the Postgres store: the quoted schema is the only thing interpolated; every value is a bind parameter (SEC-54). */
import { EVENT_COLUMNS, EVENT_TYPES, SESSION_COLUMNS, SESSION_TYPES } from './codec.ts'

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** True for a schema name that is safe to interpolate: lower-case letters, digits, `_`, at most 63. */
export function isValidSchemaName(name: string): boolean {
  return SCHEMA_NAME.test(name)
}

/** When a session stops being valid: the expression the expiry index is built on. */
const EXPIRES = 'LEAST(idle_expires_at, absolute_expires_at)'

/** Every session column of table alias `t`, `seq` included. */
function cols(t: string): string {
  return ['seq', ...SESSION_COLUMNS].map((c) => `${t}.${c}`).join(', ')
}

/** `$from::type, ...` for the given casts, numbered from `from`. */
function params(types: readonly string[], from: number): string {
  return types.map((type, i) => `$${from + i}::${type}`).join(', ')
}

interface EndSpec {
  /** A SELECT of the `id`s to end; it should lock them (FOR UPDATE) in `id` order or skip locked ones. */
  target: string
  /** SQL for the end reason and end time; may use the row as `s`. */
  reason: string
  endedAt: string
  actor: string
  ip: string
  userAgent: string
  /** Order of the events written and of the rows returned. */
  order: string
  /** What the statement returns: the ended rows, or their count. */
  returns: 'rows' | 'count'
}

/**
 * One statement that ends the target sessions still active and writes one `session.ended` event per
 * session, at its end time. A single statement is atomic: the end and its event stand or fall together.
 */
function endStatement(q: string, spec: EndSpec): string {
  return `WITH target AS (${spec.target}),
ended AS (
  UPDATE ${q}.sessions s
     SET state = 'ended', ended_at = ${spec.endedAt}, end_reason = ${spec.reason}, version = s.version + 1
    FROM target
   WHERE s.id = target.id AND s.state = 'active'
  RETURNING ${cols('s')}
),
ev AS (
  INSERT INTO ${q}.events (${EVENT_COLUMNS.join(', ')})
  SELECT e.ended_at, 'session.ended', e.id, e.principal, e.end_reason, ${spec.actor}, ${spec.ip}, ${spec.userAgent}, NULL
    FROM ended e ORDER BY ${spec.order}
)
${spec.returns === 'rows' ? `SELECT * FROM ended e ORDER BY ${spec.order}` : 'SELECT count(*)::integer AS n FROM ended'}`
}

const EXPIRY_REASON = `CASE WHEN s.idle_expires_at < s.absolute_expires_at THEN 'idle_timeout' ELSE 'absolute_timeout' END`
const EXPIRY_AT = 'LEAST(s.idle_expires_at, s.absolute_expires_at)'
const LRU = 'e.last_seen_at, e.created_at, e.seq'

/** Every statement of a store, built once for its schema. */
export function statements(q: string) {
  const sessionCols = SESSION_COLUMNS.join(', ')
  const eventCols = EVENT_COLUMNS.join(', ')
  return {
    ping: 'SELECT 1',

    get: `SELECT ${cols('s')} FROM ${q}.sessions s WHERE s.id = $1::text`,

    /** $1 id, $2 at, $3 idleExpiresAt. One conditional write; never revives, never moves back. */
    touch: `UPDATE ${q}.sessions s
   SET idle_expires_at = CASE WHEN $2::bigint > s.last_seen_at
         THEN LEAST(GREATEST(s.idle_expires_at, $3::bigint), s.absolute_expires_at)
         ELSE s.idle_expires_at END,
       last_seen_at = GREATEST(s.last_seen_at, $2::bigint)
 WHERE s.id = $1::text AND s.state = 'active' AND $2::bigint < ${EXPIRES}
RETURNING ${cols('s')}`,

    /** $1 id, $2 expected version, $3 data or null, $4 auth or null, then the event's at, actor, ip, user agent. */
    update: `WITH upd AS (
  UPDATE ${q}.sessions s
     SET data = COALESCE($3::jsonb, s.data), auth = COALESCE($4::jsonb, s.auth), version = s.version + 1
   WHERE s.id = $1::text AND s.state = 'active' AND s.version = $2::integer
  RETURNING ${cols('s')}
),
ev AS (
  INSERT INTO ${q}.events (${eventCols})
  SELECT $5::bigint, 'session.updated', u.id, u.principal, NULL, $6::text, $7::text, $8::text,
         jsonb_build_object('version', u.version)
    FROM upd u
)
SELECT * FROM upd`,

    /** Why an update changed nothing: $1 id. */
    updateMiss: `SELECT state, end_reason FROM ${q}.sessions WHERE id = $1::text`,

    /** $1 id, $2 reason, $3 at, $4 actor, $5 ip, $6 user agent. */
    end: endStatement(q, {
      target: `SELECT id FROM ${q}.sessions WHERE id = $1::text AND state = 'active' FOR UPDATE`,
      reason: '$2::text',
      endedAt: '$3::bigint',
      actor: '$4::text',
      ip: '$5::text',
      userAgent: '$6::text',
      order: 'e.seq',
      returns: 'rows',
    }),

    /** $1 principal, $2 reason, $3 at, $4 actor, $5 ip, $6 user agent, $7 id to keep or null. */
    endByPrincipal: endStatement(q, {
      target: `SELECT id FROM ${q}.sessions
   WHERE principal = $1::text AND state = 'active' AND id IS DISTINCT FROM $7::text
   ORDER BY id FOR UPDATE`,
      reason: '$2::text',
      endedAt: '$3::bigint',
      actor: '$4::text',
      ip: '$5::text',
      userAgent: '$6::text',
      order: 'e.seq',
      returns: 'rows',
    }),

    /** $1 reason, $2 at, $3 actor, $4 ip, $5 user agent. */
    endAll: endStatement(q, {
      target: `SELECT id FROM ${q}.sessions WHERE state = 'active' ORDER BY id FOR UPDATE`,
      reason: '$1::text',
      endedAt: '$2::bigint',
      actor: '$3::text',
      ip: '$4::text',
      userAgent: '$5::text',
      order: 'e.seq',
      returns: 'count',
    }),

    /**
     * $1 now, $2 limit. Walks the expiry index from the earliest deadline, so it costs what expired;
     * rows another transaction holds are left for the next sweep instead of waited for.
     */
    sweep: endStatement(q, {
      target: `SELECT id FROM ${q}.sessions
   WHERE state = 'active' AND ${EXPIRES} <= $1::bigint
   ORDER BY ${EXPIRES} LIMIT $2::integer FOR UPDATE SKIP LOCKED`,
      reason: EXPIRY_REASON,
      endedAt: EXPIRY_AT,
      actor: `'system'`,
      ip: 'NULL',
      userAgent: 'NULL',
      order: 'e.ended_at, e.seq',
      returns: 'rows',
    }),

    /**
     * Creation, step 1: the principal's active sessions, locked in id order (the order every
     * statement that locks several sessions uses, so they cannot deadlock). $1 principal, $2 a time:
     * only the sessions expired at it; null for all of them (needed to count against a limit).
     */
    lockPrincipal: `SELECT id, seq, created_at, last_seen_at, idle_expires_at, absolute_expires_at
  FROM ${q}.sessions
 WHERE principal = $1::text AND state = 'active' AND ($2::bigint IS NULL OR ${EXPIRES} <= $2::bigint)
 ORDER BY id FOR UPDATE`,

    /** Creation, step 2: ends the expired ones (already locked) with their timeout. $1 ids. */
    expire: endStatement(q, {
      target: `SELECT id FROM ${q}.sessions WHERE id = ANY($1::text[]) ORDER BY id`,
      reason: EXPIRY_REASON,
      endedAt: EXPIRY_AT,
      actor: `'system'`,
      ip: 'NULL',
      userAgent: 'NULL',
      order: 'e.seq',
      returns: 'rows',
    }),

    /** Creation, step 3: evicts the least recently used (already locked). $1 ids, $2 at, $3 ip, $4 user agent. */
    evict: endStatement(q, {
      target: `SELECT id FROM ${q}.sessions WHERE id = ANY($1::text[]) ORDER BY id`,
      reason: `'evicted_by_limit'`,
      endedAt: '$2::bigint',
      actor: `'system'`,
      ip: '$3::text',
      userAgent: '$4::text',
      order: LRU,
      returns: 'rows',
    }),

    /** Creation, step 4: the session (SESSION_COLUMNS as $1..$16) and its event ($17..$25). */
    insert: `WITH ins AS (
  INSERT INTO ${q}.sessions (${sessionCols}) VALUES (${params(SESSION_TYPES, 1)}) RETURNING id
)
INSERT INTO ${q}.events (${eventCols}) SELECT ${params(EVENT_TYPES, SESSION_TYPES.length + 1)} FROM ins`,

    /** $1 principal. Most recently used first; ties in creation order. */
    listByPrincipal: `SELECT ${cols('s')} FROM ${q}.sessions s
 WHERE s.principal = $1::text AND s.state = 'active'
 ORDER BY s.last_seen_at DESC, s.created_at DESC, s.seq`,

    /** $1 ended before, $2 limit. Deletes the sessions and every event that names them. */
    purge: `WITH doomed AS (
  SELECT id FROM ${q}.sessions
   WHERE state = 'ended' AND ended_at < $1::bigint
   ORDER BY ended_at LIMIT $2::integer FOR UPDATE SKIP LOCKED
),
gone_events AS (
  DELETE FROM ${q}.events ev USING doomed d WHERE ev.session_id = d.id
),
gone AS (
  DELETE FROM ${q}.sessions s USING doomed d WHERE s.id = d.id RETURNING s.id
)
SELECT count(*)::integer AS n FROM gone`,

    /**
     * $1 since, $2 limit. Walks the partial index on ended_at; ties in id order, compared as bytes
     * (COLLATE "C") so that every store orders them alike.
     */
    endedSince: `SELECT id, ended_at FROM ${q}.sessions
 WHERE state = 'ended' AND ended_at >= $1::bigint
 ORDER BY ended_at, id COLLATE "C" LIMIT $2::integer`,

    /** EVENT_COLUMNS as $1..$9. */
    appendEvent: `INSERT INTO ${q}.events (${eventCols}) VALUES (${params(EVENT_TYPES, 1)})`,

    /** $1 session id, $2 limit: the newest `limit`, oldest first. */
    eventsBySession: `SELECT * FROM (
  SELECT id, ${eventCols} FROM ${q}.events WHERE session_id = $1::text ORDER BY id DESC LIMIT $2::integer
) e ORDER BY id`,

    /** $1 principal, $2 limit: the newest `limit`, oldest first. */
    eventsByPrincipal: `SELECT * FROM (
  SELECT id, ${eventCols} FROM ${q}.events WHERE principal = $1::text ORDER BY id DESC LIMIT $2::integer
) e ORDER BY id`,

    /** The key ($1..$6) and its event ($7..$15). */
    createApiKey: `WITH k AS (
  INSERT INTO ${q}.api_keys (id, secret_hash, name, scope, created_at, revoked_at)
  VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::bigint) RETURNING id
)
INSERT INTO ${q}.events (${eventCols}) SELECT ${params(EVENT_TYPES, 7)} FROM k`,

    getApiKey: `SELECT id, secret_hash, name, scope, created_at, revoked_at FROM ${q}.api_keys WHERE id = $1::text`,

    listApiKeys: `SELECT id, secret_hash, name, scope, created_at, revoked_at FROM ${q}.api_keys ORDER BY created_at, id`,

    /** $1 id, $2 at. */
    revokeApiKey: `UPDATE ${q}.api_keys SET revoked_at = $2::bigint
 WHERE id = $1::text AND revoked_at IS NULL
RETURNING id, secret_hash, name, scope, created_at, revoked_at`,
  } as const
}

export type Statements = ReturnType<typeof statements>
