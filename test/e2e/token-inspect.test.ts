/**
 * @module End to end: `parley token inspect` on a temporary SQLite data directory whose tokens are
 * issued in this process (Sessions + TokenService on the same file and server secret): a valid
 * token, its session ended, another audience, an expired token, a foreign key, an altered
 * signature, an `alg: none` forgery, garbage, and usage errors. The token is never echoed whole.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock, systemClock } from '../../src/core/clock.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'
import { SqliteStore } from '../../src/store/sqlite/index.ts'
import { TokenService } from '../../src/tokens/service.ts'
import { killAll, makeTempDir, removeTempDirs, runCli } from '../helpers/parley-process.ts'

const ISSUER = 'http://parley.test'
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await killAll()
  await removeTempDirs()
})

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A data directory with a SQLite store, and a way to issue tokens on it as the server would. */
async function setUp() {
  const dir = await makeTempDir()
  const secret = randomBytes(32).toString('base64url')
  const store = new SqliteStore({ path: join(dir, 'parley.db') })
  await store.init()
  await store.tokens().init()
  closers.push(() => store.close())
  const service = async (options: { audience?: string; clock?: ManualClock } = {}) => {
    const clock = options.clock ?? systemClock
    const sessions = new Sessions({ store, clock })
    const tokens = new TokenService({
      sessions,
      tokens: store.tokens(),
      secret,
      issuer: ISSUER,
      audience: options.audience ?? 'parley',
      clients: [{ id: 'web' }],
      clock,
    })
    await tokens.init()
    closers.push(() => tokens.close())
    const issue = async (principal: string) => {
      const { session } = await sessions.create({ principal })
      const pair = await tokens.issue(session, { clientId: 'web' })
      return { session, jwt: pair.access_token }
    }
    return { sessions, issue }
  }
  const env = { PARLEY_SECRET: secret, PARLEY_TOKEN_ISSUER: ISSUER }
  const inspect = (jwt: string, ...flags: string[]) =>
    runCli(['token', 'inspect', jwt, '--data-dir', dir, ...flags], { env })
  return { dir, env, service, inspect }
}

/** The one verdict line. */
const verdictOf = (stdout: string) => /^valid: .*$/m.exec(stdout)?.[0] ?? `(none in ${stdout})`

