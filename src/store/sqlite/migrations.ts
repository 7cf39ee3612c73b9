/** @module SQLite schema migrations: versioned, applied in order at start, each in a transaction. */

export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  principal TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'ended')),
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  idle_timeout_ms INTEGER NOT NULL,
  idle_expires_at INTEGER NOT NULL,
  absolute_expires_at INTEGER NOT NULL,
  expires_at INTEGER GENERATED ALWAYS AS (min(idle_expires_at, absolute_expires_at)) VIRTUAL,
  ended_at INTEGER,
  end_reason TEXT,
  auth TEXT NOT NULL,
  client_ip TEXT,
  user_agent TEXT,
  data TEXT NOT NULL,
  version INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_principal_active ON sessions (principal, last_seen_at) WHERE state = 'active';
CREATE INDEX sessions_expiry_active ON sessions (expires_at) WHERE state = 'active';
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE state = 'ended';
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  session_id TEXT,
  principal TEXT,
  reason TEXT,
  actor TEXT,
  ip TEXT,
  user_agent TEXT,
  detail TEXT
) STRICT;
CREATE INDEX events_session ON events (session_id, id) WHERE session_id IS NOT NULL;
CREATE INDEX events_principal ON events (principal, id) WHERE principal IS NOT NULL;
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  name TEXT NOT NULL,
  scope TEXT NOT NULL CHECK (scope IN ('read', 'manage')),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;
`,
  },
]

/**
 * The user store's steps: `SqliteUserStore.init()` applies them, the session store never does, so
 * a file used only for sessions keeps only the session tables. Their versions share one sequence
 * (and the schema_migrations table) with MIGRATIONS: a new step in either list takes the next
 * number after both lists, never a gap below an applied version.
 */
export const USER_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 2,
    sql: `
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  roles TEXT NOT NULL,
  permissions TEXT NOT NULL,
  disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),
  totp_secret_enc TEXT,
  totp_confirmed INTEGER,
  totp_enrolled_at INTEGER,
  totp_last_used_step INTEGER,
  recovery_codes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL
) STRICT;
CREATE TABLE auth_failures (
  key_hash TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  window_ends_at INTEGER NOT NULL
) STRICT;
CREATE INDEX auth_failures_window_end ON auth_failures (window_ends_at);
`,
  },
]

/**
 * The token store's steps: `SqliteTokenStore.init()` applies them, the session store never does.
 * Same sequence and schema_migrations table as the lists above. Signing keys tie on createdAt by
 * rowid (insertion order); successorAccess is three columns, all null or all set.
 */
export const TOKEN_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 3,
    sql: `
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  alg TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  private_key_enc TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  retires_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX signing_keys_created ON signing_keys (created_at);
CREATE TABLE refresh_tokens (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  session_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  rotated_at INTEGER,
  successor_id TEXT,
  successor_jti TEXT,
  successor_iat INTEGER,
  successor_exp INTEGER,
  jkt TEXT
) STRICT;
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE TABLE single_use (
  key_hash TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX single_use_expires ON single_use (expires_at);
`,
  },
]
