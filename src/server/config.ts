/**
 * @module Server configuration: one table of settings, read from flags, then the environment, then
 * an optional JSON file, then defaults; every value validated at start.
 */
import { readFileSync } from 'node:fs'
import { ParleyError } from '../core/errors.ts'
import { DEFAULT_POLICY, resolvePolicy, type SessionPolicy } from '../core/policy.ts'
import { formatDuration, parseDuration } from './duration.ts'

export interface ServerConfig {
  host: string
  port: number
  /** `sqlite` (a file in dataDir), `sqlite:<path>`, `memory`, `redis://...` or `postgres://...`. */
  store: string
  dataDir: string
  redisPrefix: string
  redisWaitReplicas: number
  postgresSchema: string
  policy: SessionPolicy
  sweepIntervalMs: number
  apiKeyCacheMs: number
  sessionCacheMs: number
  /** Serve the sign-in pages and the /auth API. */
  web: boolean
  /** Origins allowed to send cookie-authenticated unsafe requests; empty: derived from host and port. */
  origins: string[]
  signUp: boolean
  stepUpWindowMs: number
  cookieSameSite: 'lax' | 'strict'
  insecureCookie: boolean
  /** Issue access and refresh tokens: the /oauth endpoints, /auth/token and the JWKS. */
  tokens: boolean
  /** The `iss` of access tokens; null: this server's own origin, `http://localhost:<port>`. */
  tokenIssuer: string | null
  tokenAudience: string
  accessTokenTtlMs: number
  refreshTokenTtlMs: number
  refreshGraceMs: number
  /** The clients that may hold tokens; `dpop` ones must bind them to a DPoP key. */
  tokenClients: TokenClientConfig[]
  signingAlg: 'EdDSA' | 'ES256'
  keyRotationMs: number
  dpopNonce: boolean
  /** Serve live sessions at /live (and the demo page at /live/demo when `liveDemo` and `web`). */
  live: boolean
  liveHeartbeatMs: number
  liveResumeWindowMs: number
  liveHandshakeTimeoutMs: number
  liveSlowConsumer: 'wait' | 'drop-oldest' | 'disconnect'
  liveMaxPerPrincipal: number
  liveMaxPerAddress: number
  liveRate: number
  liveDemo: boolean
  bodyLimit: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  logRequests: boolean
  /** false, or how many proxies in front to trust (their X-Forwarded-For entries), or their addresses. */
  trustProxy: TrustProxy
  production: boolean
  /** From PARLEY_SECRET; otherwise generated and kept in dataDir (see secret.ts). */
  secret: string | null
}

/** One entry of `tokenClients`: `web` or `cli:dpop`. */
export interface TokenClientConfig {
  id: string
  dpop: boolean
}

/** Thrown for a bad setting; the CLI prints it and exits with code 2. */
export class ConfigError extends ParleyError {
  readonly setting: string
  constructor(setting: string, problem: string) {
    super('ERR_CONFIG_INVALID', `${setting}: ${problem}`)
    this.setting = setting
  }
}

type Parse<T> = (raw: unknown, name: string) => T

const str =
  (max = 4096): Parse<string> =>
  (raw, name) => {
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > max)
      throw new ConfigError(name, 'must be a non-empty string')
    return raw
  }
const int =
  (min: number, max: number): Parse<number> =>
  (raw, name) => {
    const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(name, `must be an integer from ${min} to ${max}`)
    }
    return n
  }
const duration =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parse<number> =>
  (raw, name) => {
    const ms = parseDuration(raw)
    if (ms === null || ms < min || ms > max)
      throw new ConfigError(
        name,
        `must be a duration such as 90s, 30m, 12h or 30d (at least ${formatDuration(min)}${
          max < Number.MAX_SAFE_INTEGER ? `, at most ${formatDuration(max)}` : ''
        })`,
      )
    return ms
  }
const bool: Parse<boolean> = (raw, name) => {
  if (typeof raw === 'boolean') return raw
  if (raw === 'true' || raw === '1' || raw === 'yes') return true
  if (raw === 'false' || raw === '0' || raw === 'no') return false
  throw new ConfigError(name, 'must be true or false')
}
const oneOf =
  <T extends string>(...values: T[]): Parse<T> =>
  (raw, name) => {
    if (typeof raw !== 'string' || !(values as string[]).includes(raw))
      throw new ConfigError(name, `must be one of ${values.join(', ')}`)
    return raw as T
  }
