/**
 * @module `parley token inspect <jwt>`: decodes an access token without trusting it, then says
 * whether this server accepts it now and, if not, why (format, algorithm, key, signature, times,
 * issuer, audience, or its session ended), against the configured store's keys and sessions.
 */
import type { Command } from 'commander'
import { compactVerify } from 'jose'
import { type Clock, systemClock } from '../core/clock.ts'
import { isParleyError } from '../core/errors.ts'
import { expiresAt, expiryReason, type SessionRecord } from '../core/session.ts'
import type { SessionStore } from '../core/store.ts'
import { isWellFormedId } from '../core/token.ts'
import { openStore, tokensOf } from '../server/open-store.ts'
import { loadSecret } from '../server/secret.ts'
import { KeyRing, TOKEN_DEFAULTS, Verifier } from '../tokens/index.ts'
import { REASON_TEXT } from './format.ts'
import { addConfigOptions, configFrom, STORE_SETTINGS } from './options.ts'

type Opts = Record<string, unknown>
type Json = Record<string, unknown>

/** Why a token is or is not accepted: a closed set, so that `--json` readers can switch on it. */
export type VerdictCode =
  | 'valid'
  | 'malformed'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'not_an_access_token'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'bad_claims'
  | 'session_not_found'
  | 'session_ended'
  | 'rejected'

export interface Verdict {
  code: VerdictCode
  /** One line: `expired at 2026-11-29T12:05:00.000Z (3 minutes ago)`. */
  message: string
}

/** What the token is checked against. */
export interface Expected {
  issuer: string
  audience: string
  algorithms: readonly string[]
  clockSkewMs: number
}

export interface Inspection {
  header: Json | null
  claims: Json | null
  /** The start of the signature only: the whole token is a bearer credential. */
  signature: { start: string; length: number } | null
  expected: Expected
  /** The token's session as the store has it (looked up once the signature holds). */
  session: {
    id: string
    state: string
    endReason: string | null
    endedAt: string | null
    expiresAt: string
  } | null
  valid: boolean
  verdict: Verdict
}

const TIME_CLAIMS = ['iat', 'nbf', 'exp', 'auth_time']
const KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c']
const SEGMENT = /^[A-Za-z0-9_-]*$/
const SIGNATURE_SHOWN = 8
/** Control and bidi characters: a forged claim must not drive the terminal. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

const iso = (ms: number) => new Date(ms).toISOString()
const whenFmt = new Intl.RelativeTimeFormat('en', { numeric: 'always' })

/** `3 minutes ago`, `in 2 hours`: the distance from `now` in its largest whole unit. */
export function relative(at: number, now: number): string {
  const d = at - now
  const abs = Math.abs(d)
  const [size, unit] =
    abs < 60_000
      ? [1000, 'second' as const]
      : abs < 3_600_000
        ? [60_000, 'minute' as const]
        : abs < 172_800_000
          ? [3_600_000, 'hour' as const]
          : [86_400_000, 'day' as const]
  const n = Math.round(abs / size)
  return whenFmt.format(d < 0 ? -n : n, unit)
}

/** A decoded value for the terminal: JSON, with every control or bidi character escaped, bounded. */
export function show(value: unknown, max = 200): string {
  const text = JSON.stringify(value) ?? String(value)
  const safe = text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return safe.length > max ? `${safe.slice(0, max)}… (${safe.length} characters)` : safe
}

function jsonSegment(part: string): Json | null {
  if (part === '' || !SEGMENT.test(part)) return null
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Json)
      : null
  } catch {
    return null
  }
}

/** Splits and decodes a compact JWS without checking anything; `problem` says why it is not one. */
export function decode(token: string): {
  header: Json | null
  claims: Json | null
  signature: string | null
  problem: string | null
} {
  const out = { header: null, claims: null, signature: null, problem: null }
  if (token.length > TOKEN_DEFAULTS.maxTokenLength)
    return { ...out, problem: `longer than ${TOKEN_DEFAULTS.maxTokenLength} characters` }
  const parts = token.split('.')
  if (parts.length === 5) return { ...out, problem: 'an encrypted token (JWE), not a signed JWT' }
  if (parts.length !== 3)
    return { ...out, problem: `a JWT has 3 parts separated by dots, this has ${parts.length}` }
  const [h, p, s] = parts as [string, string, string]
  const header = jsonSegment(h)
  if (header === null) return { ...out, problem: 'the header is not base64url-encoded JSON' }
  const claims = jsonSegment(p)
  if (claims === null)
    return { ...out, header, problem: 'the payload is not base64url-encoded JSON' }
  if (!SEGMENT.test(s))
    return { header, claims, signature: null, problem: 'the signature is not base64url' }
  return { header, claims, signature: s, problem: null }
}

