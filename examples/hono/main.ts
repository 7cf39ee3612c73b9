/**
 * @module Example: sign-up, sign-in and browser sessions in a Hono 4 app (on @hono/node-server),
 * with Parley's Auth and sessions in-process on the SQLite store.
 * Run: node examples/hono/main.ts  (PORT, ORIGINS, PARLEY_DB, PARLEY_SECRET)
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { Auth, type SignInInput } from '../../src/auth/auth.ts'
import { ParleyError } from '../../src/core/errors.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { readSessionToken } from '../../src/http/cookies.ts'
import { checkOrigin } from '../../src/http/csrf.ts'
import { type ParleyEnv, parleyHono } from '../../src/http/hono/index.ts'
import { PROBLEM_CONTENT_TYPE } from '../../src/http/problem.ts'
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

const dir = process.env.PARLEY_DB ? null : mkdtempSync(join(tmpdir(), 'parley-hono-'))
const store = new SqliteStore({ path: process.env.PARLEY_DB ?? join(dir!, 'sessions.db') })
await store.init()
const users = store.users()
await users.init()
const sessions = new Sessions({ store })
const auth = new Auth({ users, sessions, secret })
setInterval(() => sessions.sweep().catch(() => {}), 60_000).unref()

const parley = parleyHono({
  sessions,
  origins,
  logger: { warn: (obj, msg) => console.warn(msg, obj) },
})
const app = new Hono<ParleyEnv>()
app.use(parley)

// Every error as problem+json with its status; anything that is not a ParleyError is a 500 that
// says nothing.
app.onError((err, c) => {
  const problem = parley.http.failure(err)
  if (typeof problem.retryAfterSeconds === 'number') {
    c.header('Retry-After', String(problem.retryAfterSeconds))
  }
  const status = problem.status as ContentfulStatusCode
  return c.json(problem, status, { 'Content-Type': PROBLEM_CONTENT_TYPE })
})

const clientOf = (c: Context) => ({
  ip: getConnInfo(c).remote.address ?? null,
  userAgent: c.req.header('user-agent')?.slice(0, 512) ?? null,
})

// Sign-up and sign-in: no cookie yet, so the adapter's CSRF check does not see them. Refuse a
// foreign Origin before the body is even read, or another site could sign the browser in to an
// account of its choosing (login CSRF, SEC-08).
const sameOrigin = async (c: Context, next: () => Promise<void>) => {
  checkOrigin(c.req.method, c.req.header(), origins)
  await next()
}
const small = bodyLimit({
  maxSize: 4096,
  onError: () => {
    throw new ParleyError('ERR_BODY_TOO_LARGE')
  },
})

for (const path of ['/sign-up', '/sign-in'] as const) {
  app.post(path, sameOrigin, small, async (c) => {
    // Auth checks each field itself.
    const body: SignInInput | null = await c.req.json().catch(() => {
      throw new ParleyError('ERR_VALIDATION', 'the body is not valid JSON')
    })
    const { username, password, totp } = body ?? ({} as SignInInput)
    // The session this browser already had ends with the new one (no fixation, SEC-07).
    const replaces = readSessionToken(c.req.header('cookie'), parley.http.cookie) ?? undefined
    const input = { username, password, totp, replaces }
    const { user, token } =
      path === '/sign-up'
        ? await auth.signUp(input, clientOf(c))
        : await auth.signIn(input, clientOf(c))
    parley.setSessionCookie(c, token)
    return c.json({ user }, path === '/sign-up' ? 201 : 200)
  })
}

app.get('/me', parley.requireSession(), async (c) => {
  const { principal, createdAt, idleExpiresAt } = c.get('parley').session!
  return c.json({ user: await auth.getUser(principal), createdAt, idleExpiresAt })
})

app.get('/reports', parley.requirePermission('reports:read'), (c) =>
  c.json({ reports: [{ id: 'q3', title: 'Third quarter' }] }),
)

app.post('/sign-out', parley.requireSession(), async (c) => {
  await auth.signOut(c.get('parley').session!.id, clientOf(c))
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
