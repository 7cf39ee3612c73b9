/**
 * @module Example: browser sessions in an Express 5 app, Parley in-process on the SQLite store.
 * Run: PARLEY_DEMO_PASSWORD=correct-horse node examples/express/main.ts  (PORT, default 3000)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { Sessions } from '../../src/core/sessions.ts'
import { parleyExpress } from '../../src/http/express/index.ts'
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

const dir = process.env.PARLEY_DB ? null : mkdtempSync(join(tmpdir(), 'parley-express-'))
const store = new SqliteStore({ path: process.env.PARLEY_DB ?? join(dir!, 'sessions.db') })
await store.init()
const sessions = new Sessions({ store })
setInterval(() => sessions.sweep().catch(() => {}), 60_000).unref()

const parley = parleyExpress({
  sessions,
  origins,
  logger: { warn: (obj, msg) => console.warn(msg, obj) },
})
const app = express()
app.disable('x-powered-by')
app.use(express.json({ limit: '1kb' }))
app.use(parley)

app.post('/sign-in', async (req, res) => {
  if (!passwordOk(req.body?.password)) {
    res.status(401).type('application/problem+json').json(problemOf('ERR_SIGN_IN_FAILED'))
    return
  }
  // A new session at every sign-in; the one this browser had (if any) ends (SEC-07).
  const previous = req.parley.session
  if (previous !== null) await sessions.end(previous.id, 'rotated')
  const { token } = await sessions.create({
    principal: 'demo-user',
    auth: { factors: ['password'], level: 1 },
    ip: req.socket.remoteAddress ?? null,
    userAgent: req.get('user-agent')?.slice(0, 512) ?? null,
  })
  parley.setSessionCookie(res, token)
  res.json({ principal: 'demo-user' })
})

app.get('/me', parley.requireSession(), (req, res) => {
  const { principal, createdAt, idleExpiresAt } = req.parley.session!
  res.json({ principal, createdAt, idleExpiresAt })
})

app.post('/sign-out', parley.requireSession(), async (req, res) => {
  await sessions.end(req.parley.session!.id, 'logout')
  parley.clearSessionCookie(res)
  res.json({ signedOut: true })
})

const server = app.listen(port, '127.0.0.1', () => {
  const { port: actual } = server.address() as { port: number }
  console.log(`express example on http://127.0.0.1:${actual}`)
})

async function stop() {
  server.close()
  await store.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
