/**
 * @module The live-session gateway: the server side of `parley.v1` over WebSocket, as a library
 * that attaches to any node:http server (Fastify and Express expose theirs).
 */

import { randomInt } from 'node:crypto'
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import type { EndReason } from '../../core/session.ts'
import { originSet } from '../../http/csrf.ts'
import { type JsonValue, SUBPROTOCOL } from '../protocol/index.ts'
import { checkUpgrade, refuseUpgrade, resolveCookieOption } from './auth.ts'
import { Connection } from './connection.ts'
import { GatewayCore } from './core.ts'
import { LiveSendError } from './errors.ts'
import { onMessage } from './inbound.ts'
import { TokenBucket } from './rate-limiter.ts'
import type { LiveGatewayOptions, LiveGatewayStats, LiveSessionHandle } from './types.ts'

/** How long `close()` waits for clients to answer the close handshake before cutting them. */
const CLOSE_GRACE_MS = 1_000

/** The gateway's public face. */
export interface LiveGateway {
  /** Handles one upgrade request (call it from your own `upgrade` listener). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Listens to `upgrade` on `server` for `path` only (default `/live`); returns a detach function. */
  attach(server: Server, options?: { path?: string }): () => void
  /** Sends a message on a live session held here (see `LiveSessionHandle.send`). */
  send(liveId: string, data: JsonValue): Promise<number>
  /** A live session held here, open or suspended. */
  get(liveId: string): LiveSessionHandle | undefined
  /** The live sessions of a Parley session held here. */
  sessionsOf(sessionId: string): LiveSessionHandle[]
  /** Ends a live session (bye + 4100); false when it is not held here. */
  end(liveId: string, reason: EndReason): Promise<boolean>
  /**
   * Drains: every connection gets `err` 4000 with a random `retryMs` in [0, drainMs] and is
   * closed (its session is committed as suspended, for a resume elsewhere); then timers stop.
   */
  close(options?: { drainMs?: number }): Promise<void>
  stats(): LiveGatewayStats
}

/**
 * Creates a live gateway.
 *
 * @example
 * const gateway = createLiveGateway({
 *   sessions, store: store.live(), origins: ['https://app.example'],
 *   onMessage: (session, data) => session.send({ echo: data }),
 *   methods: { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) },
 * })
 * gateway.attach(server, { path: '/live' })
 */