const isText = (v: unknown, max = 1024): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max

/** The claims a Parley access token must carry, each of its type (as the Verifier requires). */
function badClaims(c: Json): string[] {
  const bad: string[] = []
  if (!isText(c.sub)) bad.push('sub')
  if (!isText(c.sid, 128)) bad.push('sid')
  if (!isText(c.jti, 128)) bad.push('jti')
  if (!Number.isSafeInteger(c.iat)) bad.push('iat')
  if (!Number.isSafeInteger(c.exp)) bad.push('exp')
  if (!Number.isSafeInteger(c.auth_level)) bad.push('auth_level')
  if (!isText(c.client_id, 256)) bad.push('client_id')
  const cnf = c.cnf as { jkt?: unknown } | null | undefined
  if (cnf !== undefined && (cnf === null || typeof cnf !== 'object' || !isText(cnf.jkt, 128)))
    bad.push('cnf')
  return bad
}

/** What the judgement reads: the keys, the sessions, the clock. */
export interface InspectContext {
  expected: Expected
  ring: KeyRing
  store: SessionStore
  clock: Clock
}

const no = (code: VerdictCode, message: string): Verdict => ({ code, message })

/** The session part of an inspection, and the verdict when the session is over. */
function sessionFacts(record: SessionRecord, now: number) {
  const facts = {
    id: record.id,
    state: record.state,
    endReason: record.endReason as string | null,
    endedAt: record.endedAt === null ? null : iso(record.endedAt),
    expiresAt: iso(expiresAt(record)),
  }
  let verdict: Verdict | null = null
  if (record.state === 'ended') {
    const reason = record.endReason
    const why = reason === null ? 'reason unknown' : `${reason} (${REASON_TEXT[reason]})`
    const at =
      record.endedAt === null ? '' : ` at ${iso(record.endedAt)} (${relative(record.endedAt, now)})`
    verdict = no('session_ended', `session ended: ${why}${at}`)
  } else if (now >= expiresAt(record)) {
    // Read-only: the sweep (or the next request) records this end; it has already happened.
    const reason = expiryReason(record)
    const at = expiresAt(record)
    verdict = no(
      'session_ended',
      `session ended: ${reason} (${REASON_TEXT[reason]}) at ${iso(at)} (${relative(at, now)}; not yet recorded)`,
    )
  }
  return { facts, verdict }
}

/**
 * Judges `token` as this server would now, naming the first check that fails. Reads the store
 * (keys, the token's session) and writes nothing.
 *
 * @example
 * const result = await inspectToken(jwt, { expected, ring, store, clock: systemClock })
 * result.verdict.message // 'expired at 2026-11-29T12:05:00.000Z (3 minutes ago)'
 */
export async function inspectToken(token: string, ctx: InspectContext): Promise<Inspection> {
  const { expected } = ctx
  const now = ctx.clock.now()
  const decoded = decode(token)
  const result: Inspection = {
    header: decoded.header,
    claims: decoded.claims,
    signature:
      decoded.signature === null
        ? null
        : { start: decoded.signature.slice(0, SIGNATURE_SHOWN), length: decoded.signature.length },
    expected,
    session: null,
    valid: false,
    verdict: no('malformed', `malformed: ${decoded.problem}`),
  }
  const { header, claims } = decoded
  if (decoded.problem !== null || header === null || claims === null) return result
  result.verdict = await judge(token, header, claims, ctx, now, result)
  result.valid = result.verdict.code === 'valid'
  return result
}

