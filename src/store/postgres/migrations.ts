/** @module Versioned, idempotent schema migrations for the Postgres store, serialised by an advisory lock. */
import type pg from 'pg'

/** One step of the schema. Versions only grow; a released step is never edited, only followed. */
export interface Migration {
  version: number
  name: string
  /** The DDL statements of the step, for the schema quoted as `q`. */
  up(q: string): string[]
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions, events and api keys',
    up: (q) => [
      `CREATE TABLE ${q}.sessions (
        id text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        secret_hash text NOT NULL,
        principal text NOT NULL,
        state text NOT NULL CHECK (state IN ('active', 'ended')),
        created_at bigint NOT NULL,
        last_seen_at bigint NOT NULL,
        idle_timeout_ms bigint NOT NULL,
        idle_expires_at bigint NOT NULL,
        absolute_expires_at bigint NOT NULL,
        ended_at bigint,
        end_reason text,
        auth jsonb NOT NULL,
        client_ip text,
        user_agent text,
        data jsonb NOT NULL,
        version integer NOT NULL
      )`,
      `CREATE INDEX sessions_active_principal ON ${q}.sessions (principal) WHERE state = 'active'`,
      `CREATE INDEX sessions_active_expiry ON ${q}.sessions
        (LEAST(idle_expires_at, absolute_expires_at)) WHERE state = 'active'`,
      `CREATE INDEX sessions_ended_at ON ${q}.sessions (ended_at) WHERE state = 'ended'`,
      `CREATE TABLE ${q}.events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at bigint NOT NULL,
        type text NOT NULL,
        session_id text,
        principal text,
        reason text,
        actor text,
        ip text,
        user_agent text,
        detail jsonb
      )`,
      `CREATE INDEX events_session ON ${q}.events (session_id, id) WHERE session_id IS NOT NULL`,
      `CREATE INDEX events_principal ON ${q}.events (principal, id) WHERE principal IS NOT NULL`,
      `CREATE TABLE ${q}.api_keys (
        id text PRIMARY KEY,
        secret_hash text NOT NULL,
        name text NOT NULL,
        scope text NOT NULL CHECK (scope IN ('read', 'manage')),
        created_at bigint NOT NULL,
        revoked_at bigint
      )`,
    ],
  },
]

/**
 * The user store's steps: `PostgresUserStore.init()` applies them, the session store never does, so
 * a schema used only for sessions keeps only the session tables. Their versions share one sequence
 * (and the schema_migrations table) with MIGRATIONS: a new step in either list takes the next
 * number after both lists.
 */
export const USER_MIGRATIONS: readonly Migration[] = [
  {
    version: 2,
    name: 'users and failure counters',
    up: (q) => [
      `CREATE TABLE ${q}.users (
        id text PRIMARY KEY,
        username text COLLATE "C" NOT NULL UNIQUE,
        password_hash text NOT NULL,
        roles text[] NOT NULL,
        permissions text[] NOT NULL,
        disabled boolean NOT NULL,
        totp_secret_enc text,
        totp_confirmed boolean,
        totp_enrolled_at bigint,
        totp_last_used_step bigint,
        recovery_codes text[] NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        version integer NOT NULL
      )`,
      `CREATE TABLE ${q}.auth_failures (
        key_hash text PRIMARY KEY,
        count integer NOT NULL,
        first_at bigint NOT NULL,
        last_at bigint NOT NULL,
        window_ends_at bigint NOT NULL
      )`,
      `CREATE INDEX auth_failures_window_end ON ${q}.auth_failures (window_ends_at)`,
    ],
  },
]

/**
 * The token store's steps: `PostgresTokenStore.init()` applies them, the session store never does.
 * Same sequence and schema_migrations table as the lists above. `seq` orders signing keys of equal
 * created_at by insertion; successorAccess is three columns, all null or all set.
 */
export const TOKEN_MIGRATIONS: readonly Migration[] = [
  {
    version: 3,
    name: 'signing keys, refresh tokens and single-use values',
    up: (q) => [
      `CREATE TABLE ${q}.signing_keys (
        kid text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        alg text NOT NULL,
        public_jwk jsonb NOT NULL,
        private_key_enc text NOT NULL,
        created_at bigint NOT NULL,
        retires_at bigint NOT NULL,
        expires_at bigint NOT NULL
      )`,
      `CREATE INDEX signing_keys_created ON ${q}.signing_keys (created_at DESC, seq DESC)`,
      `CREATE TABLE ${q}.refresh_tokens (
        id text PRIMARY KEY,
        secret_hash text NOT NULL,
        session_id text NOT NULL,
        client_id text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        rotated_at bigint,
        successor_id text,
        successor_jti text,
        successor_iat bigint,
        successor_exp bigint,
        jkt text
      )`,
      `CREATE INDEX refresh_tokens_expires ON ${q}.refresh_tokens (expires_at)`,
      `CREATE INDEX refresh_tokens_session ON ${q}.refresh_tokens (session_id)`,
      `CREATE TABLE ${q}.single_use (
        key_hash text PRIMARY KEY,
        expires_at bigint NOT NULL
      )`,
      `CREATE INDEX single_use_expires ON ${q}.single_use (expires_at)`,
    ],
  },
]

