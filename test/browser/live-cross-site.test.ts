/**
 * @module Attack scenario 3, its WebSocket half, in Chromium: a page of another origin opens a
 * live connection to Parley while the victim's browser holds the session cookie. The upgrade is
 * refused on its `Origin` (SEC-26), whether the browser sent the cookie (another port of the same
 * host: same-site, so SameSite=Lax lets it through) or not (another site). The same code from
 * Parley's own origin gets its welcome: the refusal is the Origin check, not a broken client.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.ts'
import { startWebServer } from '../helpers/web-server.ts'

const PASSWORD = 'correct horse battery staple'
let browser: Browser
let web: Awaited<ReturnType<typeof startWebServer>>

beforeAll(async () => {
  browser = await launchChromium()
  web = await startWebServer({ live: true })
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await web?.close()
})

/** Opens a parley.v1 connection from the page and reports what came of it. */
function tryLive(page: Page, url: string): Promise<{ welcome: boolean; code: number }> {
  return page.evaluate(
    (target) =>
      new Promise<{ welcome: boolean; code: number }>((resolve) => {
        const ws = new WebSocket(target, 'parley.v1')
        let welcome = false
        ws.onopen = () => ws.send(JSON.stringify({ t: 'hello', cred: 'cookie' }))
        ws.onmessage = (e) => {
          if (JSON.parse(String(e.data)).t === 'welcome') {
            welcome = true
            ws.close()
          }
        }
        ws.onclose = (e) => resolve({ welcome, code: e.code })
      }),
    url,
  )
}

describe('cross-site WebSocket hijacking', () => {
  it('SEC-26: attack scenario 3 (cross-site WebSocket): another origin cannot open a live session with the victim cookie; Parley own origin can', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${web.origin}/sign-up`)
    await page.fill('#username', `victim-${Date.now().toString(36)}`)
    await page.fill('#password', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForURL(`${web.origin}/account`)
    const url = `${web.origin.replace('http:', 'ws:')}/live`

    // The control: from Parley's own pages, the cookie credential opens a live session.
    expect(await tryLive(page, url)).toEqual({ welcome: true, code: 1005 })
    const before = web.live?.stats()

    const evil = await attackerSite()
    try {
      for (const host of ['localhost', '127.0.0.1']) {
        const attacker = await context.newPage()
        await attacker.goto(`http://${host}:${evil.port}/`)
        const result = await tryLive(attacker, url)
        expect(result.welcome, host).toBe(false)
        expect(result.code, host).toBe(1006) // the upgrade itself was refused (HTTP 403)
        await attacker.close()
      }
      // No live session was created for the attacker's pages.
      expect(web.live?.stats().connections).toBe(before?.connections)
      expect(web.live?.stats().suspended).toBe(before?.suspended)
    } finally {
      await evil.close()
      await context.close()
    }
  })
})

/** A page on another port: same-site to `localhost`, another site to 127.0.0.1. */
async function attackerSite(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<!doctype html><html><body>cute cats</body></html>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