async function judge(
  token: string,
  header: Json,
  claims: Json,
  ctx: InspectContext,
  now: number,
  result: Inspection,
): Promise<Verdict> {
  const { expected, ring } = ctx
  const alg = header.alg
  if (typeof alg !== 'string' || !expected.algorithms.includes(alg))
    return no(
      'algorithm_not_allowed',
      `algorithm not allowed: ${show(alg)} (accepted: ${expected.algorithms.join(', ')})`,
    )
  const named = KEY_HEADERS.find((h) => h in header)
  if (named !== undefined)
    return no('unknown_key', `unknown key: the token names its own key (${named}), never trusted`)
  const kid = header.kid
  if (!isText(kid, 128)) return no('unknown_key', 'unknown key: the token has no kid')
  const key = await ring.key(kid)
  if (key === null) {
    const old = ring.records.find((r) => r.kid === kid)
    return no(
      'unknown_key',
      old === undefined
        ? `unknown key: kid ${show(kid)} is not one of this server's ${ring.records.length} signing key(s)`
        : `unknown key: kid ${show(kid)} expired at ${iso(old.expiresAt)} (${relative(old.expiresAt, now)})`,
    )
  }
  if (key.alg !== alg)
    return no(
      'algorithm_not_allowed',
      `algorithm not allowed: key ${kid} is ${key.alg}, not ${alg}`,
    )
  try {
    await compactVerify(token, key.key, { algorithms: [key.alg] })
  } catch (err) {
    const code = (err as { code?: unknown }).code
    return code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'
      ? no('bad_signature', `bad signature: not signed by key ${kid} (altered or forged)`)
      : no('malformed', `malformed: ${(err as Error).message}`)
  }
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : null
  if (typ !== 'at+jwt' && typ !== 'application/at+jwt')
    return no(
      'not_an_access_token',
      `not an access token: typ ${show(header.typ)}, expected "at+jwt"`,
    )

  const skew = expected.clockSkewMs
  const exp = claims.exp
  if (typeof exp !== 'number') return no('bad_claims', 'missing or malformed claims: exp')
  if (exp * 1000 <= now - skew)
    return no('expired', `expired at ${iso(exp * 1000)} (${relative(exp * 1000, now)})`)
  if (typeof claims.nbf === 'number' && claims.nbf * 1000 > now + skew) {
    const at = claims.nbf * 1000
    return no('not_yet_valid', `not yet valid: nbf is ${iso(at)} (${relative(at, now)})`)
  }
  if (typeof claims.iat === 'number' && claims.iat * 1000 > now + skew) {
    const at = claims.iat * 1000
    return no(
      'not_yet_valid',
      `not yet valid: issued in the future, ${iso(at)} (${relative(at, now)})`,
    )
  }
  if (claims.iss !== expected.issuer)
    return no(
      'wrong_issuer',
      `wrong issuer: expected ${show(expected.issuer)}, got ${show(claims.iss)}`,
    )
  const aud = claims.aud
  if (!(aud === expected.audience || (Array.isArray(aud) && aud.includes(expected.audience))))
    return no(
      'wrong_audience',
      `wrong audience: expected ${show(expected.audience)}, got ${show(aud)}`,
    )
  const bad = badClaims(claims)
  if (bad.length > 0) return no('bad_claims', `missing or malformed claims: ${bad.join(', ')}`)

  const sid = claims.sid as string
  const record = isWellFormedId(sid) ? await ctx.store.get(sid) : null
  if (record === null)
    return no(
      'session_not_found',
      `session not found: no session ${show(sid)} in this store (never here, or purged after its retention)`,
    )
  const session = sessionFacts(record, now)
  result.session = session.facts
  if (session.verdict !== null) return session.verdict

  // The checks above name the reason; the Verifier the server runs has the last word.
  const verifier = new Verifier({
    issuer: expected.issuer,
    audience: expected.audience,
    keys: ring,
    clockSkewMs: skew,
    cache: false,
    clock: ctx.clock,
  })
  try {
    await verifier.verify(token, async () => {})
  } catch (err) {
    if (isParleyError(err, 'ERR_STORE_UNAVAILABLE')) throw err
    const code = (err as { code?: unknown }).code
    return no('rejected', `rejected by the verifier: ${String(code)}: ${(err as Error).message}`)
  }
  const left = exp * 1000 - now
  const dpop = (claims.cnf as { jkt?: unknown } | undefined)?.jkt
  const notes = [
    left > 0
      ? `expires ${relative(exp * 1000, now)}`
      : `exp passed ${relative(exp * 1000, now)}, within the ${skew / 1000} s clock skew tolerated`,
    ...(typeof dpop === 'string' ? ['DPoP-bound: each request also needs a proof of its key'] : []),
  ]
  return { code: 'valid', message: `yes (${notes.join('; ')})` }
}

// ------------------------------------------------------------------------------------- output

function out(line: string): void {
  process.stdout.write(`${line}\n`)
}