/**
 * The live-session store's step: `PostgresLiveStore.init()` (or its first use) applies it, with
 * MIGRATIONS (its audit events go to `events`). Same sequence and schema_migrations table as the
 * lists above. Rows not ended are indexed by principal, session and expiry; ended ones by ended_at.
 */
export const LIVE_MIGRATIONS: readonly Migration[] = [
  {
    version: 4,
    name: 'live sessions, replay buffers, checkpoints and calls',
    up: (q) => [
      `CREATE TABLE ${q}.live_sessions (
        id text PRIMARY KEY,
        session_id text NOT NULL,
        principal text NOT NULL,
        token_hash text NOT NULL,
        gen integer NOT NULL,
        mode text NOT NULL,
        turn text,
        state text NOT NULL CHECK (state IN ('open', 'suspended', 'ended')),
        created_at bigint NOT NULL,
        suspended_at bigint,
        expires_at bigint NOT NULL,
        end_reason text,
        ended_at bigint,
        out_seq bigint NOT NULL,
        out_acked bigint NOT NULL,
        out_lost_to bigint NOT NULL,
        out_lost_reason text,
        in_last bigint NOT NULL
      )`,
      `CREATE INDEX live_sessions_principal ON ${q}.live_sessions (principal) WHERE state <> 'ended'`,
      `CREATE INDEX live_sessions_session ON ${q}.live_sessions (session_id) WHERE state <> 'ended'`,
      `CREATE INDEX live_sessions_expiry ON ${q}.live_sessions (expires_at) WHERE state <> 'ended'`,
      `CREATE INDEX live_sessions_ended ON ${q}.live_sessions (ended_at) WHERE state = 'ended'`,
      `CREATE TABLE ${q}.live_messages (
        live_id text NOT NULL,
        seq bigint NOT NULL,
        json text NOT NULL,
        bytes integer NOT NULL,
        at bigint NOT NULL,
        PRIMARY KEY (live_id, seq)
      )`,
      `CREATE TABLE ${q}.live_checkpoints (
        live_id text NOT NULL,
        id text NOT NULL,
        n bigint GENERATED ALWAYS AS IDENTITY,
        by_side text NOT NULL,
        out_seq bigint NOT NULL,
        in_seq bigint NOT NULL,
        state text,
        at bigint NOT NULL,
        PRIMARY KEY (live_id, id)
      )`,
      `CREATE TABLE ${q}.live_calls (
        live_id text NOT NULL,
        call_id text NOT NULL,
        gen integer NOT NULL,
        outcome text,
        until bigint NOT NULL,
        PRIMARY KEY (live_id, call_id)
      )`,
      `CREATE INDEX live_calls_until ON ${q}.live_calls (until)`,
    ],
  },
  {
    version: 5,
    name: 'live sessions: the previous resume token hash, until confirmed',
    up: (q) => [`ALTER TABLE ${q}.live_sessions ADD COLUMN prev_token_hash text`],
  },
]

/** The newest schema version of the session store (MIGRATIONS). */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version))

/**
 * Brings `schema` up to SCHEMA_VERSION (or applies the pending steps of `migrations`). Run it
 * inside a transaction: it takes a transaction-scoped advisory lock first, so concurrent callers
 * (several instances starting at once) apply each step exactly once, and a failed step leaves
 * nothing behind. Returns the versions it applied.
 */
export async function migrate(
  client: pg.ClientBase,
  schema: string,
  q: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))', [
    `parley:migrate:${schema}`,
  ])
  // Look before creating: CREATE ... IF NOT EXISTS still needs the privilege to create.
  const ns = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1::text', [schema])
  if (ns.rowCount === 0) await client.query(`CREATE SCHEMA ${q}`)
  const table = await client.query<{ present: boolean }>(
    'SELECT to_regclass($1::text) IS NOT NULL AS present',
    [`${q}.schema_migrations`],
  )
  if (table.rows[0]?.present !== true) {
    await client.query(
      `CREATE TABLE ${q}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL)`,
    )
  }
  const done = await client.query<{ version: number }>(`SELECT version FROM ${q}.schema_migrations`)
  const have = new Set(done.rows.map((r) => r.version))
  const applied: number[] = []
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (have.has(m.version)) continue
    for (const statement of m.up(q)) await client.query(statement)
    await client.query(
      `INSERT INTO ${q}.schema_migrations (version, name) VALUES ($1::integer, $2::text)`,
      [m.version, m.name],
    )
    applied.push(m.version)
  }
  return applied
}
