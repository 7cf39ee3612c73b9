/**
 * @module Example: browser sessions in a Fastify 5 app, Parley in-process on the SQLite store.
 * Run: PARLEY_DEMO_PASSWORD=correct-horse node examples/fastify/main.ts  (PORT, default 3000)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { Sessions } from '../../src/core/sessions.ts'
import { parleyFastify } from '../../src/http/fastify/index.ts'
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

const dir = process.env.PARLEY_DB ? null : mkdtempSync(join(tmpdir(), 'parley-fastify-'))
const store = new SqliteStore({ path: process.env.PARLEY_DB ?? join(dir!, 'sessions.db') })
await store.init()
const sessions = new Sessions({ store })
setInterval(() => sessions.sweep().catch(() => {}), 60_000).unref()

const app = Fastify({ logger: { level: 'warn' } })
await app.register(parleyFastify, { sessions, origins, logger: app.log })
const { parley } = app
const signInBody = {
  type: 'object',
  required: ['password'],
  properties: { password: { type: 'string', maxLength: 256 } },
}

app.post('/sign-in', { schema: { body: signInBody } }, async (request, reply) => {
  if (!passwordOk((request.body as { password: string }).password)) {
    return reply.code(401).type('application/problem+json').send(problemOf('ERR_SIGN_IN_FAILED'))
  }
  // A new session at every sign-in; the one this browser had (if any) ends (SEC-07).
  const previous = request.parley.session
  if (previous !== null) await sessions.end(previous.id, 'rotated')
  const { token } = await sessions.create({
    principal: 'demo-user',
    auth: { factors: ['password'], level: 1 },
    ip: request.ip,
    userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
  })
  parley.setSessionCookie(reply, token)
  return { principal: 'demo-user' }
})

app.get('/me', { preHandler: parley.requireSession() }, async (request) => {
  const { principal, createdAt, idleExpiresAt } = request.parley.session!
  return { principal, createdAt, idleExpiresAt }
})

app.post('/sign-out', { preHandler: parley.requireSession() }, async (request, reply) => {
  await sessions.end(request.parley.session!.id, 'logout')
  parley.clearSessionCookie(reply)
  return { signedOut: true }
})

const url = await app.listen({ host: '127.0.0.1', port })
console.log(`fastify example on ${url}`)

async function stop() {
  await app.close()
  await store.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