const storeUrl: Parse<string> = (raw, name) => {
  const s = str()(raw, name)
  if (s === 'sqlite' || s === 'memory' || s.startsWith('sqlite:')) return s
  if (/^rediss?:\/\//.test(s) || /^postgres(ql)?:\/\//.test(s)) {
    try {
      new URL(s)
      return s
    } catch {
      throw new ConfigError(name, 'is not a valid URL')
    }
  }
  throw new ConfigError(
    name,
    'must be sqlite, sqlite:<path>, memory, redis://... or postgres://...',
  )
}
const host: Parse<string> = (raw, name) => {
  const s = str(255)(raw, name)
  if (!/^[A-Za-z0-9.:_-]+$/.test(s))
    throw new ConfigError(name, 'must be a host name or an IP address')
  return s
}

const origins: Parse<string[]> = (raw, name) => {
  if (Array.isArray(raw)) raw = raw.join(',')
  if (typeof raw !== 'string')
    throw new ConfigError(name, 'must be a comma-separated list of origins')
  const list = raw
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '')
  return list.map((o) => {
    let url: URL
    try {
      url = new URL(o)
    } catch {
      throw new ConfigError(name, `${o} is not an origin such as https://app.example.com`)
    }
    if (
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.origin !== o.replace(/\/$/, '')
    ) {
      throw new ConfigError(name, `${o} must be scheme://host[:port], with no path`)
    }
    return url.origin
  })
}

/** An issuer is an https URL (http only for localhost development) without query or fragment. */
const issuer: Parse<string> = (raw, name) => {
  const s = str(2048)(raw, name)
  let url: URL
  try {
    url = new URL(s)
  } catch {
    throw new ConfigError(name, `${s} is not a URL such as https://auth.example.com`)
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash)
    throw new ConfigError(name, 'must be an http(s) URL without query or fragment')
  return s.replace(/\/$/, '')
}
const maybeIssuer: Parse<string> = (raw, name) => (raw === '' ? '' : issuer(raw, name))

const CLIENT_ID = /^[A-Za-z0-9._-]{1,64}$/
const clients: Parse<TokenClientConfig[]> = (raw, name) => {
  if (Array.isArray(raw)) raw = raw.join(',')
  if (typeof raw !== 'string')
    throw new ConfigError(name, 'must be a comma-separated list such as web,cli:dpop')
  const list = raw
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '')
  const seen = new Set<string>()
  return list.map((entry) => {
    const [id = '', flag, ...rest] = entry.split(':')
    if (!CLIENT_ID.test(id) || id.startsWith('plyk_') || rest.length > 0)
      throw new ConfigError(name, `${entry} must be an id (letters, digits, . _ -) or id:dpop`)
    if (flag !== undefined && flag !== 'dpop')
      throw new ConfigError(name, `${entry}: the only flag is :dpop`)
    if (seen.has(id)) throw new ConfigError(name, `${id} is listed twice`)
    seen.add(id)
    return { id, dpop: flag === 'dpop' }
  })
}

/** Which proxies' X-Forwarded-For entries are believed: none, the nearest N, or these addresses. */
export type TrustProxy = false | number | string[]

const trustProxy: Parse<TrustProxy> = (raw, name) => {
  if (raw === false || raw === 'false' || raw === '0' || raw === 0) return false
  // `true` once meant "believe the left-most entry", which any client can write: now one hop
  if (raw === true || raw === 'true') return 1
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\d+$/.test(raw))) {
    const n = Number(raw)
    if (Number.isInteger(n) && n >= 1 && n <= 16) return n
  }
  if (typeof raw === 'string') {
    const list = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
    if (list.length > 0 && list.every((a) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(a))) return list
  }
  throw new ConfigError(name, 'must be false, a hop count from 1 to 16, or proxy addresses/CIDRs')
}

interface Setting<T> {
  key: string
  env: string
  parse: Parse<T>
  /** As a user would write it (`30m`); parsed like any other value. */
  default: T | string
  help: string
}

function setting<T>(
  key: string,
  env: string,
  parse: Parse<T>,
  def: T | string,
  help: string,
): Setting<T> {
  return { key, env, parse, default: def, help }
}

