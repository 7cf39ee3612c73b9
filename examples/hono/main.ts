/**
 * @module Example: browser sessions in a Hono 4 app (on @hono/node-server), Parley in-process on
 * the SQLite store.
 * Run: PARLEY_DEMO_PASSWORD=correct-horse node examples/hono/main.ts  (PORT, default 3000)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { Sessions } from '../../src/core/sessions.ts'
import { type ParleyEnv, parleyHono } from '../../src/http/hono/index.ts'
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

const dir = process.env.PARLEY_DB ? null : mkdtempSync(join(tmpdir(), 'parley-hono-'))
const store = new SqliteStore({ path: process.env.PARLEY_DB ?? join(dir!, 'sessions.db') })
await store.init()
const sessions = new Sessions({ store })
setInterval(() => sessions.sweep().catch(() => {}), 60_000).unref()

const parley = parleyHono({
  sessions,
  origins,
  logger: { warn: (obj, msg) => console.warn(msg, obj) },
})
const app = new Hono<ParleyEnv>()
app.use(parley)

app.post('/sign-in', async (c) => {
  const body = (await c.req.json().catch(() => null)) as { password?: unknown } | null
  if (!passwordOk(body?.password)) {
    return c.body(JSON.stringify(problemOf('ERR_SIGN_IN_FAILED')), 401, {
      'content-type': 'application/problem+json',
    })
  }
  // A new session at every sign-in; the one this browser had (if any) ends (SEC-07).
  const previous = c.get('parley').session
  if (previous !== null) await sessions.end(previous.id, 'rotated')
  const { token } = await sessions.create({
    principal: 'demo-user',
    auth: { factors: ['password'], level: 1 },
    userAgent: c.req.header('user-agent')?.slice(0, 512) ?? null,
  })
  parley.setSessionCookie(c, token)
  return c.json({ principal: 'demo-user' })
})

app.get('/me', parley.requireSession(), (c) => {
  const { principal, createdAt, idleExpiresAt } = c.get('parley').session!
  return c.json({ principal, createdAt, idleExpiresAt })
})

app.post('/sign-out', parley.requireSession(), async (c) => {
  await sessions.end(c.get('parley').session!.id, 'logout')
  parley.clearSessionCookie(c)
  return c.json({ signedOut: true })
})

const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
  console.log(`hono example on http://127.0.0.1:${info.port}`)
})

async function stop() {
  server.close()
  await store.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
