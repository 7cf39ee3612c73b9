/**
 * @module A validate-suite server child: started by `run.ts` with `child_process.fork`, so that the
 * server and the load generator run on different cores. It serves either the bare `node:http`
 * baseline or Parley on one store, and reports its port and the validate requests to send (API key
 * and session tokens) over IPC; `child.ts` does the rest.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { runChild, type Started, withTimeout } from './child.ts'
import { type BenchRequest, type ChildConfig, VALIDATE_PATH } from './protocol.ts'

/** The validate requests, one per session token, all with the same API key. */
function validateRequests(apiKey: string, tokens: string[]): BenchRequest[] {
  return tokens.map((token) => ({
    method: 'POST',
    path: VALIDATE_PATH,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  }))
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
    requests: validateRequests(fakeToken('plyk_'), tokens),
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
      requests: validateRequests(apiKey, tokens),
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

runChild<ChildConfig>((config) =>
  config.target === 'bare' ? startBare(config) : startParley(config),
)
