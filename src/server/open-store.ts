/** @module Opens the store a configuration names; each adapter is loaded only when chosen. */

import { join } from 'node:path'
import type { UserStore } from '../auth/user-store.ts'
import { ParleyError } from '../core/errors.ts'
import type { SessionStore } from '../core/store.ts'
import type { LiveStore } from '../live/live-store.ts'
import type { TokenStore } from '../tokens/token-store.ts'

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

/** The user store that shares the session store's connection (every built-in store has one). */
export function usersOf(store: SessionStore): UserStore {
  const users = (store as SessionStore & { users?: () => UserStore }).users
  if (typeof users !== 'function') {
    throw new ParleyError('ERR_CONFIG_INVALID', `the ${store.kind} store has no user store`)
  }
  return users.call(store)
}

/** The live-session store that shares the session store's connection (every built-in store has one). */
export function liveOf(store: SessionStore): LiveStore {
  const live = (store as SessionStore & { live?: () => LiveStore }).live
  if (typeof live !== 'function') {
    throw new ParleyError('ERR_CONFIG_INVALID', `the ${store.kind} store has no live-session store`)
  }
  return live.call(store)
}

/** The token store that shares the session store's connection (every built-in store has one). */
export function tokensOf(store: SessionStore): TokenStore {
  const tokens = (store as SessionStore & { tokens?: () => TokenStore }).tokens
  if (typeof tokens !== 'function') {
    throw new ParleyError('ERR_CONFIG_INVALID', `the ${store.kind} store has no token store`)
  }
  return tokens.call(store)
}

/**
 * The origins allowed to post with the session cookie: the configured list, or else this server as
 * a browser on the same machine reaches it (`localhost` and `127.0.0.1` at the configured port).
 */
export function originsOf(config: { origins: string[]; host: string; port: number }): string[] {
  if (config.origins.length > 0) return config.origins
  const hosts = new Set(['localhost', '127.0.0.1'])
  if (config.host !== '127.0.0.1' && config.host !== '0.0.0.0' && config.host !== '::') {
    hosts.add(config.host.includes(':') ? `[${config.host}]` : config.host)
  }
  return [...hosts].map((h) => `http://${h}:${config.port}`)
}
