/**
 * @module Example: sign-up, sign-in and browser sessions on plain node:http, with Parley's Auth and
 * sessions in-process on the SQLite store.
 * Run: node examples/node-http/main.ts  (PORT, ORIGINS, PARLEY_DB, PARLEY_SECRET)
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Auth, type SignInInput } from '../../src/auth/auth.ts'
import { ParleyError } from '../../src/core/errors.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { readSessionToken } from '../../src/http/cookies.ts'
import { checkOrigin } from '../../src/http/csrf.ts'
import { parleyNode } from '../../src/http/node/index.ts'
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

const dir = process.env.PARLEY_DB ? null : mkdtempSync(join(tmpdir(), 'parley-node-'))
const store = new SqliteStore({ path: process.env.PARLEY_DB ?? join(dir!, 'sessions.db') })
await store.init()
const users = store.users()
await users.init()
const sessions = new Sessions({ store })
const auth = new Auth({ users, sessions, secret })
setInterval(() => sessions.sweep().catch(() => {}), 60_000).unref()

const parley = parleyNode({
  sessions,
  origins,
  logger: { warn: (obj, msg) => console.warn(msg, obj) },
})

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

/** Any error as problem+json with its status; a ParleyError says its code, anything else is a 500. */
function fail(res: ServerResponse, err: unknown) {
  const problem = parley.http.failure(err)
  if (typeof problem.retryAfterSeconds === 'number') {
    res.setHeader('retry-after', String(problem.retryAfterSeconds))
  }
  sendProblem(res, problem)
}

/** A small JSON body (at most 4 KiB); Auth checks each field itself. */
async function readJson(req: IncomingMessage): Promise<SignInInput> {
  let raw = ''
  for await (const chunk of req) {
    raw += chunk
    if (raw.length > 4096) throw new ParleyError('ERR_BODY_TOO_LARGE')
  }
  try {
    return JSON.parse(raw) ?? {}
  } catch {
    throw new ParleyError('ERR_VALIDATION', 'the body is not valid JSON')
  }
}

const clientOf = (req: IncomingMessage) => ({
  ip: req.socket.remoteAddress ?? null,
  userAgent: req.headers['user-agent']?.slice(0, 512) ?? null,
})

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = `${req.method} ${req.url?.split('?')[0]}`
  const door = route === 'POST /sign-up' || route === 'POST /sign-in'
  // No cookie yet, so the adapter's CSRF check does not see these: refuse a foreign Origin first,
  // or another site could sign the browser in to an account of its choosing (login CSRF, SEC-08).
  if (door) checkOrigin(req.method!, req.headers, origins)
  const ctx = await parley.handle(req, res)
  if (ctx === undefined) return // refused (CSRF, bad bearer token, store down): already answered
  if (door) {
    const { username, password, totp } = await readJson(req)
    // The session this browser already had ends with the new one (no fixation, SEC-07).
    const replaces = readSessionToken(req.headers.cookie, parley.http.cookie) ?? undefined
    const input = { username, password, totp, replaces }
    const signUp = route === 'POST /sign-up'
    const { user, token } = signUp
      ? await auth.signUp(input, clientOf(req))
      : await auth.signIn(input, clientOf(req))
    parley.setSessionCookie(res, token)
    send(res, signUp ? 201 : 200, { user })
  } else if (route === 'GET /me') {
    if (!parley.requireSession(ctx, res)) return // answered 401
    const { principal, createdAt, idleExpiresAt } = ctx.session
    send(res, 200, { user: await auth.getUser(principal), createdAt, idleExpiresAt })
  } else if (route === 'GET /reports') {
    if (!parley.requirePermission(ctx, res, 'reports:read')) return // answered 401 or 403
    send(res, 200, { reports: [{ id: 'q3', title: 'Third quarter' }] })
  } else if (route === 'POST /sign-out') {
    if (!parley.requireSession(ctx, res)) return
    await auth.signOut(ctx.session.id, clientOf(req))
    parley.clearSessionCookie(res)
    send(res, 200, { signedOut: true })
  } else fail(res, new ParleyError('ERR_NOT_FOUND'))
}

const server = createServer((req, res) => {
  route(req, res).catch((err) => fail(res, err))
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
