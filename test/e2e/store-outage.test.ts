/**
 * End to end, SECURITY.md attack scenario 10 and SEC-56: the store (Redis or PostgreSQL) goes away
 * under a running `parley serve`. Requests that need it fail closed with 503, nothing is accepted
 * without a check, and service comes back by itself when the store does, without restarting Parley.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  countRedisPrefix,
  DATABASE_URL,
  deleteRedisPrefix,
  dropPgSchema,
  freePort,
  newPgSchema,
  newRedisPrefix,
  type OwnRedis,
  pgSchemaExists,
  portOf,
  REDIS_URL,
  startOwnRedis,
  viaPort,
} from '../helpers/e2e-stores.ts'
import {
  createKey,
  expectRecovered,
  expectUnavailable,
  startParley,
  useCleanups,
} from '../helpers/outage-checks.ts'
import {
  Api,
  BOGUS_TOKEN,
  makeTempDir,
  pollUntil,
  type Reply,
  runCli,
} from '../helpers/parley-process.ts'
import { startTcpProxy } from '../helpers/tcp-proxy.ts'

const cleanups = useCleanups()

/** How long each outage lasts (with traffic throughout). */
const OUTAGE_MS = 3000

/** A key with a valid shape that the store has never seen. */
const UNKNOWN_KEY = `plyk_${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`

interface Seen {
  what: string
  status: number
}

/**
 * While the store is down: waits for the first 503, then hammers the API with a bounded number of
 * requests and checks every answer: 503 for whatever needs the store, never a 2xx.
 */
async function duringOutage(api: Api, oldToken: string, storeKind: string): Promise<Seen[]> {
  const seen: Seen[] = []
  const record = async (what: string, p: Promise<Reply>) => {
    const r = await p
    seen.push({ what, status: r.status })
    return r
  }
  // The first requests after the outage began may still be on their way to fail; none may pass.
  await pollUntil(
    'the first 503',
    async () => {
      const r = await record('validate(old)', api.validate(oldToken))
      return r.status === 503 ? r : undefined
    },
    { tries: 50, intervalMs: 100 },
  )

  expectUnavailable(
    await record('validate(old)', api.validate(oldToken)),
    'validate of a valid token',
  )
  expectUnavailable(
    await record('validate(bogus)', api.validate(BOGUS_TOKEN)),
    'validate of a bogus token',
  )
  expectUnavailable(await record('create', api.create('outage-new')), 'create')
  expectUnavailable(await record('readyz', api.readyz()), '/readyz')
  const health = await api.healthz()
  expect(health.status).toBe(200)
  expect(health.body).toEqual({ status: 'ok' })

  // Traffic from several clients at once, through the API surface that needs the store, for an
  // outage of OUTAGE_MS (long enough for several reconnection attempts), bounded in count too.
  const until = Date.now() + OUTAGE_MS
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 200 && (i < 15 || Date.now() < until); i++) {
        await record('validate(old)', api.validate(oldToken))
        await record('validate(bogus)', api.validate(BOGUS_TOKEN))
        await record('validate(unknown key)', api.validate(oldToken, { key: UNKNOWN_KEY }))
        await record('create', api.create(`outage-${i}`))
        await record('readyz', api.readyz())
        await record('healthz', api.healthz())
        await new Promise((r) => setTimeout(r, 20))
      }
    }),
  )
  // A malformed token is refused before any lookup: 401, never 200.
  const malformed = await record('validate(malformed)', api.validate('not-a-token'))
  expect(malformed.status).toBe(401)

  // Liveness does not depend on the store: the process is up, only not ready.
  expect(seen.filter((s) => s.what === 'healthz' && s.status !== 200)).toEqual([])
  const accepted = seen.filter((s) => s.what !== 'healthz' && s.status >= 200 && s.status < 300)
  expect(accepted, `${storeKind}: accepted while the store was down`).toEqual([])
  const notClosed = seen.filter(
    (s) =>
      s.what !== 'validate(malformed)' &&
      s.what !== 'healthz' &&
      s.status !== 503 &&
      // an unknown API key may be refused as such; it is never let through
      !(s.what === 'validate(unknown key)' && s.status === 401),
  )
  expect(notClosed.slice(0, 10), `${storeKind}: answers other than 503 during the outage`).toEqual(
    [],
  )
  expect(seen.length).toBeGreaterThan(300)
  return seen
}