/** Every setting, its environment variable, its default and what it does: docs/configuration.md. */
export const SETTINGS = [
  setting(
    'host',
    'PARLEY_HOST',
    host,
    '127.0.0.1',
    'address to listen on (SEC-55: loopback unless you say otherwise)',
  ),
  setting('port', 'PARLEY_PORT', int(0, 65535), 7411, 'port to listen on (0 picks a free one)'),
  setting(
    'store',
    'PARLEY_STORE',
    storeUrl,
    'sqlite',
    'sqlite | sqlite:<path> | memory | redis://... | postgres://...',
  ),
  setting(
    'dataDir',
    'PARLEY_DATA_DIR',
    str(),
    './data',
    'directory for the SQLite file and the generated secret',
  ),
  setting('redisPrefix', 'PARLEY_REDIS_PREFIX', str(128), 'parley:', 'key prefix in Redis'),
  setting('postgresSchema', 'PARLEY_PG_SCHEMA', str(63), 'parley', 'schema in PostgreSQL'),
  setting(
    'idleTimeout',
    'PARLEY_IDLE_TIMEOUT',
    duration(1000),
    formatDuration(DEFAULT_POLICY.idleTimeoutMs),
    'end a session after this long without activity',
  ),
  setting(
    'absoluteTimeout',
    'PARLEY_ABSOLUTE_TIMEOUT',
    duration(1000),
    formatDuration(DEFAULT_POLICY.absoluteTimeoutMs),
    'end a session this long after it began',
  ),
  setting(
    'touchInterval',
    'PARLEY_TOUCH_INTERVAL',
    duration(0),
    formatDuration(DEFAULT_POLICY.touchIntervalMs),
    'write last-seen at most once per interval',
  ),
  setting(
    'maxSessionsPerPrincipal',
    'PARLEY_MAX_SESSIONS',
    int(0, 1_000_000),
    DEFAULT_POLICY.maxSessionsPerPrincipal,
    'active sessions per principal (0: no limit)',
  ),
  setting(
    'onLimit',
    'PARLEY_ON_LIMIT',
    oneOf('evict_lru', 'refuse'),
    DEFAULT_POLICY.onLimit,
    'at the limit: evict_lru or refuse',
  ),
  setting(
    'retention',
    'PARLEY_RETENTION',
    duration(0),
    formatDuration(DEFAULT_POLICY.retentionMs),
    'keep ended sessions and their audit trail this long',
  ),
  setting(
    'sweepInterval',
    'PARLEY_SWEEP_INTERVAL',
    duration(1000),
    '30s',
    'how often expired sessions are ended and recorded',
  ),
  setting(
    'apiKeyCache',
    'PARLEY_API_KEY_CACHE',
    duration(0),
    '5s',
    'how long a checked API key is trusted before it is read again',
  ),
  setting(
    'redisWaitReplicas',
    'PARLEY_REDIS_WAIT_REPLICAS',
    int(0, 64),
    0,
    'with Redis: every end waits for this many replicas (WAIT), so a failover cannot undo it',
  ),
  setting(
    'sessionCache',
    'PARLEY_SESSION_CACHE',
    duration(0),
    '0',
    "with Redis or SQLite: serve hot sessions from memory for this long, invalidated by the store's change feed (0: off; see docs)",
  ),
  setting('web', 'PARLEY_WEB', bool, true, 'serve the sign-in pages and the /auth API'),
  setting(
    'origins',
    'PARLEY_ORIGINS',
    origins,
    '',
    'origins allowed to post with the session cookie (CSRF); default: this server on localhost and 127.0.0.1',
  ),
  setting(
    'signUp',
    'PARLEY_SIGN_UP',
    bool,
    true,
    'let anyone create an account on the sign-up page',
  ),
  setting(
    'stepUpWindow',
    'PARLEY_STEP_UP_WINDOW',
    duration(10_000),
    '10m',
    'sensitive actions need a sign-in at most this old',
  ),
  setting(
    'cookieSameSite',
    'PARLEY_COOKIE_SAMESITE',
    oneOf('lax', 'strict'),
    'lax',
    'SameSite of the session cookie',
  ),
  setting(
    'insecureCookie',
    'PARLEY_INSECURE_COOKIE',
    bool,
    false,
    'development only: a cookie without Secure or __Host- for plain http on a host other than localhost',
  ),
  setting(
    'tokens',
    'PARLEY_TOKENS',
    bool,
    true,
    'issue access and refresh tokens (/auth/token, /oauth/*, the JWKS; see tokens.md)',
  ),
  setting(
    'tokenIssuer',
    'PARLEY_TOKEN_ISSUER',
    maybeIssuer,
    '',
    'the iss of access tokens and the base of the OAuth metadata; default: http://localhost:<port>',
  ),
  setting('tokenAudience', 'PARLEY_TOKEN_AUDIENCE', str(256), 'parley', 'the aud of access tokens'),
  setting(
    'accessTokenTtl',
    'PARLEY_ACCESS_TOKEN_TTL',
    duration(10_000, 3_600_000),
    '5m',
    'lifetime of an access token (SEC-41: short; at most 1h)',
  ),
  setting(
    'refreshTokenTtl',
    'PARLEY_REFRESH_TOKEN_TTL',
    duration(60_000),
    '30d',
    'lifetime of a refresh token (each use rotates it)',
  ),
  setting(
    'refreshGrace',
    'PARLEY_REFRESH_GRACE',
    duration(0, 60_000),
    '10s',
    'concurrent refreshes within this window get the same new pair (SEC-44; at most 60s)',
  ),
  setting(
    'tokenClients',
    'PARLEY_TOKEN_CLIENTS',
    clients,
    'web',
    'comma-separated client ids that may hold tokens; id:dpop requires DPoP-bound tokens',
  ),
  setting(
    'signingAlg',
    'PARLEY_SIGNING_ALG',
    oneOf('EdDSA', 'ES256'),
    'EdDSA',
    'algorithm of new signing keys',
  ),
  setting(
    'keyRotation',
    'PARLEY_KEY_ROTATION',
    duration(3_600_000),
    '30d',
    'a new signing key this often; the old one verifies until its tokens have expired',
  ),
  setting(
    'dpopNonce',
    'PARLEY_DPOP_NONCE',
    bool,
    false,
    'require a server nonce in DPoP proofs at the token endpoints',
  ),
  setting(
    'live',
    'PARLEY_LIVE',
    bool,
    true,
    'serve live sessions (parley.v1 over WebSocket) at /live',
  ),
  setting(
    'liveHeartbeat',
    'PARLEY_LIVE_HEARTBEAT',
    duration(1_000, 300_000),
    '15s',
    'ping interval of live connections; keep it under every proxy idle timeout',
  ),
  setting(
    'liveResumeWindow',
    'PARLEY_LIVE_RESUME_WINDOW',
    duration(0, 86_400_000),
    '2m',
    'how long a live session whose connection dropped may be resumed',
  ),
  setting(
    'liveHandshakeTimeout',
    'PARLEY_LIVE_HANDSHAKE_TIMEOUT',
    duration(100, 60_000),
    '10s',
    'time from a live upgrade to a valid hello; slower connections are closed with 4002 (SEC-47)',
  ),
  setting(
    'liveSlowConsumer',
    'PARLEY_LIVE_SLOW_CONSUMER',
    oneOf('wait', 'drop-oldest', 'disconnect'),
    'wait',
    'when a live outbound queue is full: wait, drop-oldest (the client sees a gap) or disconnect',
  ),
  setting(
    'liveMaxPerPrincipal',
    'PARLEY_LIVE_MAX_PER_PRINCIPAL',
    int(1, 100_000),
    32,
    'live connections per principal (SEC-49)',
  ),
  setting(
    'liveMaxPerAddress',
    'PARLEY_LIVE_MAX_PER_ADDRESS',
    int(1, 1_000_000),
    256,
    'live connections per client address (SEC-49)',
  ),
  setting(
    'liveRate',
    'PARLEY_LIVE_RATE',
    int(1, 100_000),
    100,
    'frames per second a live client may send, sustained (SEC-49)',
  ),
  setting(
    'liveDemo',
    'PARLEY_LIVE_DEMO',
    bool,
    true,
    'serve the live demo page at /live/demo (with the web pages)',
  ),
  setting(
    'bodyLimit',
    'PARLEY_BODY_LIMIT',
    int(1024, 1 << 20),
    16_384,
    'largest request body in bytes',
  ),
  setting(
    'logLevel',
    'PARLEY_LOG_LEVEL',
    oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    'info',
    'log level',
  ),
  setting('logRequests', 'PARLEY_LOG_REQUESTS', bool, false, 'log every request (two lines each)'),
  setting(
    'trustProxy',
    'PARLEY_TRUST_PROXY',
    trustProxy,
    false,
    'proxies in front whose X-Forwarded-For to trust: false, a hop count (true = 1), or their addresses/CIDRs, comma-separated',
  ),
  setting(
    'production',
    'PARLEY_PRODUCTION',
    bool,
    false,
    'refuse to start without a strong PARLEY_SECRET',
  ),
  setting(
    'secret',
    'PARLEY_SECRET',
    str(4096),
    null as unknown as string,
    'secret for signing and encryption at rest',
  ),
] as const

