/** @module The UserStore contract on the Postgres store, and its migrations and purge. */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { PostgresStore, SCHEMA_VERSION } from '../../src/store/postgres/index.ts'
import { runUserStoreContract } from './user-contract.case.ts'

const URL_ = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const admin = new pg.Pool({ connectionString: URL_, max: 2 })
afterAll(() => admin.end())

const newSchema = () => `parley_test_${randomBytes(6).toString('hex')}`
const dropSchema = (schema: string) => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)

runUserStoreContract({
  name: 'postgres',
  create: async () => new PostgresStore({ connectionString: URL_, schema: newSchema() }),
  destroy: async (store) => {
    await dropSchema((store as PostgresStore).schema)
  },
  reopen: async (store) =>
    new PostgresStore({ connectionString: URL_, schema: (store as PostgresStore).schema }),
})

describe('PostgresUserStore', () => {
  it('applies its migration once, concurrently too, and only when a user store is initialised', async () => {
    const schema = newSchema()
    const stores = Array.from(
      { length: 3 },
      () => new PostgresStore({ connectionString: URL_, schema }),
    )
    const versions = async () =>
      (
        await admin.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`)
      ).rows.map((r) => r.version)
    try {
      await stores[0]!.init()
      expect(await versions()).toStrictEqual([SCHEMA_VERSION])
      await Promise.all(stores.map((s) => s.users().init()))
      await stores[1]!.users().init()
      expect(await versions()).toStrictEqual([1, 2])
      const tables = await admin.query(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
        [schema],
      )
      expect(tables.rows.map((r) => r.table_name)).toStrictEqual([
        'api_keys',
        'auth_failures',
        'events',
        'schema_migrations',
        'sessions',
        'users',
      ])
    } finally {
      await Promise.all(stores.map((s) => s.close()))
      await dropSchema(schema)
    }
  })

  it('purgeFailures deletes the counters whose window has ended, and only those', async () => {
    const store = new PostgresStore({ connectionString: URL_, schema: newSchema() })
    try {
      const users = store.users()
      await users.init()
      await users.recordFailure('old', 1_000, 100)
      await users.recordFailure('new', 1_050, 100)
      expect(await users.purgeFailures(1_099)).toBe(0)
      expect(await users.purgeFailures(1_100)).toBe(1)
      expect(await users.getFailures('new', 1_100, 100)).toStrictEqual({
        count: 1,
        firstAt: 1_050,
        lastAt: 1_050,
      })
      expect(await users.purgeFailures(2_000)).toBe(1)
      expect(await users.getFailures('new', 1_100, 100)).toBeNull()
    } finally {
      await store.close()
      await dropSchema(store.schema)
    }
  })

  it('refuses NUL in a username as ERR_VALIDATION and finds no user by it', async () => {
    const store = new PostgresStore({ connectionString: URL_, schema: newSchema() })
    try {
      const users = store.users()
      await users.init()
      const record = {
        id: 'id-1',
        username: 'a\u0000b',
        passwordHash: 'h',
        roles: [],
        permissions: [],
        disabled: false,
        totp: null,
        recoveryCodes: [],
        createdAt: 1,
        updatedAt: 1,
        version: 1,
      }
      await expect(users.createUser(record)).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
      expect(await users.getUserByName('a\u0000b')).toBeNull()
      expect(await users.getUser('id\u0000')).toBeNull()
      expect(await users.recordFailure('a\u0000b', 1, 100)).toMatchObject({ count: 1 })
    } finally {
      await store.close()
      await dropSchema(store.schema)
    }
  })

  it('fails with ERR_STORE_UNAVAILABLE once the session store has ended its pool', async () => {
    const store = new PostgresStore({ connectionString: URL_, schema: newSchema() })
    const users = store.users()
    await users.init()
    await store.close()
    try {
      await expect(users.getUserByName('x')).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      })
    } finally {
      await dropSchema(store.schema)
    }
  })
})
