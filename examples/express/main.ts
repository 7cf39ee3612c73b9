/**
 * @module Example: sign-up, sign-in and browser sessions in an Express 5 app, with Parley's Auth
 * and sessions in-process on the SQLite store.
 * Run: node examples/express/main.ts  (PORT, ORIGINS, PARLEY_DB, PARLEY_SECRET)
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express, { type NextFunction, type Request, type Response } from 'express'
import { Auth } from '../../src/auth/auth.ts'
import { isParleyError, ParleyError } from '../../src/core/errors.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { readSessionToken } from '../../src/http/cookies.ts'
import { checkOrigin } from '../../src/http/csrf.ts'
import { parleyExpress } from '../../src/http/express/index.ts'
import { sendProblem } from '../../src/http/node/response.ts'
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

const dir = process.env.PARLEY_DB ? null : mkdtempSync(join(tmpdir(), 'parley-express-'))
const store = new SqliteStore({ path: process.env.PARLEY_DB ?? join(dir!, 'sessions.db') })
await store.init()
const users = store.users()
await users.init()
const sessions = new Sessions({ store })
const auth = new Auth({ users, sessions, secret })
setInterval(() => sessions.sweep().catch(() => {}), 60_000).unref()

const parley = parleyExpress({
  sessions,
  origins,
  logger: { warn: (obj, msg) => console.warn(msg, obj) },
})
const app = express()
app.disable('x-powered-by')
app.use(parley)

const clientOf = (req: Request) => ({
  ip: req.ip ?? null,
  userAgent: req.get('user-agent')?.slice(0, 512) ?? null,
})

// Sign-up and sign-in: no cookie yet, so the adapter's CSRF check does not see them. Refuse a
// foreign Origin before the body is even read, or another site could sign the browser in to an
// account of its choosing (login CSRF, SEC-08).
const door = [
  (req: Request, _res: Response, next: NextFunction) => {
    checkOrigin(req.method, req.headers, origins)
    next()
  },
  express.json({ limit: '4kb' }),
]

for (const path of ['/sign-up', '/sign-in'] as const) {
  app.post(path, ...door, async (req, res) => {
    const { username, password, totp } = req.body ?? {}
    // The session this browser already had ends with the new one (no fixation, SEC-07).
    const replaces = readSessionToken(req.headers.cookie, parley.http.cookie) ?? undefined
    const input = { username, password, totp, replaces }
    const { user, token } =
      path === '/sign-up'
        ? await auth.signUp(input, clientOf(req))
        : await auth.signIn(input, clientOf(req))
    parley.setSessionCookie(res, token)
    res.status(path === '/sign-up' ? 201 : 200).json({ user })
  })
}

app.get('/me', parley.requireSession(), async (req, res) => {
  const { principal, createdAt, idleExpiresAt } = req.parley.session!
  res.json({ user: await auth.getUser(principal), createdAt, idleExpiresAt })
})

app.get('/reports', parley.requirePermission('reports:read'), (_req, res) => {
  res.json({ reports: [{ id: 'q3', title: 'Third quarter' }] })
})

app.post('/sign-out', parley.requireSession(), async (req, res) => {
  await auth.signOut(req.parley.session!.id, clientOf(req))
  parley.clearSessionCookie(res)
  res.json({ signedOut: true })
})

// Every error as problem+json with its status. express.json's own 4xx (bad JSON, too large) are
// the client's; anything else that is not a ParleyError is a 500 that says nothing.
app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
  const status = (err as { status?: unknown } | null)?.status
  const clientFault = !isParleyError(err) && typeof status === 'number' && status < 500
  const bad = new ParleyError('ERR_VALIDATION', 'the body must be JSON, at most 4 KiB')
  const problem = parley.http.failure(clientFault ? bad : err)
  if (typeof problem.retryAfterSeconds === 'number') {
    res.setHeader('retry-after', String(problem.retryAfterSeconds))
  }
  sendProblem(res, problem)
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
