import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { isParleyError } from '../../src/core/errors.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { SqliteStore } from '../../src/store/sqlite/index.ts'
import { runStoreContract } from './contract.case.ts'

const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'))
let n = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

runStoreContract({
  name: 'sqlite',
  create: async () => {
    const store = new SqliteStore({ path: join(dir, `contract-${n++}.db`) })
    await store.init()
    return store
  },
})

describe('SqliteStore', () => {
  it('applies versioned migrations once, and a second process opening the file finds them applied', async () => {
    const path = join(dir, 'migrations.db')
    const a = new SqliteStore({ path })
    await a.init()
    const b = new SqliteStore({ path })
    await b.init()
    expect(a.schemaVersion()).toBe(1)
    expect(b.schemaVersion()).toBe(1)
    await a.close()
    await b.close()
  })

  it('SEC-56: a write lock held too long by another process is ERR_STORE_UNAVAILABLE; reads go on (WAL); writes resume', async () => {
    const path = join(dir, 'locked.db')
    const store = new SqliteStore({ path, busyTimeoutMs: 50 })
    await store.init()
    const sessions = new Sessions({ store, clock: new ManualClock() })
    const { token } = await sessions.create({ principal: 'p' })
    const other = new DatabaseSync(path)
    other.exec('BEGIN IMMEDIATE')
    try {
      await sessions.create({ principal: 'p' })
      expect.unreachable()
    } catch (err) {
      expect(isParleyError(err, 'ERR_STORE_UNAVAILABLE')).toBe(true)
      expect((err as Error).message).not.toMatch(/locked|sqlite/i)
    }
    expect((await sessions.validate(token, { touch: false })).principal).toBe('p')
    other.exec('ROLLBACK')
    other.close()
    await sessions.create({ principal: 'p' })
    expect(await sessions.list('p')).toHaveLength(2)
    await store.close()
  })

  it('SEC-56: a closed store fails closed with ERR_STORE_UNAVAILABLE', async () => {
    const store = new SqliteStore({ path: ':memory:' })
    await store.init()
    await store.close()
    await expect(store.get('x')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
  })
})
