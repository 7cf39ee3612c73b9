/** @module The SessionStore contract and the Postgres-specific checks (migrations, schema names, failures). */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { isParleyError } from '../../src/core/errors.ts'
import type { SessionRecord } from '../../src/core/session.ts'
import type { SessionStore } from '../../src/core/store.ts'
import { PostgresStore, SCHEMA_VERSION } from '../../src/store/postgres/index.ts'
import { startTcpProxy } from '../helpers/tcp-proxy.ts'
import { runStoreContract } from './contract.case.ts'

const URL_ = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const admin = new pg.Pool({ connectionString: URL_, max: 2 })
afterAll(() => admin.end())

const newSchema = () => `parley_test_${randomBytes(6).toString('hex')}`
const dropSchema = (schema: string) => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)

async function create(): Promise<PostgresStore> {
  const store = new PostgresStore({ connectionString: URL_, schema: newSchema() })
  await store.init()
  return store
}

async function destroy(store: SessionStore): Promise<void> {
  await dropSchema((store as PostgresStore).schema)
}

async function outage() {
  const target = new URL(URL_)
  const proxy = await startTcpProxy(Number(target.port || 5432), target.hostname)
  const via = new URL(URL_)
  via.hostname = '127.0.0.1'
  via.port = String(proxy.port)
  const store = new PostgresStore({
    connectionString: via.toString(),
    schema: newSchema(),
    connectionTimeoutMs: 1000,
    statementTimeoutMs: 1000,
  })
  await store.init()
  return {
    store,
    outage: { cut: () => proxy.cut(), restore: () => proxy.restore() },
    async dispose() {
      await store.close()
      await proxy.close()
      await dropSchema(store.schema)
    },
  }
}

runStoreContract({ name: 'postgres', create, destroy, outage })

function record(id: string, principal: string, at: number): SessionRecord {
  return {
    id,
    secretHash: 'hash',
    principal,
    state: 'active',
    createdAt: at,
    lastSeenAt: at,
    idleTimeoutMs: 60_000,
    idleExpiresAt: at + 60_000,
    absoluteExpiresAt: at + 120_000,
    endedAt: null,
    endReason: null,
    auth: { factors: [], level: 0, authenticatedAt: at },
    client: { ip: null, userAgent: null },
    data: {},
    version: 1,
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (isParleyError(err)) return err.code
    throw err
  }
}

