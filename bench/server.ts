/**
 * @module A bench server child: started by `run.ts` with `child_process.fork`, so that the server
 * and the load generator run on different cores. It serves either the bare `node:http` baseline
 * or Parley on one store, reports its port (and the API key and session tokens to use) over IPC,
 * and answers `cpu-start` / `cpu-stop` with its own CPU time (`process.cpuUsage()`) and event-loop
 * utilisation over that window.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Session } from 'node:inspector/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type EventLoopUtilization, performance } from 'node:perf_hooks'
import type { ChildConfig, ChildMessage, ParentMessage } from './protocol.ts'

interface Started {
  port: number
  apiKey: string
  tokens: string[]
  close(): Promise<void>
}

function send(message: ChildMessage): void {
  process.send?.(message)
}

function errorText(err: unknown, depth = 0): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return `${err.message || 'AggregateError'}: ${err.errors.map((e) => errorText(e, depth + 1)).join('; ')}`
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const text = `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`.split('\n')[0] ?? ''
    // A wrapped error (ERR_INTERNAL, ERR_STORE_UNAVAILABLE) says why in its cause.
    return err.cause !== undefined && depth < 3
      ? `${text} (cause: ${errorText(err.cause, depth + 1)})`
      : text
  }
  return String(err)
}

/** Resolves to `undefined` after `ms` if `promise` has not settled by then. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    timer.unref()
    promise.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })
}

/** A token that looks like Parley's (`plys_<22 chars>.<43 chars>`), for the baseline. */
function fakeToken(prefix: string): string {
  return `${prefix}${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`
}

/**
 * The baseline: plain `node:http` that reads and parses the JSON body, checks that there is a
 * bearer header, and answers a session-shaped JSON body of the same size as Parley's (about
 * 384 bytes) with the same headers.
 */
async function startBare(config: ChildConfig): Promise<Started> {
  const json = { 'content-type': 'application/json; charset=utf-8' }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      let token: unknown
      try {
        token = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { token?: unknown }).token
      } catch {
        token = undefined
      }
      if (typeof token !== 'string' || !req.headers.authorization?.startsWith('Bearer ')) {
        res.writeHead(400, json).end('{"code":"ERR_VALIDATION"}')
        return
      }
      const now = Date.now()
      const body = JSON.stringify({
        session: {
          id: token.slice(5, 27),
          principal: 'bench-user-1',
          state: 'active',
          createdAt: now,
          lastSeenAt: now,
          idleTimeoutMs: 1_800_000,
          idleExpiresAt: now + 1_800_000,
          absoluteExpiresAt: now + 43_200_000,
          endedAt: null,
          endReason: null,
          auth: { factors: [], level: 0, authenticatedAt: now },
          client: { ip: null, userAgent: null },
          data: {},
          version: 1,
        },
      })
      res.writeHead(200, {
        ...json,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      })
      res.end(body)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const tokens = Array.from({ length: config.tokens }, () => fakeToken('plys_'))
  return {
    port: (server.address() as AddressInfo).port,
    apiKey: fakeToken('plyk_'),
    tokens,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** Parley (Fastify, the service API) on the configured store, seeded with an API key and sessions. */
async function startParley(config: ChildConfig): Promise<Started> {
  const { openStore } = await import('../src/server/open-store.ts')
  const { buildServer } = await import('../src/server/app.ts')
  const { createApiKey } = await import('../src/server/api-keys.ts')
  const { systemClock } = await import('../src/core/clock.ts')

  const store = await openStore({
    store: config.storeUrl,
    dataDir: config.dataDir,
    redisPrefix: config.redisPrefix,
    postgresSchema: config.postgresSchema,
  })
  let parley: Awaited<ReturnType<typeof buildServer>> | undefined
  try {
    parley = await buildServer({ store, logger: false, sessionCacheMs: config.sessionCacheMs })
    const { token: apiKey } = await createApiKey(store, systemClock, {
      name: 'bench',
      scope: 'read',
    })
    // One principal per session: the default policy keeps at most 100 sessions per principal.
    const tokens: string[] = []
    const batch = 50
    for (let i = 0; i < config.tokens; i += batch) {
      const created = await Promise.all(
        Array.from({ length: Math.min(batch, config.tokens - i) }, (_, j) =>
          parley!.sessions.create({ principal: `bench-user-${i + j}` }),
        ),
      )
      for (const c of created) tokens.push(c.token)
    }
    await parley.app.listen({ host: '127.0.0.1', port: 0 })
    const address = parley.app.server.address() as AddressInfo
    const app = parley.app
    return {
      port: address.port,
      apiKey,
      tokens,
      close: async () => {
        await withTimeout(app.close(), 5000)
        await withTimeout(store.close(), 5000)
      },
    }
  } catch (err) {
    await withTimeout(parley?.app.close() ?? Promise.resolve(), 2000).catch(() => {})
    await withTimeout(store.close(), 2000).catch(() => {})
    throw err
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig
  // The parent going away (crash, Ctrl-C) must not leave this server running.
  process.on('disconnect', () => process.exit(0))

  const t0 = performance.now()
  let started: Started
  try {
    started = config.target === 'bare' ? await startBare(config) : await startParley(config)
  } catch (err) {
    send({ type: 'failed', reason: errorText(err) })
    // A store client that keeps reconnecting would keep this process alive: leave now.
    setTimeout(() => process.exit(1), 100)
    return
  }

  let cpuStart = process.cpuUsage()
  let wallStart = performance.now()
  let eluStart: EventLoopUtilization = performance.eventLoopUtilization()
  const profiler = config.profileDir ? new Session() : null
  process.on('message', async (message: ParentMessage) => {
    if (message.type === 'cpu-start') {
      if (profiler) {
        profiler.connect()
        await profiler.post('Profiler.enable')
        await profiler.post('Profiler.setSamplingInterval', { interval: 250 })
        await profiler.post('Profiler.start')
      }
      cpuStart = process.cpuUsage()
      wallStart = performance.now()
      eluStart = performance.eventLoopUtilization()
      send({ type: 'cpu-started' })
    } else if (message.type === 'cpu-stop') {
      const cpu = process.cpuUsage(cpuStart)
      const elu = performance.eventLoopUtilization(eluStart)
      const wallMs = performance.now() - wallStart
      let profile: string | null = null
      if (profiler && config.profileDir) {
        const { profile: data } = await profiler.post('Profiler.stop')
        profiler.disconnect()
        mkdirSync(config.profileDir, { recursive: true })
        profile = join(config.profileDir, `${config.target}-${Date.now()}.cpuprofile`)
        writeFileSync(profile, JSON.stringify(data))
      }
      send({
        type: 'cpu',
        userUs: cpu.user,
        systemUs: cpu.system,
        wallMs,
        elu: elu.utilization,
        profile,
      })
    } else if (message.type === 'shutdown') {
      started
        .close()
        .catch(() => {})
        .finally(() => {
          send({ type: 'closed' })
          // Leave even if a store client keeps a handle open; the message above goes out first.
          setTimeout(() => process.exit(0), 50)
        })
    }
  })
  send({
    type: 'ready',
    port: started.port,
    apiKey: started.apiKey,
    tokens: started.tokens,
    setupMs: Math.round(performance.now() - t0),
  })
}

main().catch((err) => {
  send({ type: 'failed', reason: errorText(err) })
  setTimeout(() => process.exit(1), 100)
})
