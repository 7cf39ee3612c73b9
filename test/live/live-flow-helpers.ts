/**
 * @module Rig for LiveClient-against-gateway tests: a real gateway on a real HTTP server, over a
 * memory store or a SQLite file in a temp dir, a ManualClock and a manual wheel scheduler on the
 * server, a ManualScheduler for the client, a WebSocket constructor that follows the current
 * gateway (so a "restarted" gateway on another port is a failover for the same client), and the
 * server-side sockets (to destroy them abruptly).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket as WsWebSocket } from 'ws'
import { LiveClient } from '../../src/client/live-client.ts'
import type { WebSocketConstructor } from '../../src/client/live-connection.ts'
import type { LiveClientOptions } from '../../src/client/live-options.ts'
import { MemoryLiveStorage } from '../../src/client/live-outbox.ts'
import { ManualScheduler as ClientTime } from '../../src/client/live-scheduler.ts'
import { ManualClock } from '../../src/core/clock.ts'
import { Sessions } from '../../src/core/sessions.ts'
import type { LiveCommit, LiveStore } from '../../src/live/live-store.ts'
import {
  createLiveGateway,
  type LiveGateway,
  type LiveGatewayOptions,
} from '../../src/live/server/index.ts'
import { MemoryStore } from '../../src/store/memory/index.ts'
import { SqliteStore } from '../../src/store/sqlite/index.ts'
import { ManualScheduler } from './gateway-helpers.ts'

export { until } from './gateway-helpers.ts'

export const ORIGIN = 'https://app.example'
export type StoreKind = 'memory' | 'sqlite'
export const STORE_KINDS: StoreKind[] = ['memory', 'sqlite']

type AnyStore = MemoryStore | SqliteStore

export type FlowOptions = Partial<Omit<LiveGatewayOptions, 'sessions' | 'store'>>

interface Running {
  gateway: LiveGateway
  server: http.Server
  url: string
  sockets: Set<Socket>
  store: AnyStore
  sessions: Sessions
  live: LiveStore
}

/** Opens the store of `kind` (`path` reopens the same SQLite file: another process). */
async function openStore(kind: StoreKind, path: string): Promise<AnyStore> {
  const store = kind === 'memory' ? new MemoryStore() : new SqliteStore({ path })
  await store.init()
  return store
}

/**
 * Everything a flow test needs. `restart()` closes the gateway without a drain window and starts
 * another one on the same store (the same MemoryStore instance, or the same SQLite file opened
 * again), on another port; clients made by `client()` connect to whichever runs now.
 */
