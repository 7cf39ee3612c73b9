/** @module The UserStore contract on the SQLite store, and its migrations and purge. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SqliteStore } from '../../src/store/sqlite/index.ts'
import { runUserStoreContract } from './user-contract.case.ts'

const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-users-'))
let n = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

runUserStoreContract({
  name: 'sqlite',
  create: async () => new SqliteStore({ path: join(dir, `users-${n++}.db`) }),
  reopen: async (store) => new SqliteStore({ path: (store as SqliteStore).path }),
})

describe('SqliteUserStore', () => {
  it('applies its migration once, only when a user store is initialised', async () => {
    const path = join(dir, 'migrations.db')
    const sessionsOnly = new SqliteStore({ path })
    await sessionsOnly.init()
    expect(sessionsOnly.schemaVersion()).toBe(1)
    const a = new SqliteStore({ path })
    const b = new SqliteStore({ path })
    await Promise.all([a.users().init(), b.users().init(), a.users().init()])
    expect(a.schemaVersion()).toBe(2)
    expect(sessionsOnly.schemaVersion()).toBe(2)
    await sessionsOnly.init()
    expect(a.users()).toBe(a.users())
    await Promise.all([a.close(), b.close(), sessionsOnly.close()])
  })

  it('purgeFailures deletes the counters whose window has ended, and only those', async () => {
    const store = new SqliteStore({ path: join(dir, 'purge.db') })
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
    await store.close()
  })

  it('fails with ERR_STORE_UNAVAILABLE once the session store has closed the connection', async () => {
    const store = new SqliteStore({ path: join(dir, 'closed.db') })
    const users = store.users()
    await users.init()
    await store.close()
    await expect(users.getUserByName('x')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    await users.init()
    expect(await users.getUserByName('x')).toBeNull()
    await store.close()
  })
})
