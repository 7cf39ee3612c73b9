/** @module The TokenStore contract on the SQLite store, and its migrations and stored key hashes. */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import { SqliteStore } from '../../src/store/sqlite/index.ts'
import { runTokenStoreContract } from './token-contract.case.ts'

const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-tokens-'))
let n = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

runTokenStoreContract({
  name: 'sqlite',
  create: async () => new SqliteStore({ path: join(dir, `tokens-${n++}.db`) }),
  reopen: async (store) => new SqliteStore({ path: (store as SqliteStore).path }),
})

const tables = (path: string): string[] => {
  const db = new DatabaseSync(path)
  try {
    const rows = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
      .all() as { name: string }[]
    return rows.map((r) => r.name).filter((name) => !name.startsWith('sqlite_'))
  } finally {
    db.close()
  }
}

describe('SqliteTokenStore', () => {
  it('applies its migration once, only when a token store is initialised', async () => {
    const path = join(dir, 'migrations.db')
    const sessionsOnly = new SqliteStore({ path })
    await sessionsOnly.init()
    expect(sessionsOnly.schemaVersion()).toBe(1)
    expect(tables(path)).toStrictEqual(['api_keys', 'events', 'schema_migrations', 'sessions'])
    const a = new SqliteStore({ path })
    const b = new SqliteStore({ path })
    await Promise.all([a.tokens().init(), b.tokens().init(), a.tokens().init()])
    expect(a.schemaVersion()).toBe(3)
    expect(tables(path)).toStrictEqual([
      'api_keys',
      'events',
      'refresh_tokens',
      'schema_migrations',
      'sessions',
      'signing_keys',
      'single_use',
    ])
    // The user tables (version 2) can still come after: each list applies what it lacks.
    await b.users().init()
    await sessionsOnly.init()
    const db = new DatabaseSync(path)
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()
    db.close()
    expect(versions.map((r) => r.version)).toStrictEqual([1, 2, 3])
    expect(a.tokens()).toBe(a.tokens())
    await Promise.all([a.close(), b.close(), sessionsOnly.close()])
  })

  it('SEC-54: keeps single-use keys as their SHA-256 only, never the text', async () => {
    const path = join(dir, 'hashed.db')
    const store = new SqliteStore({ path })
    const tokens = store.tokens()
    await tokens.init()
    await tokens.useOnce('dpop:jti-secret-ish', 2_000, 1_000)
    const db = new DatabaseSync(path)
    const rows = db.prepare('SELECT key_hash, expires_at FROM single_use').all()
    db.close()
    const sha = createHash('sha256').update('dpop:jti-secret-ish').digest('base64url')
    expect(rows.map((r) => ({ ...r }))).toStrictEqual([{ key_hash: sha, expires_at: 2_000 }])
    await store.close()
  })

  it('useOnce deletes a few expired entries on its way, so the table holds about what is live', async () => {
    const path = join(dir, 'cleanup.db')
    const store = new SqliteStore({ path })
    const tokens = store.tokens()
    await tokens.init()
    const MIN = 60_000
    for (let i = 0; i < 10; i++) await tokens.useOnce(`old-${i}`, 1_000, 500)
    // Still there while a caller whose clock is behind may ask (5 minutes)...
    for (let i = 0; i < 5; i++) await tokens.useOnce(`new-${i}`, 9 * MIN, 1_000 + 5 * MIN - 1)
    const db = new DatabaseSync(path)
    const count = () => Number(db.prepare('SELECT count(*) AS n FROM single_use').get()!.n)
    expect(count()).toBe(15)
    // ...then two go with each use.
    for (let i = 0; i < 5; i++) await tokens.useOnce(`later-${i}`, 9 * MIN, 1_000 + 5 * MIN)
    expect(count()).toBe(10)
    for (let i = 0; i < 5; i++)
      expect(await tokens.useOnce(`new-${i}`, 9 * MIN, 6 * MIN)).toBe(false)
    db.close()
    await store.close()
  })

  it('fails with ERR_STORE_UNAVAILABLE once the session store has closed the connection', async () => {
    const store = new SqliteStore({ path: join(dir, 'closed.db') })
    const tokens = store.tokens()
    await tokens.init()
    await store.close()
    await expect(tokens.getRefresh('x')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    await expect(tokens.useOnce('x', 2, 1)).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    })
    await tokens.init()
    expect(await tokens.getRefresh('x')).toBeNull()
    await store.close()
  })

  it('a write lock held too long by another process is ERR_STORE_UNAVAILABLE; reads go on', async () => {
    const path = join(dir, 'locked.db')
    const store = new SqliteStore({ path, busyTimeoutMs: 50 })
    const tokens = store.tokens()
    await tokens.init()
    await tokens.addSigningKey(
      {
        kid: 'k',
        alg: 'EdDSA',
        publicJwk: { kty: 'OKP' },
        privateKeyEnc: 'e',
        createdAt: 1,
        retiresAt: 2,
        expiresAt: 3,
      },
      null,
    )
    const other = new DatabaseSync(path)
    other.exec('BEGIN IMMEDIATE')
    try {
      await expect(tokens.useOnce('jti', 2, 1)).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      })
      expect(await tokens.listSigningKeys()).toHaveLength(1)
    } finally {
      other.exec('ROLLBACK')
      other.close()
    }
    expect(await tokens.useOnce('jti', 2, 1)).toBe(true)
    await store.close()
  })
})
