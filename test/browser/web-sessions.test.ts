/**
 * @module Web sessions in a real browser: Debian chromium driven by playwright-core against the
 * pages of `parley serve`. Cookies as the browser holds them, sign-in and out, two devices, a
 * cross-site form, the TOTP flow and step-up.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Secret, TOTP } from 'otpauth'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.ts'
import { startWebServer } from '../helpers/web-server.ts'

const COOKIE = '__Host-parley'
const PASSWORD = 'correct horse battery staple'

let browser: Browser
let web: Awaited<ReturnType<typeof startWebServer>>
let n = 0

beforeAll(async () => {
  browser = await launchChromium()
  web = await startWebServer()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await web?.close()
})

/** A new browser profile (its own cookie jar): one "device". */
async function device(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext()
  const page = await context.newPage()
  return { context, page }
}

async function signUp(page: Page, username: string): Promise<void> {
  await page.goto(`${web.origin}/sign-up`)
  await page.fill('#username', username)
  await page.fill('#password', PASSWORD)
  await page.click('button[type=submit]')
  await page.waitForURL(`${web.origin}/account`)
  await page.waitForSelector('#sessions tbody tr')
}

async function signIn(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.goto(`${web.origin}/sign-in`)
  await page.fill('#username', username)
  await page.fill('#password', password)
  await page.click('button[type=submit]')
}

async function cookieOf(context: BrowserContext): Promise<string | undefined> {
  return (await context.cookies(web.origin)).find((c) => c.name === COOKIE)?.value
}

/** A request from outside the browser, as an attacker replaying a copied cookie would make it. */
function replay(token: string, path = '/auth/me', method = 'GET') {
  return fetch(`${web.origin}${path}`, {
    method,
    headers: { cookie: `${COOKIE}=${token}`, origin: web.origin },
  })
}

const user = () => `user${++n}-${Date.now().toString(36)}`

