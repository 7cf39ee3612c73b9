/**
 * @module The live suite's servers, each a node:http server with a WebSocket endpoint on
 * `/live` that echoes every message (one answer per message, the same ~100-byte JSON payload):
 *
 * - `ws`: the baseline, a bare `ws` WebSocketServer. Each message is a JSON object with a
 *   sequence number (`{"seq":n,"ack":m,"data":{...}}`); the server parses it and answers
 *   `{"seq":<its own counter>,"ack":<the client's seq>,"data":<the same data>}`. With `pingLoop`
 *   it pings every connection from one `setInterval` (the naive loop of ws's README). A
 *   connection to `/live?burst=N` is sent N messages at once (the resume reference).
 * - `socketio`: Socket.IO 4.8 with `connectionStateRecovery`, WebSocket transport only; event
 *   `m` carries the same object and is answered with `socket.emit('m', ...)`.
 * - `parley-memory`, `parley-sqlite`: Parley's live gateway (`createLiveGateway`) on a MemoryStore
 *   or a SqliteStore in a temporary directory; `onMessage` echoes with `session.send(data)`. A
 *   message `{"burst":N}` is answered with N messages instead (the resume measurement).
 */
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Server as SocketIoServer } from 'socket.io'
import { WebSocketServer } from 'ws'
import { Sessions } from '../src/core/sessions.ts'
import { createLiveGateway } from '../src/live/server/index.ts'
import { MemoryStore } from '../src/store/memory/index.ts'
import { SqliteStore } from '../src/store/sqlite/index.ts'
import { LIVE_ORIGIN, LIVE_PATH, type LiveChildConfig } from './live-protocol.ts'
import { closer, inBatches, listen, principalOf } from './web-common.ts'

/** A live target being served. */
export interface LiveStarted {
  port: number
  credentials: string[]
  /** Connections held now. */
  connections(): number
  /** The ping loop's longest sweep so far, in ms (ws with pingLoop), else null. */
  loopMaxMs(): number | null
  close(): Promise<void>
}

function startWs(config: LiveChildConfig, server: Server): Omit<LiveStarted, 'port'> {
  const wss = new WebSocketServer({ server, path: LIVE_PATH, perMessageDeflate: false })
  const burstItem = JSON.parse('{"room":"bench-room-01"}')
  wss.on('connection', (ws, req) => {
    let out = 0
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as { seq: number; data: unknown }
      ws.send(JSON.stringify({ seq: ++out, ack: m.seq, data: m.data }))
    })
    const burst = req.url?.includes('?burst=') ? Number(req.url.split('?burst=')[1]) : 0
    for (let i = 0; i < burst; i++) ws.send(JSON.stringify({ seq: ++out, data: burstItem }))
  })
  let loopMaxMs: number | null = null
  let timer: NodeJS.Timeout | null = null
  if (config.pingLoop) {
    loopMaxMs = 0
    // The naive heartbeat of ws's README: every interval, one loop over every connection.
    const alive = new WeakMap<object, boolean>()
    wss.on('connection', (ws) => {
      alive.set(ws, true)
      ws.on('pong', () => alive.set(ws, true))
    })
    timer = setInterval(() => {
      const t0 = performance.now()
      for (const ws of wss.clients) {
        if (alive.get(ws) === false) {
          ws.terminate()
          continue
        }
        alive.set(ws, false)
        ws.ping()
      }
      loopMaxMs = Math.max(loopMaxMs ?? 0, performance.now() - t0)
    }, config.heartbeatMs)
  }
  return {
    credentials: [],
    connections: () => wss.clients.size,
    loopMaxMs: () => loopMaxMs,
    close: closer(server, async () => {
      if (timer) clearInterval(timer)
      for (const ws of wss.clients) ws.terminate()
      wss.close()
    }),
  }
}

function startSocketIo(config: LiveChildConfig, server: Server): Omit<LiveStarted, 'port'> {
  const io = new SocketIoServer(server, {
    path: LIVE_PATH,
    transports: ['websocket'],
    serveClient: false,
    pingInterval: config.heartbeatMs,
    connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
  })
  io.on('connection', (socket) => {
    let out = 0
    socket.on('m', (m: { seq: number; data: unknown }) => {
      socket.emit('m', { seq: ++out, ack: m.seq, data: m.data })
    })
  })
  return {
    credentials: [],
    connections: () => io.engine.clientsCount,
    loopMaxMs: () => null,
    close: closer(server, async () => {
      io.disconnectSockets(true)
      await io.close()
    }),
  }
}

async function startParley(
  config: LiveChildConfig,
  server: Server,
): Promise<Omit<LiveStarted, 'port'>> {
  const store =
    config.target === 'parley-sqlite'
      ? new SqliteStore({ path: join(config.dataDir, 'parley.db') })
      : new MemoryStore()
  await store.init()
  const sessions = new Sessions({ store })
  const credentials = await inBatches(
    config.credentials,
    100,
    async (i) => (await sessions.create({ principal: principalOf(i) })).token,
  )
  const gateway = createLiveGateway({
    sessions,
    store: store.live(),
    origins: [LIVE_ORIGIN],
    limits: {
      heartbeatMs: config.heartbeatMs,
      // A load generator, not a person: lift the per-client frame rate (the others have none).
      maxFramesPerSecond: 1_000_000,
      frameBurst: 1_000_000,
    },
    // Every connection of the bench comes from 127.0.0.1.
    maxConnectionsPerAddress: 1_000_000,
    maxHandshakes: 100_000,
    ...(config.tickMs === null ? {} : { tickMs: config.tickMs }),
    onMessage(session, data) {
      const burst = (data as { burst?: unknown } | null)?.burst
      if (typeof burst === 'number') {
        for (let i = 0; i < burst; i++) void session.send({ room: 'bench-room-01' })
      } else {
        void session.send(data)
      }
    },
  })
  gateway.attach(server, { path: LIVE_PATH })
  return {
    credentials,
    connections: () => gateway.stats().connections,
    loopMaxMs: () => null,
    close: closer(server, async () => {
      await gateway.close()
      await store.close()
    }),
  }
}

/** Creates the target's server (and, for Parley, its sessions) and listens on a loopback port. */
export async function startLiveTarget(config: LiveChildConfig): Promise<LiveStarted> {
  const server = createServer((_req, res) => res.writeHead(404).end())
  const started =
    config.target === 'ws'
      ? startWs(config, server)
      : config.target === 'socketio'
        ? startSocketIo(config, server)
        : await startParley(config, server)
  return { ...started, port: await listen(server) }
}
