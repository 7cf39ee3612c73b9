/** @module The LiveStore contract on the SQLite store. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { SqliteStore } from '../../src/store/sqlite/index.ts'
import { runLiveStoreContract } from './live-contract.case.ts'

const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-live-'))
let n = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

runLiveStoreContract({
  name: 'sqlite',
  create: async () => new SqliteStore({ path: join(dir, `live-${n++}.db`) }),
  reopen: async (store) => new SqliteStore({ path: (store as SqliteStore).path }),
})