describe('web sessions in Chromium', () => {
  it('SEC-20: the session cookie as Chromium holds it: __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, host-only, opaque', async () => {
    const { context, page } = await device()
    await signUp(page, user())
    const cookies = await context.cookies(web.origin)
    const c = cookies.find((x) => x.name === COOKIE)
    expect(c).toMatchObject({
      name: COOKIE,
      domain: 'localhost', // host-only: no Domain attribute was sent
      path: '/',
      secure: true,
      httpOnly: true,
      sameSite: 'Lax',
      expires: -1, // a session cookie: the server's timeouts decide, not the browser
    })
    expect(c!.value).toMatch(/^plys_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/)
    expect(c!.name.length + c!.value.length).toBeLessThan(4096)
    // HttpOnly: the page's own script cannot read it
    expect(
      await page.evaluate(() => (globalThis as { document?: { cookie: string } }).document?.cookie),
    ).not.toContain(COOKIE)
    await context.close()
  })

  it('SEC-14: signed in, reload, still signed in; signed out, the copied cookie is refused from outside', async () => {
    const { context, page } = await device()
    const name = user()
    await signUp(page, name)
    await page.reload()
    await expect.poll(() => page.textContent('#who')).toBe(name)
    const stolen = (await cookieOf(context))!
    const before = await replay(stolen)
    expect(before.status).toBe(200)
    expect(before.headers.get('cache-control')).toBe('no-store')
    await page.click('#sign-out')
    await page.waitForURL(`${web.origin}/sign-in`)
    expect(await cookieOf(context)).toBeUndefined() // SEC-21: the browser dropped it
    const after = await replay(stolen)
    expect(after.status).toBe(401)
    expect(await after.json()).toMatchObject({ code: 'ERR_SESSION_ENDED', reason: 'logout' })
    // The back button cannot bring it back: the account page asks the API again and is sent away.
    await page.goBack()
    await page.waitForURL(`${web.origin}/sign-in`)
    await context.close()
  })

  it('SEC-18: two browser profiles are two sessions; "sign out every other session" in one signs the other out at its next request', async () => {
    const name = user()
    const a = await device()
    const b = await device()
    await signUp(a.page, name)
    await signIn(b.page, name)
    await b.page.waitForURL(`${web.origin}/account`)
    const tokenA = (await cookieOf(a.context))!
    const tokenB = (await cookieOf(b.context))!
    expect(tokenA.split('.')[0]).not.toBe(tokenB.split('.')[0])
    await a.page.reload()
    await expect.poll(() => a.page.locator('#sessions tbody tr').count()).toBe(2)
    await expect(a.page.locator('#sessions tbody tr.current').count()).resolves.toBe(1)
    await a.page.click('#end-others')
    await expect.poll(() => a.page.textContent('#status')).toContain('Ended 1 other session')
    await b.page.reload()
    await b.page.waitForURL(`${web.origin}/sign-in`)
    expect((await replay(tokenB)).status).toBe(401)
    expect((await replay(tokenA)).status).toBe(200)
    await a.context.close()
    await b.context.close()
  })

  it('SEC-34: after the step-up window, a sensitive action asks for the password again, then goes through', async () => {
    const name = user()
    const a = await device()
    const b = await device()
    await signUp(a.page, name)
    await signIn(b.page, name)
    await b.page.waitForURL(`${web.origin}/account`)
    web.clock.advance(11 * 60_000) // past the 10-minute window, within the 30-minute idle timeout
    await a.page.reload()
    await a.page.waitForSelector('#sessions tbody tr')
    await a.page.click('#end-others')
    await a.page.waitForSelector('#reauth:not([hidden])')
    expect((await replay((await cookieOf(b.context))!)).status).toBe(200) // nothing ended yet
    await a.page.fill('#reauth-password', PASSWORD)
    await a.page.click('#reauth-form button[type=submit]')
    await expect.poll(() => a.page.textContent('#status')).toContain('Ended 1 other session')
    expect((await replay((await cookieOf(b.context))!)).status).toBe(401)
    await a.context.close()
    await b.context.close()
  })

  it('SEC-24: attack scenario 3 (cross-site form): a form posted from another port of the same host (same-site) is refused by the Origin check; from another site the cookie is not even sent', async () => {
    const name = user()
    const victim = await device()
    const other = await device()
    await signUp(victim.page, name)
    await signIn(other.page, name)
    await other.page.waitForURL(`${web.origin}/account`)
    const evil = await attackerSite(
      `<form id="f" method="post" action="${web.origin}/auth/sessions/end-others"><input name="x" value="1"></form>`,
    )
    try {
      for (const host of ['localhost', '127.0.0.1']) {
        const page = await victim.context.newPage()
        const response = page.waitForResponse((r) => r.url().endsWith('/auth/sessions/end-others'))
        await page.goto(`http://${host}:${evil.port}/`)
        await page.evaluate(() =>
          (
            globalThis as unknown as {
              document: { getElementById(id: string): { submit(): void } }
            }
          ).document
            .getElementById('f')
            .submit(),
        )
        const res = await response
        if (host === 'localhost') {
          expect(res.status()).toBe(403)
          expect(await res.json()).toMatchObject({ code: 'ERR_CSRF' })
        } else {
          expect([401, 403]).toContain(res.status()) // SameSite=Lax withheld the cookie
        }
        await page.close()
      }
      // Nothing happened: the victim's other session is alive
      expect((await replay((await cookieOf(other.context))!)).status).toBe(200)
    } finally {
      await evil.close()
      await victim.context.close()
      await other.context.close()
    }
  })

  it('SEC-32: TOTP enrolment and sign-in with a code computed here; the session records both factors', async () => {
    const name = user()
    const { context, page } = await device()
    await signUp(page, name)
    await page.click('#totp-begin')
    await page.waitForSelector('#totp-enrol:not([hidden])')
    const secret = (await page.textContent('#totp-secret'))!.trim()
    const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 })
    await page.fill('#totp-code', totp.generate({ timestamp: web.clock.now() }))
    await page.click('#totp-confirm-form button[type=submit]')
    await page.waitForSelector('#codes-box:not([hidden])')
    expect(await page.locator('#recovery-codes li').count()).toBe(10)
    await page.click('#sign-out')
    await page.waitForURL(`${web.origin}/sign-in`)
    web.clock.advance(30_000) // the next code: a code is accepted once
    await signIn(page, name)
    await page.waitForSelector('#second-factor:not([hidden])')
    await page.fill('#totp', totp.generate({ timestamp: web.clock.now() }))
    await page.click('button[type=submit]')
    await page.waitForURL(`${web.origin}/account`)
    await expect.poll(() => page.textContent('#factors')).toBe('password + totp')
    await context.close()
  })

  it('attack scenario 1 (fixation): a cookie planted before sign-in gives the attacker nothing afterwards', async () => {
    const name = user()
    const attacker = await device()
    await signUp(attacker.page, user())
    const planted = (await cookieOf(attacker.context))!
    const victim = await device()
    await victim.context.addCookies([
      // as a script or a sibling host could plant it (Chromium takes a __Host- cookie this way only)
      { name: COOKIE, value: planted, domain: 'localhost', path: '/', secure: true },
    ])
    await victim.page.goto(`${web.origin}/sign-up`)
    await victim.page.fill('#username', name)
    await victim.page.fill('#password', PASSWORD)
    await victim.page.click('button[type=submit]')
    await victim.page.waitForURL(`${web.origin}/account`)
    const fresh = (await cookieOf(victim.context))!
    expect(fresh.split('.')[0]).not.toBe(planted.split('.')[0])
    const seen = await replay(planted)
    const body =
      seen.status === 200 ? ((await seen.json()) as { user: { username: string } }) : null
    expect(body?.user.username).not.toBe(name) // never the victim's account
    await attacker.context.close()
    await victim.context.close()
  })
})

/** A page on another port: same host, so same-site to `localhost`; a different site to 127.0.0.1. */
async function attackerSite(html: string): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(`<!doctype html><html><body>${html}</body></html>`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