describe('parley token inspect', () => {
  it('says valid for a fresh token, and why not once its session has ended', async () => {
    const { service, inspect } = await setUp()
    const { sessions, issue } = await service()
    const { session, jwt } = await issue('ann')
    const signature = jwt.split('.')[2]!

    const ok = await inspect(jwt)
    expect(ok.code, ok.stderr).toBe(0)
    expect(verdictOf(ok.stdout)).toMatch(/^valid: yes \(expires in \d+ (minutes|seconds)\)$/)
    expect(ok.stdout).toMatch(/^ {2}alg +"EdDSA"$/m)
    expect(ok.stdout).toMatch(/^ {2}typ +"at\+jwt"$/m)
    expect(ok.stdout).toMatch(/^ {2}sub +"ann"$/m)
    expect(ok.stdout).toMatch(new RegExp(`^ {2}sid +"${session.id}"$`, 'm'))
    expect(ok.stdout).toMatch(new RegExp(`^ {2}exp +\\d+ {2}${ISO} \\(in \\d+ minutes?\\)$`, 'm'))
    expect(ok.stdout).toMatch(
      /^signature {2}[A-Za-z0-9_-]{8}… \(86 characters, not shown in full\)$/m,
    )
    expect(ok.stdout).toContain(`session    ${session.id}: active`)
    // A bearer credential: neither the token nor its signature is printed.
    expect(ok.stdout + ok.stderr).not.toContain(jwt)
    expect(ok.stdout + ok.stderr).not.toContain(signature)

    const json = await inspect(jwt, '--json')
    expect(json.code, json.stderr).toBe(0)
    const parsed = JSON.parse(json.stdout)
    expect(parsed).toMatchObject({
      valid: true,
      verdict: { code: 'valid' },
      header: { alg: 'EdDSA', typ: 'at+jwt' },
      claims: { iss: ISSUER, aud: 'parley', sub: 'ann', sid: session.id, client_id: 'web' },
      expected: { issuer: ISSUER, audience: 'parley' },
      session: { id: session.id, state: 'active', endReason: null },
      signature: { length: 86 },
    })
    expect(json.stdout).not.toContain(signature)

    await sessions.end(session.id, 'revoked', { actor: 'test' })
    const ended = await inspect(jwt)
    expect(ended.code, ended.stderr).toBe(1)
    expect(verdictOf(ended.stdout)).toMatch(
      new RegExp(
        `^valid: no — session ended: revoked \\(it was ended by an administrator.*\\) at ${ISO} \\(\\d+ seconds? ago\\)$`,
      ),
    )
    const endedJson = JSON.parse((await inspect(jwt, '--json')).stdout)
    expect(endedJson).toMatchObject({
      valid: false,
      verdict: { code: 'session_ended' },
      session: { state: 'ended', endReason: 'revoked' },
    })
  })

  it('names the audience, issuer, expiry, key and signature at fault', async () => {
    const { service, inspect } = await setUp()
    const other = await (await service({ audience: 'billing-api' })).issue('bob')
    // Issued an hour ago: its access token lapsed 55 minutes ago.
    const past = new ManualClock(Date.now() - 3_600_000)
    const old = await (await service({ clock: past })).issue('cy')
    const { jwt } = await (await service()).issue('dee')
    // Same issuer, same audience, but a key of another Parley (another store).
    const foreignStore = new MemoryStore()
    const foreign = new TokenService({
      sessions: new Sessions({ store: foreignStore }),
      tokens: foreignStore.tokens(),
      secret: randomBytes(32).toString('base64url'),
      issuer: ISSUER,
      audience: 'parley',
      clients: [{ id: 'web' }],
    })
    await foreign.init()
    closers.push(() => foreign.close())
    const { session: fs } = await new Sessions({ store: foreignStore }).create({ principal: 'eve' })
    const foreignJwt = (await foreign.issue(fs, { clientId: 'web' })).access_token
    const [h, p, s] = jwt.split('.') as [string, string, string]
    const altered = `${h}.${b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'root' })}.${s}`

    const [aud, iss, expired, unknown, badSig, flagAud] = await Promise.all([
      inspect(other.jwt),
      inspect(jwt, '--issuer', 'https://elsewhere.example'),
      inspect(old.jwt),
      inspect(foreignJwt),
      inspect(altered),
      inspect(other.jwt, '--audience', 'billing-api'),
    ])
    expect(aud.code).toBe(1)
    expect(verdictOf(aud.stdout)).toBe(
      'valid: no — wrong audience: expected "parley", got "billing-api"',
    )
    expect(iss.code).toBe(1)
    expect(verdictOf(iss.stdout)).toBe(
      `valid: no — wrong issuer: expected "https://elsewhere.example", got "${ISSUER}"`,
    )
    expect(expired.code).toBe(1)
    expect(verdictOf(expired.stdout)).toMatch(
      new RegExp(`^valid: no — expired at ${ISO} \\(5[4-6] minutes ago\\)$`),
    )
    expect(unknown.code).toBe(1)
    expect(verdictOf(unknown.stdout)).toMatch(
      /^valid: no — unknown key: kid "[A-Za-z0-9_-]{43}" is not one of this server's 1 signing key\(s\)$/,
    )
    expect(badSig.code).toBe(1)
    expect(verdictOf(badSig.stdout)).toMatch(/^valid: no — bad signature: not signed by key /)
    expect(flagAud.code, flagAud.stdout + flagAud.stderr).toBe(0)
    expect(verdictOf(flagAud.stdout)).toMatch(/^valid: yes/)
  })

  it('refuses an alg: none forgery and garbage, and exits 2 on usage errors', async () => {
    const { service, inspect, dir, env } = await setUp()
    const { jwt } = await (await service()).issue('ann')
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString())
    const none = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ ...claims, sub: 'admin' })}.`
    const hs256 = `${b64({ alg: 'HS256', typ: 'at+jwt' })}.${b64(claims)}.${'A'.repeat(43)}`
    // A claim that tries to drive the terminal is printed escaped.
    const ansi = `${b64({ alg: 'none' })}.${b64({ sub: '\u001b[2Jpwned' })}.`

    const [forged, hs, garbage, twoParts, escaped, viaStdin] = await Promise.all([
      inspect(none),
      inspect(hs256),
      inspect('not-a-jwt'),
      inspect('abc.def'),
      inspect(ansi),
      runCli(['token', 'inspect', '-', '--data-dir', dir], { env, input: `Bearer ${jwt}\n` }),
    ])
    expect(forged.code).toBe(1)
    expect(verdictOf(forged.stdout)).toBe(
      'valid: no — algorithm not allowed: "none" (accepted: EdDSA, ES256)',
    )
    expect(forged.stdout).toContain('signature  (none)')
    expect(hs.code).toBe(1)
    expect(verdictOf(hs.stdout)).toBe(
      'valid: no — algorithm not allowed: "HS256" (accepted: EdDSA, ES256)',
    )
    expect(garbage.code).toBe(1)
    expect(verdictOf(garbage.stdout)).toBe(
      'valid: no — malformed: a JWT has 3 parts separated by dots, this has 1',
    )
    expect(garbage.stdout).not.toContain('header')
    expect(twoParts.code).toBe(1)
    expect(verdictOf(twoParts.stdout)).toMatch(/^valid: no — malformed: /)
    expect(escaped.stdout).toContain('"\\u001b[2Jpwned"')
    expect(escaped.stdout).not.toContain('\u001b')
    expect(viaStdin.code, viaStdin.stderr).toBe(0)
    expect(verdictOf(viaStdin.stdout)).toMatch(/^valid: yes/)

    const [missing, emptyIssuer] = await Promise.all([
      runCli(['token', 'inspect', '--data-dir', dir], { env }),
      runCli(['token', 'inspect', jwt, '--issuer', '', '--data-dir', dir], { env }),
    ])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/missing required argument 'jwt'/)
    expect(emptyIssuer.code).toBe(2)
    expect(emptyIssuer.stderr).toContain('--issuer must be a non-empty string')
    expect(emptyIssuer.stderr).not.toContain(jwt)
  })
})