describe('PostgresStore', () => {
  it('applies versioned migrations once: init twice, and concurrently, records each version once', async () => {
    const schema = newSchema()
    const stores = Array.from(
      { length: 4 },
      () => new PostgresStore({ connectionString: URL_, schema }),
    )
    try {
      await Promise.all(stores.map((s) => s.init()))
      await stores[0]!.init()
      const { rows } = await admin.query(
        `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
      )
      expect(rows.map((r) => r.version)).toEqual(
        Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
      )
      const tables = await admin.query(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
        [schema],
      )
      expect(tables.rows.map((r) => r.table_name)).toEqual([
        'api_keys',
        'events',
        'schema_migrations',
        'sessions',
      ])
    } finally {
      await Promise.all(stores.map((s) => s.close()))
      await dropSchema(schema)
    }
  })

  it('SEC-54: refuses a schema name that is not a plain identifier', () => {
    for (const bad of [
      '',
      'Parley',
      '1abc',
      'a-b',
      'a"b',
      'x; DROP TABLE y',
      'a'.repeat(64),
      'a.b',
    ]) {
      expect(() => new PostgresStore({ connectionString: URL_, schema: bad })).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
      )
    }
    expect(
      new PostgresStore({ connectionString: URL_, schema: 'a'.repeat(63) }).schema,
    ).toHaveLength(63)
  })

  it('round-trips every field with its exact type, nulls included', async () => {
    const store = await create()
    try {
      const at = 1_700_000_000_123
      const full: SessionRecord = {
        ...record('rt1', 'o\'brien \\ "x"', at),
        auth: { factors: ['password', 'totp'], level: 2, authenticatedAt: at - 5 },
        client: { ip: '2001:db8::1', userAgent: 'UA/1 ünï' },
        data: { nested: { list: [1, 'two', null, true], n: 1.5 }, empty: {} },
      }
      const context = { at, ip: full.client.ip, userAgent: full.client.userAgent }
      await store.create({ record: full, maxPerPrincipal: 0, onLimit: 'evict_lru', context })
      expect(await store.get('rt1')).toStrictEqual(full)
      const bare = record('rt2', 'p', at)
      await store.create({
        record: bare,
        maxPerPrincipal: 0,
        onLimit: 'evict_lru',
        context: { at },
      })
      expect(await store.get('rt2')).toStrictEqual(bare)
      const ended = await store.end('rt2', 'logout', { at: at + 7 })
      expect(ended).toStrictEqual({
        ...bare,
        state: 'ended',
        endedAt: at + 7,
        endReason: 'logout',
        version: 2,
      })
      const [created] = await store.events({ sessionId: 'rt1' })
      expect(created).toStrictEqual({
        id: expect.any(String),
        at,
        type: 'session.created',
        sessionId: 'rt1',
        principal: full.principal,
        reason: null,
        actor: null,
        ip: '2001:db8::1',
        userAgent: 'UA/1 ünï',
        detail: { factors: ['password', 'totp'], level: 2 },
      })
      expect(await store.events({ sessionId: 'rt1', limit: Number.NaN })).toHaveLength(1)
      // An id PostgreSQL text cannot hold names nothing; a value it cannot hold is a validation error.
      expect(await store.get('a\u0000b')).toBeNull()
      const bad = { ...record('rt3', 'p', at), data: { s: 'a\u0000b' } }
      expect(
        await codeOf(
          store.create({ record: bad, maxPerPrincipal: 0, onLimit: 'evict_lru', context: { at } }),
        ),
      ).toBe('ERR_VALIDATION')
    } finally {
      await destroy(store)
      await store.close()
    }
  })

  it('sweeps through the expiry index, and concurrent sweeps end each session once', async () => {
    const store = await create()
    try {
      const at = 1_700_000_000_000
      for (let i = 0; i < 40; i++) {
        await store.create({
          record: record(`sw${i}`, `p${i % 3}`, at + i),
          maxPerPrincipal: 0,
          onLimit: 'evict_lru',
          context: { at: at + i },
        })
      }
      const now = at + 60_000 + 19 // sw0..sw19 are idle past their deadline
      const batches = await Promise.all([1, 2, 3, 4].map(() => store.sweep(now, 7)))
      const more = await store.sweep(now, 100)
      const ids = [...batches.flat(), ...more].map((r) => r.id).sort()
      expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => `sw${i}`).sort())
      for (const r of [...batches.flat(), ...more]) {
        expect(r).toMatchObject({
          state: 'ended',
          endReason: 'idle_timeout',
          endedAt: r.idleExpiresAt,
        })
      }
      // The sweep's query can walk the expiry index (the planner may still scan a table this small).
      const client = await admin.connect()
      try {
        await client.query('BEGIN')
        await client.query('SET LOCAL enable_seqscan = off')
        const plan = await client.query(
          `EXPLAIN SELECT id FROM "${store.schema}".sessions WHERE state = 'active'
           AND LEAST(idle_expires_at, absolute_expires_at) <= 0
           ORDER BY LEAST(idle_expires_at, absolute_expires_at) LIMIT 10`,
        )
        expect(JSON.stringify(plan.rows)).toContain('sessions_active_expiry')
      } finally {
        await client.query('ROLLBACK')
        client.release()
      }
    } finally {
      await destroy(store)
      await store.close()
    }
  })

  it('a storm of creations, ends, sweeps and touches on one principal: no deadlock, the limit holds', async () => {
    const store = await create()
    try {
      const at = 1_700_000_000_000
      const ops: Promise<unknown>[] = []
      for (let i = 0; i < 40; i++) {
        const r = {
          ...record(`st${i}`, 'storm', at + i),
          idleTimeoutMs: 10,
          idleExpiresAt: at + i + 10 * (i % 3) + 1,
        }
        ops.push(
          store.create({
            record: r,
            maxPerPrincipal: 3,
            onLimit: 'evict_lru',
            context: { at: at + i },
          }),
        )
        if (i % 4 === 0)
          ops.push(store.endByPrincipal('storm', 'revoked_all', { at: at + i }, `st${i - 1}`))
        if (i % 5 === 0) ops.push(store.sweep(at + i, 5))
        if (i % 3 === 0)
          ops.push(store.touch(`st${i - 2}`, { at: at + i, idleExpiresAt: at + i + 30 }))
        if (i % 7 === 0) ops.push(store.end(`st${i - 3}`, 'logout', { at: at + i }))
      }
      const results = await Promise.allSettled(ops)
      expect(results.filter((r) => r.status === 'rejected')).toEqual([])
      expect((await store.listByPrincipal('storm')).length).toBeLessThanOrEqual(3)
      const ends = (await store.events({ principal: 'storm', limit: 1000 })).filter(
        (e) => e.type === 'session.ended',
      )
      const endedIds = ends.map((e) => e.sessionId)
      expect(new Set(endedIds).size).toBe(endedIds.length)
      for (let i = 0; i < 40; i++) {
        const r = (await store.get(`st${i}`))!
        expect(r.state === 'ended').toBe(endedIds.includes(r.id))
      }
    } finally {
      await destroy(store)
      await store.close()
    }
  })

  it('after close, its own pool is ended: calls fail with ERR_STORE_UNAVAILABLE; close is idempotent', async () => {
    const store = await create()
    await destroy(store)
    await store.close()
    await store.close()
    expect(await codeOf(store.ping())).toBe('ERR_STORE_UNAVAILABLE')
    expect(await codeOf(store.get('x'))).toBe('ERR_STORE_UNAVAILABLE')
  })

  it('uses a pool it is given and leaves it open on close', async () => {
    const pool = new pg.Pool({ connectionString: URL_, max: 2 })
    const store = new PostgresStore({ pool, schema: newSchema() })
    try {
      await store.init()
      await store.ping()
      await store.close()
      expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1)
    } finally {
      await dropSchema(store.schema)
      await pool.end()
    }
  })

  it('SEC-56: connections the server drops while idle never crash the process; the pool reconnects', async () => {
    const name = `parley_test_${randomBytes(6).toString('hex')}`
    const pool = new pg.Pool({ connectionString: URL_, max: 3, application_name: name })
    const store = new PostgresStore({ pool, schema: newSchema() })
    try {
      await store.init()
      await Promise.all([store.ping(), store.ping(), store.ping()])
      const killed = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [name],
      )
      expect(killed.rowCount).toBeGreaterThan(0)
      await new Promise((r) => setTimeout(r, 200))
      let ok = false
      for (let i = 0; i < 20 && !ok; i++) ok = (await codeOf(store.ping())) === 'OK'
      expect(ok).toBe(true)
      expect(await store.listByPrincipal('nobody')).toEqual([])
    } finally {
      await store.close()
      await dropSchema(store.schema)
      await pool.end()
    }
  })

  it('SEC-56: an unreachable database is ERR_STORE_UNAVAILABLE, without SQL or values in the message', async () => {
    const proxy = await startTcpProxy(1) // nothing listens on port 1
    await proxy.cut()
    const store = new PostgresStore({
      connectionString: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
      schema: newSchema(),
      connectionTimeoutMs: 500,
    })
    try {
      for (const p of [
        store.init(),
        store.ping(),
        store.get('x'),
        store.listByPrincipal("' OR 1=1 --"),
      ]) {
        const err = await p.then(
          () => null,
          (e: unknown) => e,
        )
        expect(err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
        expect((err as Error).message).toBe('The session store is unavailable')
      }
    } finally {
      await store.close()
      await proxy.close()
    }
  })
})
