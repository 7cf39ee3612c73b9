/**
 * @module A real `parley serve`-like server with the pages on, on a free port, with a manual clock
 * (so idle timeouts and step-up windows pass without sleeping) and captured logs.
 */
import net from 'node:net'
import { Writable } from 'node:stream'
import pino from 'pino'
import { ManualClock } from '../../src/core/clock.ts'
import type { SessionPolicy } from '../../src/core/policy.ts'
import { buildServer, REDACT } from '../../src/server/app.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'

export const SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH'

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export async function startWebServer(
  options: { policy?: Partial<SessionPolicy>; trustProxy?: boolean; live?: boolean } = {},
) {
  const store = new MemoryStore()
  await store.init()
  const users = store.users()
  const clock = new ManualClock(Date.UTC(2026, 10, 29, 12, 0, 0))
  const logs: string[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(chunk.toString())
      done()
    },
  })
  const port = await freePort()
  const origin = `http://localhost:${port}`
  const server = await buildServer({
    store,
    clock,
    policy: { maxSessionsPerPrincipal: 0, ...options.policy },
    loggerInstance: pino({ level: 'debug', redact: { paths: REDACT, censor: '[redacted]' } }, sink),
    logRequests: true,
    trustProxy: options.trustProxy ?? false,
    web: {
      users,
      secret: SECRET,
      origins: [origin, `http://127.0.0.1:${port}`],
      // argon2id at a cost the tests can afford many times; the defaults are tested in test/auth
      password: { memoryKiB: 1024, passes: 1 },
    },
    ...(options.live
      ? { live: { store: store.live(), origins: [origin, `http://127.0.0.1:${port}`] } }
      : {}),
  })
  await server.app.listen({ host: '127.0.0.1', port })
  return {
    ...server,
    store,
    users,
    clock,
    logs,
    port,
    origin,
    async close() {
      await server.app.close()
      await store.close()
    },
  }
}
