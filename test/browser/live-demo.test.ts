/**
 * @module The live demo (`/live/demo`) in real Chromium, end to end: signed up through the pages
 * (the browser holds the `__Host-` cookie and the page authenticates its live session with it),
 * messages both ways, a server-initiated stream, a network outage in the middle of a stream with
 * sends made while offline, and a page reload in the middle of a stream with sends in flight.
 * Afterwards the page's own record (`window.demo`) must show every message exactly once and in
 * order, no gap, the resumes, the checkpoint restored after the reload, and no error.
 *
 * The browser reaches the server through a TCP proxy: `context.setOffline(true)` does not touch
 * WebSockets in Chromium (open ones keep working and new ones still connect, playwright#4910), so
 * the outage is played by the proxy too, which drops every connection and refuses new ones. The
 * proxy also makes the reload land in the middle of the stream: it holds what the server sends on
 * the open WebSocket (the page's own sends still go through), so the old document cannot finish
 * the stream while the reload is under way.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildServer, type ParleyServer } from '../../src/server/app.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'
import { launchChromium } from '../helpers/browser.ts'
import { type SwitchProxy, startSwitchProxy } from '../helpers/switch-proxy.ts'
import { freePort, SECRET } from '../helpers/web-server.ts'

const PASSWORD = 'correct horse battery staple'
const COOKIE = '__Host-parley'
/** Ticks of each long stream: the demo's maximum, so that the outage and the reload fall inside it. */
const LONG = 1000

/** What the page keeps in `window.demo` (see src/server/web/live-demo.ts). */
interface Demo {
  sent: number[]
  echoes: number[]
  ticks: number[]
  gaps: { from: number; to: number; reason: string }[]
  resumes: number
  counts: number[]
  checkpoint: { id: string } | null
  restoredFrom: string | null
  lines: string[]
}

type DemoWindow = typeof globalThis & {
  demo: Demo
  live: {
    state: string
    call(method: string, params?: unknown): Promise<unknown>
  }
  __stream?: Promise<unknown>
  __beforeReload?: Demo | null
  __restored?: string | null
}

let browser: Browser
let store: MemoryStore
let server: ParleyServer
let proxy: SwitchProxy
let origin: string

beforeAll(async () => {
  browser = await launchChromium()
  store = new MemoryStore()
  await store.init()
  const port = await freePort()
  proxy = await startSwitchProxy(port)
  // the browser sees the proxy's origin; the server must allow it (SEC-24, SEC-26)
  origin = `http://localhost:${proxy.port}`
  server = await buildServer({
    store,
    policy: { maxSessionsPerPrincipal: 0 },
    logger: false,
    web: {
      users: store.users(),
      secret: SECRET,
      origins: [origin],
      password: { memoryKiB: 1024, passes: 1 },
    },
    live: { store: store.live(), origins: [origin] },
  })
  await server.app.listen({ host: '127.0.0.1', port })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await proxy?.close()
  await server?.app.close()
  await store?.close()
})

/** The page's record, read from the page. */
const demoOf = (page: Page): Promise<Demo> =>
  page.evaluate(() => structuredClone((globalThis as DemoWindow).demo))

const stateOf = (page: Page): Promise<string> =>
  page.evaluate(() => (globalThis as DemoWindow).live.state)

/** Waits until `fn(window.demo, arg)` holds in the page (polled every 10 ms: no sleeping). */
async function until<A>(
  page: Page,
  fn: (demo: Demo, arg: A) => boolean,
  arg: A,
  timeout = 15_000,
): Promise<void> {
  // Playwright sends the predicate as source; it runs in the page, where `demo` is window.demo.
  const predicate = new Function(
    'arg',
    `const demo = globalThis.demo; return demo !== undefined && (${fn.toString()})(demo, arg) === true`,
  ) as (arg: unknown) => boolean
  try {
    await page.waitForFunction(predicate, arg, { timeout, polling: 10 })
  } catch (err) {
    // say where it stood: counts, gaps and the last lines of the page's log
    const d = await page.evaluate(() => {
      const w = globalThis as DemoWindow
      const x = w.demo
      return x === undefined
        ? null
        : {
            state: w.live?.state,
            sent: x.sent.length,
            echoes: x.echoes.length,
            ticks: x.ticks.length,
            gaps: x.gaps,
            resumes: x.resumes,
            lines: x.lines.slice(-8),
          }
    })
    throw new Error(`${(err as Error).message}\nwindow.demo: ${JSON.stringify(d)}`)
  }
}

