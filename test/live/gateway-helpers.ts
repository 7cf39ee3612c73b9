/**
 * @module Test rig of the live gateway: a node:http server on 127.0.0.1:0, a memory store, a
 * ManualClock and a manual scheduler for the timer wheel (timeouts pass without sleeping), and a
 * small `parley.v1` client on a real `ws` WebSocket.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket } from 'ws'
import type { StoreChange } from '../../src/core/cache.ts'
import { ManualClock } from '../../src/core/clock.ts'
import type { ActionContext, EndReason, SessionRecord } from '../../src/core/session.ts'
import { Sessions } from '../../src/core/sessions.ts'
import type { Frame } from '../../src/live/protocol/index.ts'
import { encodeFrame } from '../../src/live/protocol/index.ts'
import {
  createLiveGateway,
  type LiveGateway,
  type LiveGatewayOptions,
  type Scheduler,
} from '../../src/live/server/index.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'

export const ORIGIN = 'https://app.example'
export const COOKIE = 'parley' // cookie.insecure: the name without __Host-

/** The one interval of the timer wheel, run by hand. */
export class ManualScheduler implements Scheduler {
  readonly #fns = new Map<number, () => void>()
  #next = 1
  setInterval(fn: () => void): unknown {
    const id = this.#next++
    this.#fns.set(id, fn)
    return id
  }
  clearInterval(handle: unknown): void {
    this.#fns.delete(handle as number)
  }
  run(): void {
    for (const fn of [...this.#fns.values()]) fn()
  }
}

/** A memory store with a change feed (as Redis has): `end` announces an invalidation. */
export class WatchedMemoryStore extends MemoryStore {
  readonly #listeners = new Set<(change: StoreChange) => void>()
  async watch(listener: (change: StoreChange) => void): Promise<() => Promise<void>> {
    this.#listeners.add(listener)
    listener({ type: 'link', up: true })
    return async () => {
      this.#listeners.delete(listener)
    }
  }
  override async end(
    id: string,
    reason: EndReason,
    context: ActionContext,
  ): Promise<SessionRecord | null> {
    const r = await super.end(id, reason, context)
    for (const l of this.#listeners) l({ type: 'invalidate', id })
    return r
  }
}

/** Waits until `cond()` holds, yielding to I/O between checks (for I/O, never for a timeout). */
export async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return
    await new Promise((r) => setTimeout(r, 2))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A test client: records every frame and the close. */
export class Client {
  readonly ws: WebSocket
  readonly frames: Frame[] = []
  closed: { code: number; reason: string } | null = null
  status: number | null = null
  #read = 0

  constructor(url: string, headers: Record<string, string> = {}, protocol = 'parley.v1') {
    this.ws = new WebSocket(url, protocol, { headers })
    this.ws.on('message', (data) => {
      try {
        this.frames.push(JSON.parse(String(data)) as Frame)
      } catch {
        this.frames.push({ t: 'err', code: 0, message: `not JSON: ${String(data).slice(0, 40)}` })
      }
    })
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) }
    })
    this.ws.on('unexpected-response', (_req, res) => {
      this.status = res.statusCode ?? 0
      this.closed = { code: -1, reason: 'http' }
    })
    this.ws.on('error', () => {})
  }

  opened(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('close', () => reject(new Error('closed before open')))
      this.ws.once('unexpected-response', () => reject(new Error('refused')))
    })
  }

  send(frame: Frame | Record<string, unknown>): void {
    this.ws.send(encodeFrame(frame as Frame))
  }

  raw(text: string): void {
    this.ws.send(text)
  }

  /** The next frame not read yet (of type `t` when given; others of other types are skipped). */
  async next<T extends Frame['t']>(t?: T): Promise<Extract<Frame, { t: T }>> {
    for (;;) {
      await until(() => this.frames.length > this.#read || this.closed !== null, `frame ${t ?? ''}`)
      if (this.frames.length <= this.#read)
        throw new Error(`closed (${this.closed?.code}) before ${t ?? 'a frame'}`)
      const f = this.frames[this.#read++]!
      if (t === undefined || f.t === t) return f as Extract<Frame, { t: T }>
    }
  }

  async closedWith(): Promise<{ code: number; reason: string }> {
    await until(() => this.closed !== null, 'close')
    return this.closed!
  }

  of<T extends Frame['t']>(t: T): Extract<Frame, { t: T }>[] {
    return this.frames.filter((f) => f.t === t) as Extract<Frame, { t: T }>[]
  }
}

export type RigOptions = Partial<Omit<LiveGatewayOptions, 'sessions' | 'store'>> & {
  watched?: boolean
}

/** Everything a gateway test needs. */
export async function rig(options: RigOptions = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 30, 12, 0, 0))
  const scheduler = new ManualScheduler()
  const store = options.watched === true ? new WatchedMemoryStore() : new MemoryStore()
  await store.init()
  const sessions = new Sessions({ store, clock })
  const live = store.live()
  const { watched: _w, ...rest } = options
  const gatewayOptions: LiveGatewayOptions = {
    sessions,
    store: live,
    clock,
    scheduler,
    origins: [ORIGIN],
    cookie: { insecure: true },
    ...rest,
    limits: { heartbeatMs: 15_000, ...rest.limits },
  }
  const gateway = createLiveGateway(gatewayOptions)
  const server = http.createServer((_req, res) => res.end('ok'))
  gateway.attach(server, { path: '/live' })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `ws://127.0.0.1:${port}/live`
  const clients: Client[] = []
  let principals = 0

  const r = {
    clock,
    scheduler,
    store,
    live,
    sessions,
    gateway,
    gatewayOptions,
    server,
    url,
    /** Moves the clock and runs the wheel once. */
    advance(ms: number) {
      clock.advance(ms)
      scheduler.run()
    },
    async login(principal = `user-${++principals}`) {
      return sessions.create({ principal })
    },
    connect(headers: Record<string, string> = {}, protocol?: string, path = '/live') {
      const c = new Client(url.replace('/live', path), headers, protocol)
      clients.push(c)
      return c
    },
    /** Connects, says hello with `cred`, and returns the client with its welcome. */
    async open(
      cred: string,
      hello: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ) {
      const c = r.connect(headers)
      await c.opened()
      c.send({ t: 'hello', cred, ...hello })
      const welcome = await c.next('welcome')
      return { client: c, welcome }
    },
    async resume(sid: string, token: string, last: number) {
      const c = r.connect()
      await c.opened()
      c.send({ t: 'hello', resume: { sid, token, last } })
      return c
    },
    async close() {
      for (const c of clients) c.ws.terminate()
      await gateway.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return r
}

export type Rig = Awaited<ReturnType<typeof rig>>
export type { LiveGateway }

/** Polls an async condition (for I/O and store writes, never for a timeout). */
export async function eventually(cond: () => Promise<boolean>, what = 'condition'): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 2))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A second gateway ("another process") on the same stores, on its own server. */
export async function secondGateway(r: Rig, extra: Partial<LiveGatewayOptions> = {}) {
  const gateway = createLiveGateway({ ...r.gatewayOptions, ...extra })
  const server = http.createServer()
  gateway.attach(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `ws://127.0.0.1:${port}/live`
  const clients: Client[] = []
  return {
    gateway,
    async resume(sid: string, token: string, last: number) {
      const c = new Client(url)
      clients.push(c)
      await c.opened()
      c.send({ t: 'hello', resume: { sid, token, last } })
      return c
    },
    async close() {
      for (const c of clients) c.ws.terminate()
      await gateway.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
