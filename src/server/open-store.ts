/** @module Opens the store a configuration names; each adapter is loaded only when chosen. */
import { join } from 'node:path'
import type { SessionStore } from '../core/store.ts'

export interface OpenStoreOptions {
  store: string
  dataDir: string
  redisPrefix?: string
  redisWaitReplicas?: number
  postgresSchema?: string
}

/** Creates and initialises the configured store (`sqlite`, `sqlite:<path>`, `memory`, `redis://`, `postgres://`). */
export async function openStore(options: OpenStoreOptions): Promise<SessionStore> {
  const { store: url } = options
  let store: SessionStore
  if (url === 'memory') {
    const { MemoryStore } = await import('../store/memory/index.ts')
    store = new MemoryStore()
  } else if (url === 'sqlite' || url.startsWith('sqlite:')) {
    const { SqliteStore } = await import('../store/sqlite/index.ts')
    const path = url === 'sqlite' ? join(options.dataDir, 'parley.db') : url.slice('sqlite:'.length)
    store = new SqliteStore({ path })
  } else if (/^rediss?:/.test(url)) {
    const { RedisStore } = await import('../store/redis/index.ts')
    store = new RedisStore({
      url,
      prefix: options.redisPrefix ?? 'parley:',
      revocationReplicas: options.redisWaitReplicas ?? 0,
    })
  } else {
    const { PostgresStore } = await import('../store/postgres/index.ts')
    store = new PostgresStore({ connectionString: url, schema: options.postgresSchema ?? 'parley' })
  }
  await store.init()
  return store
}

/** The store's URL with any password removed, for logs. */
export function describeStore(url: string): string {
  if (!/^[a-z]+:\/\//.test(url)) return url
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(invalid url)'
  }
}