describe('the live demo in Chromium', () => {
  it('messages both ways survive an outage mid-stream and a reload mid-stream: each exactly once, in order, no gap, the checkpoint restored, no error', async () => {
    const context: BrowserContext = await browser.newContext()
    const page = await context.newPage()
    const problems: string[] = []
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
    page.on('console', (msg) => {
      // While the test holds the browser offline, Chromium itself logs each reconnect attempt
      // the SDK makes (`net::ERR_INTERNET_DISCONNECTED`): that is the backoff at work, not a fault.
      if (msg.type() === 'error' && !/ERR_INTERNET_DISCONNECTED/.test(msg.text()))
        problems.push(`console: ${msg.text()}`)
    })
    // In every document: the record the previous document left in sessionStorage (the state
    // confirmed before a reload), and the first checkpoint id this document says it restored.
    await context.addInitScript(() => {
      const w = globalThis as DemoWindow
      const KEY = 'parley-live-demo'
      const before = sessionStorage.getItem(KEY)
      w.__beforeReload = before === null ? null : JSON.parse(before)
      w.__restored = null
      const setItem = Storage.prototype.setItem
      Storage.prototype.setItem = function (key: string, value: string) {
        if (key === KEY && w.__restored === null) {
          const r = JSON.parse(value) as Demo
          if (r.restoredFrom !== null) w.__restored = r.restoredFrom
        }
        return setItem.call(this, key, value)
      }
    })

    // --- sign up through the pages: the browser now holds the __Host- session cookie
    await page.goto(`${origin}/sign-up`)
    await page.fill('#username', `live-${Date.now().toString(36)}`)
    await page.fill('#password', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForURL(`${origin}/account`)
    const cookie = (await context.cookies(origin)).find((c) => c.name === COOKIE)
    expect(cookie?.httpOnly).toBe(true)

    // --- the demo: one live session over the cookie credential
    await page.goto(`${origin}/live/demo`)
    await page.waitForFunction(() => (globalThis as DemoWindow).live?.state === 'open')
    expect(await page.textContent('#state')).toBe('open')
    const sid = await page.evaluate(
      () => (globalThis as unknown as { live: { sid: string } }).live.sid,
    )
    expect(await page.textContent('#sid')).toBe(sid)

    // client -> server -> client: the form, then "Send 20"
    await page.fill('#text', 'hello')
    await page.click('#send-form button[type=submit]')
    await until(page, (d) => d.sent.length === 1 && d.echoes.length === 1, null)
    await page.click('#burst')
    await until(page, (d) => d.sent.length === 21 && d.echoes.length === 21, null)
    // an RPC, and server-initiated messages (the short stream of the page's button)
    await page.click('#count')
    await until(page, (d) => d.counts.length === 1, null)
    await page.click('#stream')
    await until(page, (d) => d.ticks.length === 50, null)

    // --- outage in the middle of a long stream, with sends made while offline
    // the proxy cuts every connection when the server's tick 100 passes through it
    const cut = proxy.when('"tick":100}', 'cut')
    await page.evaluate((n) => {
      const w = globalThis as DemoWindow
      w.__stream = w.live.call('stream', { count: n })
    }, LONG)
    await cut
    await context.setOffline(true)
    const atCut = await demoOf(page)
    await page.waitForFunction(() => (globalThis as DemoWindow).live.state !== 'open')
    expect(atCut.ticks.length, 'the outage began after the stream ended').toBeLessThan(50 + LONG)
    await page.click('#burst') // 20 sends while offline: accepted into the persisted outbox
    await until(page, (d) => d.sent.length === 41, null)
    const offline = await demoOf(page)
    expect(offline.echoes.length, 'echoes arrived while offline: not an outage').toBe(21)
    expect(await stateOf(page)).not.toBe('open')
    await context.setOffline(false)
    proxy.restore()
    await until(page, (d, n) => d.echoes.length === 41 && d.ticks.length === 50 + n, LONG, 30_000)
    await page.waitForFunction(() => (globalThis as DemoWindow).live.state === 'open')
    expect((await demoOf(page)).resumes).toBeGreaterThanOrEqual(1)

    // --- reload in the middle of a long stream, with sends in flight
    const beforeReload = await demoOf(page)
    const base = beforeReload.ticks.length
    const sentBefore = beforeReload.sent.length
    // "Send 20" runs (its sends wait for each other), the stream starts; when the server's tick
    // 300 passes the proxy, the open WebSocket is held: the page hears nothing more, while its own
    // sends still reach the server. Then the reload, with the burst unfinished.
    const held = proxy.when('"tick":300}', 'hold')
    await page.click('#burst')
    await until(page, (d, n) => d.sent.length > n, sentBefore)
    await page.evaluate((n) => {
      const w = globalThis as DemoWindow
      w.__stream = w.live.call('stream', { count: n })
    }, LONG)
    await held
    // the reload's requests go over new connections, which are not held
    await page.reload()
    await page.waitForFunction(() => (globalThis as DemoWindow).live?.state === 'open')
    // the record the old document left behind: what was confirmed before the reload
    const left = (await page.evaluate(() => (globalThis as DemoWindow).__beforeReload)) as Demo
    expect(left.ticks.length, 'the reload came after the stream ended').toBeLessThan(base + LONG)
    await until(
      page,
      (d, a) => d.ticks.length === a.total && d.echoes.length === d.sent.length,
      { total: base + LONG },
      30_000,
    )
    const final = await demoOf(page)

    // --- every sent message echoed exactly once: no loss, no duplicate `of`
    expect(new Set(final.sent).size).toBe(final.sent.length)
    expect([...final.echoes].sort((a, b) => a - b)).toEqual([...final.sent].sort((a, b) => a - b))
    // and the sends made before the reload are all there (nothing the page saw is forgotten)
    expect(final.sent.slice(0, left.sent.length)).toEqual(left.sent)
    // --- ticks: three streams, each exactly once and in order, no gap under the `wait` policy
    const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1)
    expect(final.ticks).toEqual([...range(50), ...range(LONG), ...range(LONG)])
    expect(final.gaps).toEqual([])
    // --- one resume after the outage, one after the reload (a restored one)
    expect(final.resumes).toBeGreaterThanOrEqual(2)
    expect(final.resumes).toBeGreaterThan(left.resumes)
    expect(
      await page.evaluate(() => (globalThis as unknown as { live: { sid: string } }).live.sid),
    ).toBe(sid)
    // --- the reloaded page restored from the last checkpoint confirmed before the reload
    expect(left.checkpoint).not.toBeNull()
    expect(await page.evaluate(() => (globalThis as DemoWindow).__restored)).toBe(
      left.checkpoint!.id,
    )
    expect(final.counts).toEqual([1])
    // --- the page never showed an error
    expect(await page.isHidden('#message'), (await page.textContent('#message')) ?? '').toBe(true)
    expect(final.lines.filter((l) => /ended|lost|gap/.test(l))).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)
})