export type SettingKey = (typeof SETTINGS)[number]['key']

/**
 * Resolves the configuration. `flags` come from the command line (already split by commander),
 * `env` from the process, `configFile` names an optional JSON file with the same keys.
 * Throws {@link ConfigError} naming the setting at fault.
 */
export function loadConfig(
  flags: Partial<Record<SettingKey, unknown>> = {},
  env: Record<string, string | undefined> = {},
  configFile?: string,
): ServerConfig {
  let file: Record<string, unknown> = {}
  if (configFile !== undefined) {
    try {
      file = JSON.parse(readFileSync(configFile, 'utf8'))
    } catch (err) {
      throw new ConfigError(
        'config',
        `cannot read ${configFile} as JSON (${(err as Error).message})`,
      )
    }
    if (file === null || typeof file !== 'object' || Array.isArray(file))
      throw new ConfigError('config', 'must be a JSON object')
    for (const key of Object.keys(file)) {
      if (!SETTINGS.some((s) => s.key === key))
        throw new ConfigError(key, `is not a setting (in ${configFile})`)
    }
  }
  const values: Record<string, unknown> = {}
  for (const s of SETTINGS) {
    const raw = flags[s.key] ?? env[s.env] ?? file[s.key]
    const name =
      flags[s.key] !== undefined ? `--${kebab(s.key)}` : env[s.env] !== undefined ? s.env : s.key
    const value = raw ?? s.default
    values[s.key] = value === null ? null : (s.parse as Parse<unknown>)(value, name)
  }
  if (
    env.NODE_ENV === 'production' &&
    flags.production === undefined &&
    env.PARLEY_PRODUCTION === undefined
  ) {
    values.production = true
  }
  let policy: SessionPolicy
  try {
    policy = resolvePolicy({
      idleTimeoutMs: values.idleTimeout as number,
      absoluteTimeoutMs: values.absoluteTimeout as number,
      touchIntervalMs: values.touchInterval as number,
      maxSessionsPerPrincipal: values.maxSessionsPerPrincipal as number,
      onLimit: values.onLimit as SessionPolicy['onLimit'],
      retentionMs: values.retention as number,
    })
  } catch (err) {
    throw new ConfigError('policy', (err as Error).message)
  }
  return {
    host: values.host as string,
    port: values.port as number,
    store: values.store as string,
    dataDir: values.dataDir as string,
    redisPrefix: values.redisPrefix as string,
    redisWaitReplicas: values.redisWaitReplicas as number,
    postgresSchema: values.postgresSchema as string,
    policy,
    sweepIntervalMs: values.sweepInterval as number,
    apiKeyCacheMs: values.apiKeyCache as number,
    sessionCacheMs: values.sessionCache as number,
    web: values.web as boolean,
    origins: values.origins as string[],
    signUp: values.signUp as boolean,
    stepUpWindowMs: values.stepUpWindow as number,
    cookieSameSite: values.cookieSameSite as 'lax' | 'strict',
    insecureCookie: values.insecureCookie as boolean,
    tokens: values.tokens as boolean,
    tokenIssuer: (values.tokenIssuer as string) || null,
    tokenAudience: values.tokenAudience as string,
    accessTokenTtlMs: values.accessTokenTtl as number,
    refreshTokenTtlMs: values.refreshTokenTtl as number,
    refreshGraceMs: values.refreshGrace as number,
    tokenClients: values.tokenClients as TokenClientConfig[],
    signingAlg: values.signingAlg as 'EdDSA' | 'ES256',
    keyRotationMs: values.keyRotation as number,
    dpopNonce: values.dpopNonce as boolean,
    live: values.live as boolean,
    liveHeartbeatMs: values.liveHeartbeat as number,
    liveResumeWindowMs: values.liveResumeWindow as number,
    liveHandshakeTimeoutMs: values.liveHandshakeTimeout as number,
    liveSlowConsumer: values.liveSlowConsumer as ServerConfig['liveSlowConsumer'],
    liveMaxPerPrincipal: values.liveMaxPerPrincipal as number,
    liveMaxPerAddress: values.liveMaxPerAddress as number,
    liveRate: values.liveRate as number,
    liveDemo: values.liveDemo as boolean,
    bodyLimit: values.bodyLimit as number,
    logLevel: values.logLevel as ServerConfig['logLevel'],
    logRequests: values.logRequests as boolean,
    trustProxy: values.trustProxy as TrustProxy,
    production: values.production as boolean,
    secret: (values.secret as string | null) ?? null,
  }
}

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}