export async function flowRig(
  kind: StoreKind,
  options: FlowOptions = {},
  wrapLive: (live: LiveStore) => LiveStore = (live) => live,
) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-live-flow-'))
  const path = join(dir, 'parley.db')
  const clock = new ManualClock(Date.UTC(2026, 10, 30, 12, 0, 0))
  const scheduler = new ManualScheduler()
  const time = new ClientTime(clock.now())
  const clients: LiveClient[] = []
  /** Client sockets (ws instances), newest last. */
  const sockets: WsWebSocket[] = []
  const stores: AnyStore[] = []
  let headers: Record<string, string> = {}
  let current: Running

  async function start(store: AnyStore, extra: FlowOptions = {}): Promise<Running> {
    const sessions = new Sessions({ store, clock })
    const live = wrapLive(store.live())
    const opts: LiveGatewayOptions = {
      sessions,
      store: live,
      clock,
      scheduler,
      origins: [ORIGIN],
      cookie: { insecure: true },
      ...options,
      ...extra,
      limits: { heartbeatMs: 15_000, ...options.limits, ...extra.limits },
    }
    const gateway = createLiveGateway(opts)
    const server = http.createServer((_req, res) => res.end('ok'))
    const serverSockets = new Set<Socket>()
    server.on('connection', (s) => {
      serverSockets.add(s)
      s.on('close', () => serverSockets.delete(s))
    })
    gateway.attach(server, { path: '/live' })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    return {
      gateway,
      server,
      url: `ws://127.0.0.1:${port}/live`,
      sockets: serverSockets,
      store,
      sessions,
      live,
    }
  }

  async function stop(run: Running, drain: boolean): Promise<void> {
    // No drain: the sockets are cut first (clients see a dead transport), then close.
    if (!drain) for (const s of run.sockets) s.destroy()
    const closing = run.gateway.close()
    if (drain) {
      // A client that stopped reading never answers the closing handshake: do not wait for it.
      await settle(5)
      for (const s of run.sockets) s.destroy()
    }
    await closing
    run.server.closeAllConnections()
    await new Promise<void>((resolve) => run.server.close(() => resolve()))
  }

  const first = await openStore(kind, path)
  stores.push(first)
  current = await start(first)

  /** A ws WebSocket that dials the gateway running now, with the rig's headers. */
  const Routed = function (this: unknown, _url: string, protocols: string[]) {
    const ws = new WsWebSocket(current.url, protocols, { headers })
    sockets.push(ws)
    if (process.env.FLOW_DEBUG) {
      const n = sockets.length
      const send = ws.send.bind(ws)
      ws.send = ((d: string) => {
        console.log(`c${n} >`, String(d).slice(0, 120))
        send(d)
      }) as typeof ws.send
      ws.on('message', (d) => console.log(`c${n} <`, String(d).slice(0, 120)))
      ws.on('close', (code) => console.log(`c${n} closed`, code))
    }
    return ws
  } as unknown as WebSocketConstructor

  const r = {
    kind,
    clock,
    scheduler,
    /** The client's clock and timers. */
    time,
    sockets,
    get gateway() {
      return current.gateway
    },
    get sessions() {
      return current.sessions
    },
    get live() {
      return current.live
    },
    get url() {
      return current.url
    },
    /** Server-side TCP sockets of the running gateway. */
    get serverSockets() {
      return current.sockets
    },
    /** Headers every later client socket sends (Origin, Cookie). */
    setHeaders(h: Record<string, string>) {
      headers = h
    },
    /** Moves the server clock and runs the timer wheel once; the client clock follows. */
    advance(ms: number) {
      clock.advance(ms)
      scheduler.run()
      time.advance(Math.max(0, clock.now() - time.now()))
    },
    /** Runs the client's due timers (reconnect backoff with random 0 is due at once). */
    tick() {
      time.advance(Math.max(0, clock.now() - time.now()))
    },
    async login(principal = 'alice') {
      return current.sessions.create({ principal })
    },
    client(o: Partial<LiveClientOptions> & Pick<LiveClientOptions, 'credential'>): LiveClient {
      const c = new LiveClient({
        url: 'ws://127.0.0.1:1/live', // replaced by the routed constructor
        storage: new MemoryLiveStorage(),
        clock: time,
        scheduler: time,
        random: () => 0,
        WebSocket: Routed,
        ...o,
      })
      clients.push(c)
      return c
    },
    /** Destroys every server-side TCP socket of the running gateway (no close frame). */
    cut() {
      for (const s of current.sockets) s.destroy()
    },
    /**
     * Fails over: the running gateway stops (without a drain window, its sockets cut), another
     * one starts on the same store (SQLite: the file opened again, as another process would).
     */
    async restart(extra: FlowOptions = {}) {
      const old = current
      await stop(old, false)
      let store: AnyStore = old.store
      if (kind === 'sqlite') {
        store = await openStore(kind, path)
        stores.push(store)
      }
      current = await start(store, extra)
    },
    async close() {
      for (const c of clients) c.disconnect({ reconnect: false })
      await stop(current, true)
      for (const s of stores) await s.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return r
}

export type FlowRig = Awaited<ReturnType<typeof flowRig>>

/** Pauses reading on the client's newest socket (a consumer that stops reading). */
export function pauseReading(ws: WsWebSocket): () => void {
  const raw = (ws as unknown as { _socket: Socket })._socket
  raw.pause()
  return () => raw.resume()
}

/** Lets pending socket I/O and setImmediate-driven flushes run (a few turns of the loop). */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setTimeout(r, 1))
}

/** A LiveStore whose commits wait while `hold` is set (to see what is written before a commit). */
export class GatedLiveStore {
  hold = false
  /** Commits waiting, with what they carry. */
  readonly waiting: { commits: LiveCommit[]; go: () => void }[] = []

  wrap(inner: LiveStore): LiveStore {
    const commit = async (commits: LiveCommit[]) => {
      if (this.hold) await new Promise<void>((go) => this.waiting.push({ commits, go }))
      return inner.commit(commits)
    }
    return new Proxy(inner, {
      get(target, key) {
        if (key === 'commit') return commit
        const value = Reflect.get(target, key, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }

  /** Lets the waiting commits through (later ones wait too while `hold` stays set). */
  release(): void {
    for (const w of this.waiting.splice(0)) w.go()
  }
}