describe('SEC-56: attack scenario 10, store outage under a running server', () => {
  it('SEC-56: attack scenario 10: parley serve and the CLI refuse to start on an unreachable Redis or PostgreSQL (exit 3, ERR_STORE_UNAVAILABLE), never on a fallback', async () => {
    const dead = await freePort()
    const stores = [
      ['--store', `redis://127.0.0.1:${dead}`, '--redis-prefix', newRedisPrefix()],
      ['--store', viaPort(DATABASE_URL, dead), '--postgres-schema', newPgSchema()],
    ]
    // One data directory per process: two servers creating secret.key in the same new directory at
    // the same moment is a separate problem (a race in loadSecret), not what this test is about.
    const run = async (args: string[]) =>
      runCli([...args, '--data-dir', await makeTempDir()], { timeoutMs: 20_000 })
    const runs = await Promise.all(
      stores.flatMap((storeArgs) => [
        run(['serve', '--port', '0', ...storeArgs]),
        run(['keys', 'list', ...storeArgs]),
      ]),
    )
    for (const r of runs) {
      expect(r.code, r.stdout + r.stderr).toBe(3)
      expect(r.stderr).toMatch(/^parley: ERR_STORE_UNAVAILABLE: /m)
      expect(r.stdout).not.toContain('parley listening')
      expect(r.stderr).not.toMatch(/^\s+at /m) // a clean message, no stack trace
    }
  }, 60_000)

  it('SEC-56: attack scenario 10: Redis killed (SIGKILL) and restarted under the server: 503 meanwhile, no request accepted, then service again without restarting Parley (the restarted Redis is empty: old tokens 401)', async () => {
    const redis: OwnRedis = await startOwnRedis()
    const prefix = newRedisPrefix()
    const storeArgs = ['--store', redis.url, '--redis-prefix', prefix]
    const dataDir = await makeTempDir()
    const key = await createKey(storeArgs, dataDir)
    const server = await startParley(storeArgs, dataDir)
    const api = new Api(server.url, key)

    expect((await api.readyz()).body).toEqual({ status: 'ready', store: 'redis' })
    const before = await api.create('redis-user')
    expect(before.status).toBe(201)
    expect((await api.validate(before.body.token)).status).toBe(200)

    await redis.kill()
    await duringOutage(api, before.body.token, 'redis (killed)')

    await redis.restart()
    // The new Redis holds nothing: not the old API key, not the old sessions.
    const newKey = await createKey(storeArgs, dataDir)
    const fresh = new Api(server.url, newKey)
    const statuses: number[] = []
    const recovered = await pollUntil(
      'Parley to reach the restarted Redis',
      async () => {
        const r = await fresh.validate(before.body.token)
        statuses.push(r.status)
        return r.status === 503 ? undefined : r
      },
      { tries: 50, intervalMs: 200 },
    )
    expect(statuses, 'an old token after the restart').not.toContain(200)
    expect(recovered.status).toBe(401)
    expect(recovered.body.code).toBe('ERR_SESSION_INVALID')
    // With the old key too: refused (the key, or the session, is unknown), never 200.
    expect((await api.validate(before.body.token)).status).toBe(401)

    expect((await fresh.readyz()).status).toBe(200)
    const after = await fresh.create('redis-user')
    expect(after.status).toBe(201)
    const v = await fresh.validate(after.body.token)
    expect(v.status).toBe(200)
    expect(v.body.session).toMatchObject({ principal: 'redis-user', state: 'active' })

    expect(server.alive(), 'the server process crashed').toBe(true)
    expect((await api.healthz()).status).toBe(200)
  }, 60_000)

  it('SEC-56: attack scenario 10: the network to the shared Redis is cut (TCP proxy) and restored: 503 meanwhile, no request accepted, then the old sessions validate again', async () => {
    const proxy = await startTcpProxy(portOf(REDIS_URL, 6379), new URL(REDIS_URL).hostname)
    const prefix = newRedisPrefix()
    cleanups.push(() => proxy.close())
    cleanups.push(async () => {
      await deleteRedisPrefix(REDIS_URL, prefix)
      expect(await countRedisPrefix(REDIS_URL, prefix)).toBe(0)
    })
    const dataDir = await makeTempDir()
    const key = await createKey(['--store', REDIS_URL, '--redis-prefix', prefix], dataDir)
    const server = await startParley(
      ['--store', viaPort(REDIS_URL, proxy.port), '--redis-prefix', prefix],
      dataDir,
    )
    const api = new Api(server.url, key)

    const before = await api.create('redis-proxy-user')
    expect(before.status).toBe(201)
    expect((await api.validate(before.body.token)).status).toBe(200)
    expect(await countRedisPrefix(REDIS_URL, prefix)).toBeGreaterThan(0)

    await proxy.cut()
    await duringOutage(api, before.body.token, 'redis (cut)')
    await proxy.restore()

    await expectRecovered(api, before, 'redis-proxy-user', server)
  }, 60_000)

  it('SEC-56: attack scenario 10: the network to PostgreSQL is cut (TCP proxy) and restored: 503 meanwhile, no request accepted, then the old sessions validate again', async () => {
    const target = new URL(DATABASE_URL)
    const proxy = await startTcpProxy(portOf(DATABASE_URL, 5432), target.hostname)
    const schema = newPgSchema()
    cleanups.push(() => proxy.close())
    cleanups.push(async () => {
      await dropPgSchema(DATABASE_URL, schema)
      expect(await pgSchemaExists(DATABASE_URL, schema)).toBe(false)
    })
    const dataDir = await makeTempDir()
    const key = await createKey(['--store', DATABASE_URL, '--postgres-schema', schema], dataDir)
    const server = await startParley(
      ['--store', viaPort(DATABASE_URL, proxy.port), '--postgres-schema', schema],
      dataDir,
    )
    const api = new Api(server.url, key)

    expect((await api.readyz()).body).toEqual({ status: 'ready', store: 'postgres' })
    const before = await api.create('pg-user')
    expect(before.status).toBe(201)
    expect((await api.validate(before.body.token)).status).toBe(200)
    expect(await pgSchemaExists(DATABASE_URL, schema)).toBe(true)

    await proxy.cut()
    await duringOutage(api, before.body.token, 'postgres (cut)')
    await proxy.restore()

    await expectRecovered(api, before, 'pg-user', server)
  }, 60_000)
})
