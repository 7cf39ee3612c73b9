/**
 * @module `parley/client` in Chromium (Debian's, via playwright-core): the SDK served at
 * /assets/client/ under the pages' CSP, and two tabs of one origin that share localStorage, Web
 * Locks and BroadcastChannel refreshing an expired access token with one call to the server.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ParleyClient } from '../../src/client/index.ts'
import { PAGE_CSP } from '../../src/server/web/routes.ts'
import { ACCESS_TTL_MS, PASSWORD, startTokenServer, type TokenServer } from '../client/server.ts'
import { launchChromium } from '../helpers/browser.ts'

const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>client test</title>
<script type="module" src="/test/client-page.js"></script></head><body></body></html>`

/** The test page's script: a client on window, and what it hears. */
const PAGE_JS = `import { ParleyClient } from '/assets/client/index.js'
const client = new ParleyClient({ baseUrl: location.origin, clientId: 'web' })
const events = []
client.on('tokens', (e) => events.push({ type: 'tokens', source: e.source }))
client.on('signedout', (e) => events.push({ type: 'signedout', reason: e.reason, code: e.code }))
Object.assign(globalThis, { client, events })
`

/** What the page's script puts on `globalThis` (the functions passed to `evaluate` run there). */
interface PageGlobals {
  client: ParleyClient
  events: { type: string; source?: string; reason?: string | null }[]
  navigator: { locks: { query(): Promise<{ held: unknown[]; pending: unknown[] }> } }
}

let browser: Browser
let server: TokenServer
/** While set, `POST /oauth/token` waits for it at the server. */
let gate: PromiseWithResolvers<void> | null = null

beforeAll(async () => {
  browser = await launchChromium()
  server = await startTokenServer({
    listen: true,
    setup(app) {
      app.addHook('onRequest', async (request) => {
        if (request.method === 'POST' && request.url === '/oauth/token') await gate?.promise
      })
      // a test-only page of the server's origin, under the pages' CSP (no inline script)
      const csp = { 'content-security-policy': PAGE_CSP }
      app.get('/test/client-page.html', async (_r, reply) =>
        reply.headers(csp).type('text/html; charset=utf-8').send(PAGE_HTML),
      )
      app.get('/test/client-page.js', async (_r, reply) =>
        reply.headers(csp).type('text/javascript; charset=utf-8').send(PAGE_JS),
      )
    },
  })
}, 60_000)
afterAll(async () => {
  gate?.resolve()
  await browser?.close()
  await server?.close()
})

async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      errors.push(m.text())
  })
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico'))
      errors.push(`${r.status()} ${r.url()}`)
  })
  await page.goto(`${server.origin}/test/client-page.html`)
  await page.waitForFunction(() => 'client' in globalThis)
  expect(errors).toEqual([]) // no CSP violation, no failed module
  return page
}

const fetchMe = () =>
  (globalThis as unknown as PageGlobals).client.fetch('/auth/me').then(async (r) => ({
    status: r.status,
    body: (await r.json()) as { session: { id: string } },
  }))

describe('parley/client in Chromium', () => {
  it('serves the SDK as JavaScript under the pages’ headers, with ./x.js imports', async () => {
    for (const name of ['index', 'client', 'refresh', 'token-state']) {
      const res = await fetch(`${server.origin}/assets/client/${name}.js`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
      expect(res.headers.get('content-security-policy')).toBe(PAGE_CSP)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      const code = await res.text()
      expect(code).not.toMatch(/from '[^']+\.ts'/)
      expect(code).not.toMatch(/:\s*Tokens\b|interface |import type/)
    }
    expect((await fetch(`${server.origin}/assets/client/client.ts`)).status).toBe(404)
    expect((await fetch(`${server.origin}/assets/client/..%2Fapp.js`)).status).toBe(404)
  })

  it('issue 5: two tabs, one refresh: both fetch /auth/me past expiry at once; one POST /oauth/token, both 200, the session lives on', async () => {
    const context = await browser.newContext()
    await context.clock.install({ time: server.clock.now() })
    try {
      const a = await openPage(context)
      const b = await openPage(context)
      const username = await server.createUser()
      await a.evaluate(
        ([u, p]) =>
          (globalThis as unknown as PageGlobals).client.signIn({ username: u, password: p }),
        [username, PASSWORD] as const,
      )
      const signedIn = await a.evaluate(() =>
        (globalThis as unknown as PageGlobals).client.accessToken(),
      )
      expect(signedIn).toMatch(/^ey/)
      // tab B learns the tokens from tab A (BroadcastChannel), without a request of its own
      await expect
        .poll(() => b.evaluate(() => (globalThis as unknown as PageGlobals).client.accessToken()))
        .toBe(signedIn)
      const { body } = await a.evaluate(fetchMe)
      const sid = body.session.id

      // past the access token's expiry, on the server and in both tabs
      server.clock.advance(ACCESS_TTL_MS + 60_000)
      await context.clock.setFixedTime(server.clock.now())
      const refreshes = server.count('POST /oauth/token')
      gate = Promise.withResolvers<void>()
      const both = Promise.all([a.evaluate(fetchMe), b.evaluate(fetchMe)])
      // one tab holds the refresh lock (its request waits at the server), the other waits for it
      await expect
        .poll(() =>
          a.evaluate(() =>
            (globalThis as unknown as PageGlobals).navigator.locks
              .query()
              .then((s) => [s.held.length, s.pending.length]),
          ),
        )
        .toEqual([1, 1])
      gate.resolve()
      gate = null
      const [ra, rb] = await both

      expect([ra.status, rb.status]).toEqual([200, 200])
      expect(server.count('POST /oauth/token') - refreshes).toBe(1)
      expect([ra.body.session.id, rb.body.session.id]).toEqual([sid, sid])
      const [ta, tb] = await Promise.all([
        a.evaluate(() => (globalThis as unknown as PageGlobals).client.accessToken()),
        b.evaluate(() => (globalThis as unknown as PageGlobals).client.accessToken()),
      ])
      expect(ta).toBe(tb)
      expect(ta).not.toBe(signedIn)
      // no reuse was detected: the session is still active
      const session = await server.sessions.get(sid)
      expect(session.state).toBe('active')
      expect(session.endReason).toBeNull()
      const events = await Promise.all(
        [a, b].map((p) => p.evaluate(() => (globalThis as unknown as PageGlobals).events)),
      )
      const sources = events.flat().map((e) => e.source ?? e.type)
      expect(sources.filter((s) => s === 'signedout')).toEqual([])
      expect(sources.filter((s) => s === 'refresh')).toHaveLength(1)
      expect(sources.filter((s) => s === 'other-tab')).toHaveLength(2) // B's sign-in, then the refresh
    } finally {
      await context.close()
    }
  })
})