export function createLiveGateway(options: LiveGatewayOptions): LiveGateway {
  const core = new GatewayCore(options)
  const origins = originSet(options.origins)
  const cookie = resolveCookieOption(options.cookie)
  const maxHandshakes = options.maxHandshakes ?? 1024
  const maxPerAddress = options.maxConnectionsPerAddress ?? 256
  const addressOf = options.addressOf ?? ((req: IncomingMessage) => req.socket.remoteAddress ?? '')
  const wss = new WebSocketServer({
    noServer: true,
    // Twice the frame limit: frames a little over it reach the codec and get the documented
    // 4206; ws itself refuses (1009) beyond, so memory stays bounded either way.
    maxPayload: core.limits.maxFrameBytes * 2,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  })
  const detachers = new Set<() => void>()
  let unwatch: Promise<(() => Promise<void>) | null> = Promise.resolve(null)
  const watch = options.sessions.store.watch
  if (watch !== undefined) {
    unwatch = watch
      .call(options.sessions.store, (change) => {
        if (change.type === 'invalidate') void core.recheck(change.id)
        else {
          if (change.type === 'link') core.feedUp = change.up
          core.recheckAll()
        }
      })
      .then((stop) => {
        core.feedUp = true
        return stop
      })
      .catch((err: unknown) => {
        core.logger?.error?.({ err }, 'live: session change feed unavailable')
        return null
      })
  }
  core.wheel.start()

  function accept(ws: WebSocket, req: IncomingMessage, cookieToken: string | null): void {
    const now = core.clock.now()
    const l = core.limits
    const conn = new Connection(
      ws,
      {
        address: addressOf(req),
        cookieToken,
        bucket: new TokenBucket(l.maxFramesPerSecond, l.frameBurst, core.clock),
        now,
        maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
      },
      core,
    )
    core.connections.add(conn)
    core.registry.handshakes++
    ws.on('message', (data) => onMessage(core, conn, data))
    ws.on('close', (code) => conn.lost(code))
    ws.on('error', () => conn.lost(1006))
    if (core.registry.addresses.add(conn.address) > maxPerAddress) {
      conn.fail(4004, 'too many connections from this address')
      return
    }
    if (ws.protocol !== SUBPROTOCOL) {
      conn.fail(4208, 'parley.v1 was not negotiated')
      return
    }
    conn.timer = core.wheel.schedule(now + l.handshakeTimeoutMs, () => {
      if (conn.phase === 'handshaking' || conn.phase === 'hello')
        conn.fail(4002, 'no valid hello in time')
    })
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (core.closing || core.registry.handshakes >= maxHandshakes) {
      refuseUpgrade(socket, 503)
      return
    }
    const verdict = checkUpgrade(req, origins, cookie)
    if (!verdict.ok) {
      core.logger?.info?.(
        { status: verdict.status, reason: verdict.reason },
        'live: upgrade refused',
      )
      refuseUpgrade(socket, verdict.status)
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, verdict.cookieToken))
  }

  function held(liveId: string) {
    const live = core.registry.get(liveId)
    return live === undefined || live.state === 'ended' ? undefined : live
  }

  return {
    handleUpgrade,
    attach(server, { path = '/live' } = {}) {
      const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const url = req.url ?? ''
        const q = url.indexOf('?')
        if ((q === -1 ? url : url.slice(0, q)) === path) handleUpgrade(req, socket, head)
      }
      server.on('upgrade', listener)
      const detach = () => {
        server.off('upgrade', listener)
        detachers.delete(detach)
      }
      detachers.add(detach)
      return detach
    },
    send(liveId, data) {
      const live = held(liveId)
      if (live === undefined)
        return Promise.reject(new LiveSendError('ended', 'no such live session here'))
      return live.handle.send(data)
    },
    get: (liveId) => held(liveId)?.handle,
    sessionsOf: (sessionId) => core.registry.bySession(sessionId).map((l) => l.handle),
    async end(liveId, reason) {
      const live = held(liveId)
      if (live === undefined) return false
      await core.endLive(live, reason)
      return true
    },
    async close({ drainMs = 0 } = {}) {
      core.closing = true
      for (const detach of [...detachers]) detach()
      const spread = Math.max(0, Math.min(drainMs, 3_600_000))
      for (const conn of [...core.connections]) {
        if (conn.phase === 'open' || conn.phase === 'closing')
          conn.fail(4000, 'the server is draining', randomInt(Math.max(1, spread)))
        else conn.close(4000)
      }
      await core.flusher.settle()
      core.wheel.stop()
      const stop = await unwatch
      await stop?.()
      // A client that stopped reading never answers the close handshake: past a short grace,
      // its socket is cut (its session was committed as suspended and resumes elsewhere).
      const closed = new Promise<void>((resolve) => wss.close(() => resolve()))
      let grace: NodeJS.Timeout | undefined
      await Promise.race([
        closed,
        new Promise<void>((resolve) => {
          grace = setTimeout(resolve, CLOSE_GRACE_MS)
          grace.unref()
        }),
      ])
      clearTimeout(grace)
      for (const ws of wss.clients) ws.terminate()
      await closed
    },
    stats() {
      let suspended = 0
      let open = 0
      for (const live of core.registry.all()) {
        if (live.state === 'suspended') suspended++
        else if (live.conn !== null) open++
      }
      return { connections: open, suspended, handshakes: core.registry.handshakes }
    },
  }
}
