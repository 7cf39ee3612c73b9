/**
 * @module Example: a back end that signs users in and checks their cookie through a Parley server.
 * It starts the Parley server in-process on the memory store for the demo; point PARLEY_URL and
 * PARLEY_API_KEY at your own `parley serve` instead.
 * Run: node examples/service-api/main.ts  (then open http://127.0.0.1:3000)
 */
import { createServer } from 'node:http'
import { systemClock } from '../../src/core/clock.ts'
import { createApiKey } from '../../src/server/api-keys.ts'
import { buildServer } from '../../src/server/app.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'

let parleyUrl = process.env.PARLEY_URL
let apiKey = process.env.PARLEY_API_KEY
if (!parleyUrl || !apiKey) {
  const store = new MemoryStore()
  const { app } = await buildServer({ store })
  parleyUrl = await app.listen({ host: '127.0.0.1', port: 0 })
  apiKey = (await createApiKey(store, systemClock, { name: 'example', scope: 'manage' })).token
}

async function parley(
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${parleyUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

const cookieName = 'session' // in production use __Host-session with Secure (see docs/concepts.md)
const readCookie = (header: string | undefined) =>
  header
    ?.split(';')
    .map((c) => c.trim().split('='))
    .find(([k]) => k === cookieName)?.[1]

const server = createServer(async (req, res) => {
  const token = readCookie(req.headers.cookie)
  if (req.method === 'POST' && req.url === '/login') {
    // Your password check goes here; then:
    const { json } = await parley('/v1/sessions', {
      principal: 'demo-user',
      ip: req.socket.remoteAddress,
      userAgent: req.headers['user-agent'] ?? '',
    })
    res
      .writeHead(303, {
        location: '/',
        'set-cookie': `${cookieName}=${json.token}; HttpOnly; SameSite=Lax; Path=/`,
      })
      .end()
    return
  }
  if (req.method === 'POST' && req.url === '/logout' && token) {
    const check = await parley('/v1/sessions/validate', { token, touch: false })
    const id = (check.json.session as { id?: string } | undefined)?.id
    if (id) await parley(`/v1/sessions/${id}/end`, { reason: 'logout' })
    res
      .writeHead(303, {
        location: '/',
        'set-cookie': `${cookieName}=; Max-Age=0; HttpOnly; SameSite=Lax; Path=/`,
      })
      .end()
    return
  }
  const check = token ? await parley('/v1/sessions/validate', { token }) : null
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
  if (check?.status === 200) {
    res.end(
      `<p>Signed in as ${(check.json.session as { principal: string }).principal}.</p><form method="post" action="/logout"><button>Sign out</button></form>`,
    )
  } else {
    const why = check?.json.reason ? ` (your last session ended: ${check.json.reason})` : ''
    res.end(
      `<p>Signed out${why}.</p><form method="post" action="/login"><button>Sign in</button></form>`,
    )
  }
})
const port = Number(process.env.PORT ?? 3000)
server.listen(port, '127.0.0.1', () => {
  const { port: actual } = server.address() as { port: number }
  console.log(`example back end on http://127.0.0.1:${actual} (Parley at ${parleyUrl})`)
})
