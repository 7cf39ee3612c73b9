/**
 * End to end, SECURITY.md attack scenario 10 and SEC-56, the quiet variant: the network to the store
 * goes silent (packets dropped, nothing reset), as behind a firewall that drops them. No error
 * announces the outage; only the store timeouts can end the wait, and they must: 503, never a hang.
 */
import { describe, expect, it } from 'vitest'
import { startBlackholeProxy } from '../helpers/blackhole-proxy.ts'
import {
  DATABASE_URL,
  deleteRedisPrefix,
  dropPgSchema,
  newPgSchema,
  newRedisPrefix,
  portOf,
  REDIS_URL,
  viaPort,
} from '../helpers/e2e-stores.ts'
import { createKey, expectUnavailable, startParley, useCleanups } from '../helpers/outage-checks.ts'
import {
  Api,
  BOGUS_TOKEN,
  call,
  makeTempDir,
  pollUntil,
  type Reply,
} from '../helpers/parley-process.ts'

const cleanups = useCleanups()

/** How long a request may wait for the store on a silent network before the test calls it a hang. */
const HANG_MS = 15_000

/**
 * The network to the store goes silent under a running server: every request that needs the store
 * must end, within the store's own timeouts, in 503; /healthz answers meanwhile; once the network
 * is back the old session validates again.
 */
async function silentNetwork(kind: 'redis' | 'postgres'): Promise<void> {
  const url = kind === 'redis' ? REDIS_URL : DATABASE_URL
  const proxy = await startBlackholeProxy(
    portOf(url, kind === 'redis' ? 6379 : 5432),
    new URL(url).hostname,
  )
  cleanups.push(() => proxy.close())
  let storeArgs: (target: string) => string[]
  if (kind === 'redis') {
    const prefix = newRedisPrefix()
    cleanups.push(() => deleteRedisPrefix(REDIS_URL, prefix))
    storeArgs = (target) => ['--store', target, '--redis-prefix', prefix]
  } else {
    const schema = newPgSchema()
    cleanups.push(() => dropPgSchema(DATABASE_URL, schema))
    storeArgs = (target) => ['--store', target, '--postgres-schema', schema]
  }
  const dataDir = await makeTempDir()
  const key = await createKey(storeArgs(url), dataDir)
  const server = await startParley(storeArgs(viaPort(url, proxy.port)), dataDir)
  const api = new Api(server.url, key)
  const before = await api.create(`${kind}-silent-user`)
  expect(before.status).toBe(201)
  expect((await api.validate(before.body.token)).status).toBe(200)

  await proxy.hang()
  const started = Date.now()
  const within = { timeoutMs: HANG_MS }
  const answer = (what: string, p: Promise<Reply>) =>
    p.catch((err: Error) => {
      throw new Error(
        `${kind}, silent network: ${what} got no answer within ${HANG_MS} ms (${err.message}): the request hangs instead of failing closed with 503`,
      )
    })
  const pending = Promise.all([
    answer('validate of a valid token', api.validate(before.body.token, within)),
    answer('validate of a bogus token', api.validate(BOGUS_TOKEN, within)),
    answer('create', api.create(`${kind}-silent-new`, within)),
    answer('/readyz', call(server.url, 'GET', '/readyz', within)),
  ])
  pending.catch(() => {}) // awaited below, after /healthz
  // The process is not stuck: liveness answers at once while the store calls wait.
  const health = await api.healthz()
  expect(health.status).toBe(200)
  const [old, bogus, created, ready] = await pending
  expectUnavailable(old, `${kind}: validate of a valid token`)
  expectUnavailable(bogus, `${kind}: validate of a bogus token`)
  expectUnavailable(created, `${kind}: create`)
  expectUnavailable(ready, `${kind}: /readyz`)
  expect(Date.now() - started).toBeLessThan(HANG_MS)

  await proxy.restore()
  const back = await pollUntil(
    `${kind}: the old session to validate again`,
    async () => {
      const r = await api.validate(before.body.token)
      return r.status === 503 ? undefined : r
    },
    { tries: 75, intervalMs: 200 },
  )
  expect(back.status).toBe(200)
  const after = await api.create(`${kind}-silent-user`)
  expect(after.status).toBe(201)
  expect((await api.validate(after.body.token)).status).toBe(200)
  expect(server.alive(), `${kind}: the server process crashed`).toBe(true)
}

describe('SEC-56: attack scenario 10, a silent network (packets dropped, no reset)', () => {
  it('SEC-56: attack scenario 10: the network to PostgreSQL goes silent: requests end in 503 within the store timeouts (none hangs, none is accepted), /healthz still answers, service returns with the network', async () => {
    await silentNetwork('postgres')
  }, 60_000)

  it('SEC-56: attack scenario 10: the network to Redis goes silent: requests end in 503 within the store timeouts (none hangs, none is accepted), /healthz still answers, service returns with the network', async () => {
    await silentNetwork('redis')
  }, 60_000)
})
