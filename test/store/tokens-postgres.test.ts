/** @module The TokenStore contract on the Postgres store, and its migrations and stored key hashes. */
import { createHash, randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { PostgresStore, SCHEMA_VERSION } from '../../src/store/postgres/index.ts'
import { runTokenStoreContract } from './token-contract.case.ts'

const URL_ = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const admin = new pg.Pool({ connectionString: URL_, max: 2 })
afterAll(() => admin.end())

const newSchema = () => `parley_test_${randomBytes(6).toString('hex')}`
const dropSchema = (schema: string) => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)

runTokenStoreContract({
  name: 'postgres',
  create: async () => new PostgresStore({ connectionString: URL_, schema: newSchema() }),
  destroy: async (store) => {
    await dropSchema((store as PostgresStore).schema)
  },
  reopen: async (store) =>
    new PostgresStore({ connectionString: URL_, schema: (store as PostgresStore).schema }),
})

describe('PostgresTokenStore', () => {
  async function withStore(fn: (store: PostgresStore) => Promise<void>): Promise<void> {
    const store = new PostgresStore({ connectionString: URL_, schema: newSchema() })
    try {
      await store.tokens().init()
      await fn(store)
    } finally {
      await store.close()
      await dropSchema(store.schema)
    }
  }

  it('applies its migration once, concurrently too, and only when a token store is initialised', async () => {
    const schema = newSchema()
    const stores = Array.from(
      { length: 3 },
      () => new PostgresStore({ connectionString: URL_, schema }),
    )
    const versions = async () =>
      (
        await admin.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`)
      ).rows.map((r) => r.version)
    const tables = async () =>
      (
        await admin.query(
          'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
          [schema],
        )
      ).rows.map((r) => r.table_name)
    try {
      await stores[0]!.init()
      expect(await versions()).toStrictEqual([SCHEMA_VERSION])
      expect(await tables()).toStrictEqual(['api_keys', 'events', 'schema_migrations', 'sessions'])
      await Promise.all(stores.map((s) => s.tokens().init()))
      await stores[1]!.tokens().init()
      expect(await versions()).toStrictEqual([1, 3])
      expect(await tables()).toStrictEqual([
        'api_keys',
        'events',
        'refresh_tokens',
        'schema_migrations',
        'sessions',
        'signing_keys',
        'single_use',
      ])
      // The user tables (version 2) can still come after: each list applies what it lacks.
      await stores[2]!.users().init()
      expect(await versions()).toStrictEqual([1, 2, 3])
      expect(stores[0]!.tokens()).toBe(stores[0]!.tokens())
    } finally {
      await Promise.all(stores.map((s) => s.close()))
      await dropSchema(schema)
    }
  })

  it('SEC-54: keeps single-use keys as their SHA-256 only, never the text', async () => {
    await withStore(async (store) => {
      await store.tokens().useOnce('dpop:jti-secret-ish', 2_000, 1_000)
      const rows = await admin.query(
        `SELECT key_hash, expires_at FROM "${store.schema}".single_use`,
      )
      const sha = createHash('sha256').update('dpop:jti-secret-ish').digest('base64url')
      expect(rows.rows).toStrictEqual([{ key_hash: sha, expires_at: '2000' }])
    })
  })

  it('now and then deletes single-use entries expired for 5 minutes, so the table holds about what is live', async () => {
    await withStore(async (store) => {
      const tokens = store.tokens()
      const MIN = 60_000
      for (let i = 0; i < 40; i++) await tokens.useOnce(`old-${i}`, 1_000, 500)
      const count = async () =>
        Number(
          (await admin.query(`SELECT count(*) AS n FROM "${store.schema}".single_use`)).rows[0].n,
        )
      expect(await count()).toBe(40)
      for (let i = 0; i < 32; i++) await tokens.useOnce(`new-${i}`, 9 * MIN, 1_000 + 5 * MIN)
      expect(await count()).toBe(32)
      for (let i = 0; i < 32; i++) {
        expect(await tokens.useOnce(`new-${i}`, 9 * MIN, 6 * MIN)).toBe(false)
      }
    })
  })

  it('finds nothing by an id with NUL in it, and refuses to store one with ERR_VALIDATION', async () => {
    await withStore(async (store) => {
      const tokens = store.tokens()
      const record = {
        id: 'a\u0000b',
        secretHash: 'h',
        sessionId: 's',
        clientId: 'c',
        createdAt: 1,
        expiresAt: 2,
        rotatedAt: null,
        successorId: null,
        successorAccess: null,
        jkt: null,
      }
      await expect(tokens.createRefresh(record)).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
      expect(await tokens.getRefresh('a\u0000b')).toBeNull()
      expect(
        await tokens.rotateRefresh(
          'a\u0000b',
          { ...record, id: 'x' },
          { jti: 'j', iat: 1, exp: 2 },
          1,
        ),
      ).toStrictEqual({ status: 'missing' })
      expect(await tokens.addSigningKey({ ...signingKey(), kid: 'k' }, 'a\u0000')).toBe(false)
    })
  })

  it('fails with ERR_STORE_UNAVAILABLE once the session store has ended its pool', async () => {
    const store = new PostgresStore({ connectionString: URL_, schema: newSchema() })
    const tokens = store.tokens()
    await tokens.init()
    await store.close()
    try {
      await expect(tokens.getRefresh('x')).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      })
      await expect(tokens.addSigningKey(signingKey(), null)).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      })
    } finally {
      await dropSchema(store.schema)
    }
  })
})

function signingKey() {
  return {
    kid: 'k1',
    alg: 'EdDSA' as const,
    publicJwk: { kty: 'OKP' },
    privateKeyEnc: 'sealed',
    createdAt: 1,
    retiresAt: 2,
    expiresAt: 3,
  }
}
