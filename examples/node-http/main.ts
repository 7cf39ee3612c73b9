/**
 * @module Example: browser sessions on plain node:http, Parley in-process on the SQLite store.
 * Run: PARLEY_DEMO_PASSWORD=correct-horse node examples/node-http/main.ts  (PORT, default 3000)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sessions } from '../../src/core/sessions.ts'
import { parleyNode } from '../../src/http/node/index.ts'
import { problemOf } from '../../src/http/problem.ts'
import { SqliteStore } from '../../src/store/sqlite/index.ts'

const port = Number(process.env.PORT ?? 3000)
const origins = process.env.ORIGINS?.split(',') ?? [
  `http://localhost:${port}`,
  `http://127.0.0.1:${port}`,
]

// The demo's only account: a fixed principal behind a password from the environment. The real
// password sign-in (users, argon2id, rate limits) is Parley's auth module; this stands in for it.
const password = process.env.PARLEY_DEMO_PASSWORD ?? randomBytes(12).toString('base64url')
if (!process.env.PARLEY_DEMO_PASSWORD) console.log(`demo password: ${password}`)
const digest = (s: string) => createHash('sha256').update(s).digest()
const passwordOk = (given: unknown) =>
  typeof given === 'string' && timingSafeEqual(digest(given), digest(password))

const dir = process.env.PARLEY_DB ? null : mkdtempSync(join(tmpdir(), 'parley-node-'))
const store = new SqliteStore({ path: process.env.PARLEY_DB ?? join(dir!, 'sessions.db') })
await store.init()
const sessions = new Sessions({ store })
setInterval(() => sessions.sweep().catch(() => {}), 60_000).unref()

const parley = parleyNode({
  sessions,
  origins,
  logger: { warn: (obj, msg) => console.warn(msg, obj) },
})

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json') {
  res.writeHead(status, { 'content-type': type }).end(JSON.stringify(body))
}

/** A small JSON body (at most 1 KiB), or null. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  let raw = ''
  for await (const chunk of req) {
    raw += chunk
    if (raw.length > 1024) return null
  }
  try {
    return JSON.parse(raw) as Record<string, unknown>
  } catch {
    return null
  }
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const ctx = await parley.handle(req, res)
  if (ctx === undefined) return // refused (CSRF, bad bearer token, store down): already answered
  const route = `${req.method} ${req.url?.split('?')[0]}`
  if (route === 'POST /sign-in') {
    if (!passwordOk((await readJson(req))?.password)) {
      send(res, 401, problemOf('ERR_SIGN_IN_FAILED'), 'application/problem+json')
      return
    }
    // A new session at every sign-in; the one this browser had (if any) ends (SEC-07).
    if (ctx.session !== null) await sessions.end(ctx.session.id, 'rotated')
    const { token } = await sessions.create({
      principal: 'demo-user',
      auth: { factors: ['password'], level: 1 },
      ip: req.socket.remoteAddress ?? null,
      userAgent: req.headers['user-agent']?.slice(0, 512) ?? null,
    })
    parley.setSessionCookie(res, token)
    send(res, 200, { principal: 'demo-user' })
  } else if (route === 'GET /me') {
    if (!parley.requireSession(ctx, res)) return // answered 401
    const { principal, createdAt, idleExpiresAt } = ctx.session
    send(res, 200, { principal, createdAt, idleExpiresAt })
  } else if (route === 'POST /sign-out') {
    if (!parley.requireSession(ctx, res)) return
    await sessions.end(ctx.session.id, 'logout')
    parley.clearSessionCookie(res)
    send(res, 200, { signedOut: true })
  } else send(res, 404, problemOf('ERR_NOT_FOUND'), 'application/problem+json')
}

const server = createServer((req, res) => {
  route(req, res).catch((err) => {
    console.error(err)
    if (!res.headersSent) send(res, 500, problemOf('ERR_INTERNAL'), 'application/problem+json')
  })
})

server.listen(port, '127.0.0.1', () => {
  const { port: actual } = server.address() as { port: number }
  console.log(`node:http example on http://127.0.0.1:${actual}`)
})

async function stop() {
  server.close()
  await store.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
