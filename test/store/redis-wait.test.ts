import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { isParleyError } from '../../src/core/errors.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { RedisStore } from '../../src/store/redis/index.ts'
import { freePort, redisPing, startOwnRedis } from '../helpers/e2e-stores.ts'
import { killAll, makeTempDir, spawnTracked, type Tracked } from '../helpers/parley-process.ts'

afterEach(killAll)

async function startReplica(primaryPort: number): Promise<{ port: number; process: Tracked }> {
  const port = await freePort()
  const dir = await makeTempDir('parley-replica-')
  const process = spawnTracked(
    'redis-server',
    [
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--bind',
      '127.0.0.1',
      '--replicaof',
      '127.0.0.1',
      String(primaryPort),
    ],
    { cwd: dir },
  )
  for (let i = 0; i < 100 && !(await redisPing(port)); i++)
    await new Promise((r) => setTimeout(r, 50))
  return { port, process }
}

async function replicaHas(port: number, key: string, field: string): Promise<string | null> {
  const { createClient } = await import('redis')
  const client = createClient({ url: `redis://127.0.0.1:${port}` })
  await client.connect()
  try {
    return await client.hGet(key, field)
  } finally {
    await client.close()
  }
}

describe('Redis revocations confirmed with WAIT', () => {
  it('SEC-19: with revocationReplicas, an end returns only once a replica holds it; without the replica it fails closed and a retry is safe', async () => {
    const primary = await startOwnRedis()
    const replica = await startReplica(primary.port)
    const store = new RedisStore({
      url: primary.url,
      prefix: 'wait:',
      revocationReplicas: 1,
      revocationWaitMs: 300,
    })
    await store.init()
    try {
      const sessions = new Sessions({ store, clock: new ManualClock() })
      // the replica must have synced before WAIT can count it
      for (let i = 0; i < 100; i++) {
        const { session } = await sessions.create({ principal: 'probe' })
        try {
          await sessions.end(session.id, 'logout')
          break
        } catch (err) {
          if (!isParleyError(err, 'ERR_STORE_UNAVAILABLE')) throw err
        }
      }
      const a = await sessions.create({ principal: 'alice' })
      const ended = await sessions.end(a.session.id, 'revoked')
      expect(ended.ended).toBe(true)
      expect(await replicaHas(replica.port, `wait:s:${a.session.id}`, 'state')).toBe('ended')

      await replica.process.kill('SIGKILL')
      const b = await sessions.create({ principal: 'bob' })
      const started = performance.now()
      await expect(sessions.end(b.session.id, 'revoked')).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      })
      expect(performance.now() - started).toBeGreaterThanOrEqual(250)
      const again = await sessions.end(b.session.id, 'logout')
      expect(again).toMatchObject({
        ended: false,
        session: { state: 'ended', endReason: 'revoked' },
      })
      await expect(sessions.validate(b.token)).rejects.toMatchObject({ code: 'ERR_SESSION_ENDED' })
    } finally {
      await store.close()
    }
  }, 30_000)
})
