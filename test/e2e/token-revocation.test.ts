/**
 * @module End to end: two real `parley serve` processes on one SQLite data directory, sharing the
 * server secret and the token issuer, plus a remote Verifier in this process (JWKS over HTTP and a
 * deny list polling `/v1/tokens/revoked`). An access token minted on A works on A, on B and at the
 * verifier; once its session is ended by a third process (the CLI), every one of them refuses it
 * within the documented propagation bound, which this test measures.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { DenyList } from '../../src/tokens/deny-list.ts'
import { Verifier } from '../../src/tokens/verifier.ts'
import {
  killAll,
  makeTempDir,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
} from '../helpers/parley-process.ts'

afterEach(async () => {
  await killAll()
  await removeTempDirs()
})

const PASSWORD = 'correct horse battery staple'
const ISSUER = 'http://parley.test'
/** The documented bound (docs/tokens.md): deny-list poll interval (1 s) plus a margin. */
const BOUND_MS = 3000
const POLL_MS = 50

async function me(
  server: ServerProcess,
  accessToken: string,
): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${server.url}/auth/me`, {
    headers: { authorization: `Bearer ${accessToken}` },
    signal: AbortSignal.timeout(5000),
  })
  const body = (await res.json()) as { code?: string; session?: { id: string } }
  return { status: res.status, ...(body.code !== undefined ? { code: body.code } : {}) }
}

/** Polls `refused` every 50 ms until it says yes; resolves to the ms it took, or fails past the bound. */
async function msUntil(
  what: string,
  refused: () => Promise<boolean>,
  from: number,
): Promise<number> {
  for (;;) {
    if (await refused()) return performance.now() - from
    const elapsed = performance.now() - from
    if (elapsed > BOUND_MS * 2)
      throw new Error(`${what} still accepts the token after ${elapsed} ms`)
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

describe('access tokens across processes', () => {
  it('SEC-19, SEC-41: a session ended by another process is refused by both servers and a remote verifier within the bound', async () => {
    const dir = await makeTempDir()
    const env = { PARLEY_SECRET: randomBytes(32).toString('base64url') }
    const common = [
      '--port',
      '0',
      '--data-dir',
      dir,
      '--log-level',
      'warn',
      '--token-issuer',
      ISSUER,
    ]

    const created = await runCli(['users', 'create', 'ann', '--data-dir', dir], {
      env,
      input: `${PASSWORD}\n`,
    })
    expect(created.code, created.stderr).toBe(0)
    const key = await runCli(
      ['keys', 'create', '--name', 'api', '--scope', 'read', '--data-dir', dir],
      {
        env,
      },
    )
    expect(key.code, key.stderr).toBe(0)
    const apiKey = key.stdout.trim()

    const a = await startServer(common, { env })
    const b = await startServer(common, { env })

    // sign in on A: the pair comes from A, signed with the key both servers share
    const res = await fetch(`${a.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ann', password: PASSWORD, client_id: 'web' }),
    })
    expect(res.status).toBe(200)
    const pair = (await res.json()) as { access_token: string; token_type: string }
    expect(pair.token_type).toBe('Bearer')

    // a service elsewhere: keys from A's JWKS, ended sessions from B's feed
    const deny = new DenyList({
      pollMs: 1000,
      source: {
        async endedSince(since, limit) {
          const feed = await fetch(`${b.url}/v1/tokens/revoked?since=${since}&limit=${limit}`, {
            headers: { authorization: `Bearer ${apiKey}` },
            signal: AbortSignal.timeout(2000),
          })
          if (!feed.ok) throw new Error(`feed answered ${feed.status}`)
          return ((await feed.json()) as { ended: { id: string; endedAt: number }[] }).ended
        },
      },
    })
    await deny.start()
    const verifier = new Verifier({
      issuer: ISSUER,
      audience: 'parley',
      keys: { jwksUrl: `${a.url}/.well-known/jwks.json` },
      denyList: deny,
    })
    try {
      const onA = await fetch(`${a.url}/auth/me`, {
        headers: { authorization: `Bearer ${pair.access_token}` },
      })
      expect(onA.status).toBe(200)
      const sid = ((await onA.json()) as { session: { id: string } }).session.id
      expect(await me(b, pair.access_token)).toEqual({ status: 200 })
      expect((await verifier.verify(pair.access_token)).sid).toBe(sid)

      // a third process ends the session
      const ended = await runCli(['sessions', 'end', sid, '--data-dir', dir], { env })
      expect(ended.code, ended.stderr).toBe(0)
      const from = performance.now()

      const refusedBy = async (server: ServerProcess) => {
        const r = await me(server, pair.access_token)
        if (r.status === 200) return false
        expect(r).toEqual({ status: 401, code: 'ERR_TOKEN_REVOKED' })
        return true
      }
      const [msA, msB, msVerifier] = await Promise.all([
        msUntil('server A', () => refusedBy(a), from),
        msUntil('server B', () => refusedBy(b), from),
        msUntil(
          'the remote verifier',
          () =>
            verifier.verify(pair.access_token).then(
              () => false,
              (err: { code?: string }) => {
                expect(err.code).toBe('ERR_TOKEN_REVOKED')
                return true
              },
            ),
          from,
        ),
      ])
      console.info(
        `propagation after the end: A ${Math.round(msA)} ms, B ${Math.round(msB)} ms, remote verifier ${Math.round(msVerifier)} ms (bound ${BOUND_MS} ms)`,
      )
      expect(msA).toBeLessThanOrEqual(BOUND_MS)
      expect(msB).toBeLessThanOrEqual(BOUND_MS)
      expect(msVerifier).toBeLessThanOrEqual(BOUND_MS)
    } finally {
      await deny.close()
    }
  }, 60_000)

  it('SEC-19: a refresh token revoked on B ends the session for an access token minted on A, on both', async () => {
    const dir = await makeTempDir()
    const env = { PARLEY_SECRET: randomBytes(32).toString('base64url') }
    const common = [
      '--port',
      '0',
      '--data-dir',
      dir,
      '--log-level',
      'warn',
      '--token-issuer',
      ISSUER,
    ]
    const created = await runCli(['users', 'create', 'bob', '--data-dir', dir], {
      env,
      input: `${PASSWORD}\n`,
    })
    expect(created.code, created.stderr).toBe(0)
    const a = await startServer(common, { env })
    const b = await startServer(common, { env })
    const res = await fetch(`${a.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: PASSWORD, client_id: 'web' }),
    })
    const pair = (await res.json()) as { access_token: string; refresh_token: string }
    expect(await me(a, pair.access_token)).toEqual({ status: 200 })

    // the refresh token works on B too (one store), then B revokes it (RFC 7009, public client)
    const revoke = await fetch(`${b.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: pair.refresh_token, client_id: 'web' }).toString(),
    })
    expect(revoke.status).toBe(200)
    const from = performance.now()
    const ms = await msUntil(
      'server A',
      async () => (await me(a, pair.access_token)).status === 401,
      from,
    )
    expect(ms).toBeLessThanOrEqual(BOUND_MS)
    expect(await me(a, pair.access_token)).toEqual({ status: 401, code: 'ERR_TOKEN_REVOKED' })
    expect(await me(b, pair.access_token)).toEqual({ status: 401, code: 'ERR_TOKEN_REVOKED' })
  }, 60_000)
})