function fields(obj: Json, now: number): string[] {
  const keys = Object.keys(obj)
  const width = Math.max(3, ...keys.map((k) => show(k).length - 2))
  return keys.map((k) => {
    const v = obj[k]
    const name = show(k).slice(1, -1).padEnd(width)
    const time =
      TIME_CLAIMS.includes(k) && typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e11
        ? `  ${iso(v * 1000)} (${relative(v * 1000, now)})`
        : ''
    return `  ${name}  ${typeof v === 'number' ? String(v) : show(v)}${time}`
  })
}

/** The inspection as plain text: header, claims, signature start, what it was checked against, verdict. */
export function formatInspection(r: Inspection, now: number): string {
  const lines: string[] = []
  if (r.header !== null) lines.push('header (decoded, not trusted)', ...fields(r.header, now))
  if (r.claims !== null) lines.push('claims (decoded, not trusted)', ...fields(r.claims, now))
  if (r.signature !== null)
    lines.push(
      r.signature.length === 0
        ? 'signature  (none)'
        : `signature  ${r.signature.start}… (${r.signature.length} characters, not shown in full)`,
    )
  const e = r.expected
  lines.push(
    `checked    issuer ${show(e.issuer)}, audience ${show(e.audience)}, algorithms ${e.algorithms.join(', ')}, clock skew ${e.clockSkewMs / 1000} s`,
  )
  if (r.session !== null) {
    const s = r.session
    lines.push(
      `session    ${s.id}: ${s.state}${s.endReason ? ` (${s.endReason})` : ''}${
        s.endedAt ? ` at ${s.endedAt}` : `, expires ${s.expiresAt}`
      }`,
    )
  }
  lines.push(r.valid ? `valid: ${r.verdict.message}` : `valid: no — ${r.verdict.message}`)
  return lines.join('\n')
}

/** The token from the argument, or from standard input for `-` (keeps it out of `ps` and history). */
async function tokenFrom(arg: string, cmd: Command): Promise<string> {
  let raw = arg
  if (arg === '-') {
    if (process.stdin.isTTY)
      cmd.error('parley: pipe the token on standard input with -', { exitCode: 2 })
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of process.stdin) {
      chunks.push(chunk as Buffer)
      size += (chunk as Buffer).length
      if (size > 2 * TOKEN_DEFAULTS.maxTokenLength) break
    }
    raw = Buffer.concat(chunks).toString('utf8')
  }
  return raw.trim().replace(/^(Bearer|DPoP)\s+/i, '')
}

function textOption(cmd: Command, opts: Opts, name: 'issuer' | 'audience'): string | undefined {
  const v = opts[name]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024)
    cmd.error(`parley: --${name} must be a non-empty string`, { exitCode: 2 })
  return v as string
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('Access tokens (JWT): inspect one')
  const inspect = token
    .command('inspect')
    .description(
      'Decode an access token and say whether this server accepts it now, and if not, why (exit 0 valid, 1 not)',
    )
    .argument('<jwt>', 'the access token; - reads it from standard input')
    .option('--issuer <iss>', 'expected iss (default: the configured token issuer)')
    .option('--audience <aud>', 'expected aud (default: the configured token audience)')
    .option('--json', 'print JSON')
  addConfigOptions(inspect, [...STORE_SETTINGS, 'production'])
  inspect.action(async (arg: string, opts: Opts, cmd: Command) => {
    const issuerFlag = textOption(cmd, opts, 'issuer')
    const audienceFlag = textOption(cmd, opts, 'audience')
    const jwt = await tokenFrom(arg, cmd)
    const config = configFrom(opts)
    const expected: Expected = {
      // As `parley serve` sets them: the configured issuer, else this server on localhost.
      issuer: issuerFlag ?? config.tokenIssuer ?? `http://localhost:${config.port}`,
      audience: audienceFlag ?? config.tokenAudience,
      algorithms: TOKEN_DEFAULTS.algorithms,
      clockSkewMs: TOKEN_DEFAULTS.clockSkewMs,
    }
    const secret = loadSecret({
      configured: config.secret,
      dataDir: config.dataDir,
      production: config.production,
    })
    const store = await openStore(config)
    try {
      const tokens = tokensOf(store)
      await tokens.init()
      const ring = new KeyRing({ tokens, secret, clock: systemClock })
      const result = await inspectToken(jwt, { expected, ring, store, clock: systemClock })
      out(opts.json ? JSON.stringify(result, null, 2) : formatInspection(result, systemClock.now()))
      process.exitCode = result.valid ? 0 : 1
    } finally {
      await store.close()
    }
  })
}
