/** @module An in-process server on the memory store with a manual clock, plus API keys, for inject() tests. */
import { Writable } from 'node:stream'
import pino from 'pino'
import { ManualClock } from '../../src/core/clock.ts'
import type { SessionPolicy } from '../../src/core/policy.ts'
import type { SessionStore } from '../../src/core/store.ts'
import { createApiKey } from '../../src/server/api-keys.ts'
import { buildServer, REDACT } from '../../src/server/app.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'

export async function harness(
  options: { store?: SessionStore; policy?: Partial<SessionPolicy>; logRequests?: boolean } = {},
) {
  const store = options.store ?? new MemoryStore()
  await store.init()
  const clock = new ManualClock(1_800_000_000_000)
  const logs: string[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(chunk.toString())
      done()
    },
  })
  const logger = pino({ level: 'trace', redact: { paths: REDACT, censor: '[redacted]' } }, sink)
  const server = await buildServer({
    store,
    clock,
    policy: { maxSessionsPerPrincipal: 0, ...options.policy },
    loggerInstance: logger,
    logRequests: options.logRequests ?? true,
    apiKeyCacheMs: 1000,
  })
  const manage = (await createApiKey(store, clock, { name: 'manage', scope: 'manage' })).token
  const read = (await createApiKey(store, clock, { name: 'read', scope: 'read' })).token
  const call = async (method: string, url: string, body?: unknown, key: string | null = manage) => {
    const res = await server.app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined
        ? { payload: typeof body === 'string' ? body : JSON.stringify(body) }
        : {}),
    })
    return {
      status: res.statusCode,
      type: String(res.headers['content-type']),
      body: res.body ? JSON.parse(res.body) : null,
      headers: res.headers,
    }
  }
  return { ...server, store, clock, logs, keys: { manage, read }, call }
}
