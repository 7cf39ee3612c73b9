/**
 * @module Example: sign-up, sign-in and browser sessions in a Fastify 5 app, with Parley's Auth and
 * sessions in-process on the SQLite store.
 * Run: node examples/fastify/main.ts  (PORT, ORIGINS, PARLEY_DB, PARLEY_SECRET)
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyRequest } from 'fastify'
import { Auth } from '../../src/auth/auth.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { readSessionToken } from '../../src/http/cookies.ts'
import { checkOrigin } from '../../src/http/csrf.ts'
import { parleyFastify } from '../../src/http/fastify/index.ts'
import { errorHandler } from '../../src/server/problem.ts'
import { SqliteStore } from '../../src/store/sqlite/index.ts'

const port = Number(process.env.PORT ?? 3000)
const origins = process.env.ORIGINS?.split(',') ?? [
  `http://localhost:${port}`,
  `http://127.0.0.1:${port}`,
]
// The key TOTP secrets are sealed with at rest; without PARLEY_SECRET, a random one for this run.
const { PARLEY_SECRET } = process.env
const secret = PARLEY_SECRET ?? randomBytes(32).toString('base64url')
if (!PARLEY_SECRET) console.warn('PARLEY_SECRET unset: TOTP secrets will not survive a restart')

const dir = process.env.PARLEY_DB ? null : mkdtempSync(join(tmpdir(), 'parley-fastify-'))
const store = new SqliteStore({ path: process.env.PARLEY_DB ?? join(dir!, 'sessions.db') })
await store.init()
const users = store.users()
await users.init()
const sessions = new Sessions({ store })
const auth = new Auth({ users, sessions, secret })
setInterval(() => sessions.sweep().catch(() => {}), 60_000).unref()

const app = Fastify({ logger: { level: 'warn' } })
// Every error as problem+json with its status (and Retry-After for ERR_RATE_LIMITED); a body that
// fails the schema is ERR_VALIDATION; anything else is a 500 that says nothing.
app.setErrorHandler(errorHandler)
await app.register(parleyFastify, { sessions, origins, logger: app.log })
const { parley } = app

const clientOf = (request: FastifyRequest) => ({
  ip: request.ip,
  userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
})
const text = { type: 'string', minLength: 1, maxLength: 256 }
const credentials = {
  type: 'object',
  required: ['username', 'password'],
  properties: { username: text, password: text, totp: { type: 'string', maxLength: 16 } },
}
type Credentials = { username: string; password: string; totp?: string }
// Sign-up and sign-in: no cookie yet, so the adapter's CSRF check does not see them. Refuse a
// foreign Origin before the body is even read, or another site could sign the browser in to an
// account of its choosing (login CSRF, SEC-08).
const door = {
  onRequest: async (request: FastifyRequest) =>
    checkOrigin(request.method, request.headers, origins),
  schema: { body: credentials },
  bodyLimit: 4096,
}

for (const path of ['/sign-up', '/sign-in'] as const) {
  app.post(path, door, async (request, reply) => {
    const { username, password, totp } = request.body as Credentials
    // The session this browser already had ends with the new one (no fixation, SEC-07).
    const replaces = readSessionToken(request.headers.cookie, parley.http.cookie) ?? undefined
    const input = { username, password, totp, replaces }
    const { user, token } =
      path === '/sign-up'
        ? await auth.signUp(input, clientOf(request))
        : await auth.signIn(input, clientOf(request))
    parley.setSessionCookie(reply, token)
    return reply.code(path === '/sign-up' ? 201 : 200).send({ user })
  })
}

app.get('/me', { preHandler: parley.requireSession() }, async (request) => {
  const { principal, createdAt, idleExpiresAt } = request.parley.session!
  return { user: await auth.getUser(principal), createdAt, idleExpiresAt }
})

app.get('/reports', { preHandler: parley.requirePermission('reports:read') }, async () => {
  return { reports: [{ id: 'q3', title: 'Third quarter' }] }
})

app.post('/sign-out', { preHandler: parley.requireSession() }, async (request, reply) => {
  await auth.signOut(request.parley.session!.id, clientOf(request))
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
