/** @module The LiveStore contract on the Postgres store, and its migration. */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/store/postgres/index.ts'
import { runLiveStoreContract } from './live-contract.case.ts'

const URL_ = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const admin = new pg.Pool({ connectionString: URL_, max: 2 })
afterAll(() => admin.end())

const newSchema = () => `parley_test_${randomBytes(6).toString('hex')}`
const dropSchema = (schema: string) => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)

runLiveStoreContract({
  name: 'postgres',
  create: async () => new PostgresStore({ connectionString: URL_, schema: newSchema() }),
  destroy: async (store) => {
    await dropSchema((store as PostgresStore).schema)
  },
  reopen: async (store) =>
    new PostgresStore({ connectionString: URL_, schema: (store as PostgresStore).schema }),
})

describe('PostgresLiveStore', () => {
  it('applies the session and live migrations once, concurrently too, on first use', async () => {
    const schema = newSchema()
    const stores = Array.from(
      { length: 3 },
      () => new PostgresStore({ connectionString: URL_, schema }),
    )
    try {
      await Promise.all(stores.map((s) => s.live().init()))
      expect(await stores[0]!.live().countByPrincipal('x')).toBe(0)
      const versions = (
        await admin.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`)
      ).rows.map((r) => r.version)
      expect(versions).toStrictEqual([1, 4, 5])
      expect(stores[0]!.live()).toBe(stores[0]!.live())
    } finally {
      await Promise.all(stores.map((s) => s.close()))
      await dropSchema(schema)
    }
  })
})
