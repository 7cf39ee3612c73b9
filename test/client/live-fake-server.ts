/**
 * @module A tiny `parley.v1` server for the live client's tests: `ws` on 127.0.0.1:0, one
 * server-side engine `Peer` per session, handshakes (new and resume, tokens rotating), bye, and
 * knobs to drop connections, refuse credentials, forget sessions and hold calls.
 */
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { type WebSocket, WebSocketServer, WebSocket as WsWebSocket } from 'ws'
import type { WebSocketConstructor } from '../../src/client/live-connection.ts'
import { Peer } from '../../src/live/engine/peer.ts'
import type { CallOutcome, PeerEvent } from '../../src/live/engine/types.ts'
import { decodeFrame, encodeFrame } from '../../src/live/protocol/codec.ts'
import type { DialogMode, Frame, JsonValue } from '../../src/live/protocol/frames.ts'
import { DEFAULT_LIMITS } from '../../src/live/protocol/limits.ts'

/** The client's WebSocket: Node's global one (Node 22+), else the `ws` one. */
export const TestWebSocket = ((globalThis as { WebSocket?: unknown }).WebSocket ??
  WsWebSocket) as unknown as WebSocketConstructor

export interface FakeSession {
  sid: string
  token: string
  peer: Peer
  ws: WebSocket | null
  /** Messages the server application received, in order. */
  received: JsonValue[]
  /** Calls the server application received (held ones wait in `held`). */
  calls: string[]
  held: Map<string, (outcome: CallOutcome) => void>
  /** Answers to the server's own calls. */
  results: CallOutcome[]
  ended: string | null
  resumes: number
}

export interface FakeServerOptions {
  heartbeatMs?: number
  resumeWindowMs?: number
  mode?: DialogMode
  /** The credential's expiry to announce in welcome. */
  exp?: () => number | undefined
}

const rand = () => randomBytes(12).toString('base64url')

export class FakeLiveServer {
  readonly wss: WebSocketServer
  readonly url: string
  readonly sessions = new Map<string, FakeSession>()
  readonly hellos: Frame[] = []
  readonly refreshes: string[] = []
  readonly #o: FakeServerOptions
  /** Methods held until the test answers them through `session.held`. */
  hold = new Set<string>()

  private constructor(wss: WebSocketServer, options: FakeServerOptions) {
    this.wss = wss
    this.#o = options
    this.url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/live`
    wss.on('connection', (ws) => this.#accept(ws))
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeLiveServer> {
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => (protocols.has('parley.v1') ? 'parley.v1' : false),
    })
    await new Promise<void>((resolve) => wss.once('listening', resolve))
    return new FakeLiveServer(wss, options)
  }

  /** The one session (most tests have one). */
  get only(): FakeSession {
    const [first] = this.sessions.values()
    if (first === undefined) throw new Error('no session yet')
    return first
  }

  /** Sends an application message from the server. */
  send(s: FakeSession, data: JsonValue): number {
    const r = s.peer.send(data)
    if (!r.ok) throw new Error(`server send refused: ${r.reason}`)
    this.flush(s)
    return r.seq
  }

  /** Calls a client method. */
  call(s: FakeSession, method: string, params?: JsonValue): string {
    const r = s.peer.call(method, params)
    if (!r.ok) throw new Error(r.reason)
    this.flush(s)
    return r.id
  }

  /** Drops the connection abruptly (no close frame: the client sees 1006). */
  drop(s: FakeSession): void {
    s.ws?.terminate()
    this.#detach(s)
  }

  /** Ends the session: bye with `reason`, close 4100. */
  end(s: FakeSession, reason: string): void {
    s.ended = reason
    this.#write(s.ws, { t: 'bye', reason } as Frame)
    s.ws?.close(4100, 'session_ended')
    this.#detach(s)
  }

  flush(s: FakeSession): void {
    const { frames } = s.peer.flush()
    if (s.ws === null) return
    for (const f of frames) this.#write(s.ws, f)
  }

  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate()
    return new Promise((resolve) => this.wss.close(() => resolve()))
  }

  #accept(ws: WebSocket): void {
    let session: FakeSession | null = null
    ws.on('message', (data) => {
      const decoded = decodeFrame(String(data))
      if (!decoded.ok) {
        ws.close(decoded.code)
        return
      }
      const frame = decoded.frame
      if (session === null) {
        session = this.#hello(ws, frame)
        return
      }
      this.#frame(session, ws, frame)
    })
    ws.on('close', () => {
      if (session !== null && session.ws === ws) this.#detach(session)
    })
  }

  #hello(ws: WebSocket, frame: Frame): FakeSession | null {
    this.hellos.push(frame)
    if (frame.t !== 'hello') {
      this.#fail(ws, 4202, 'hello first')
      return null
    }
    if (frame.resume !== undefined) {
      const s = this.sessions.get(frame.resume.sid)
      if (s === undefined || s.token !== frame.resume.token) {
        this.#fail(ws, 4103, 'resume token invalid')
        return null
      }
      if (s.ended !== null) {
        this.#write(ws, { t: 'bye', reason: s.ended } as Frame)
        ws.close(4100, 'session_ended')
        return null
      }
      if (s.ws !== null && s.ws !== ws) s.ws.close(4104, 'superseded')
      s.resumes++
      return this.#welcome(s, ws, frame.resume.last, frame.credit, true)
    }
    if (frame.cred === 'bad') {
      this.#fail(ws, 4101, 'credential invalid')
      return null
    }
    const events: PeerEvent[] = []
    const s: FakeSession = {
      sid: rand(),
      token: '',
      ws: null,
      received: [],
      calls: [],
      held: new Map(),
      results: [],
      ended: null,
      resumes: 0,
      peer: null as unknown as Peer,
    }
    s.peer = new Peer({
      side: 'server',
      clock: { now: () => Date.now() },
      limits: {
        replayMaxCount: 1024,
        replayMaxBytes: 1 << 20,
        replayMaxAgeMs: 120_000,
        maxPendingCalls: 64,
        maxCredit: 65_536,
        maxQueued: 1024,
      },
      policy: 'wait',
      mode: this.#o.mode ?? 'full',
      turn: (this.#o.mode ?? 'full') === 'full' ? null : 'client',
      onEvent: (e) => {
        events.push(e)
        queueMicrotask(() => this.#event(s, events))
      },
    })
    this.sessions.set(s.sid, s)
    return this.#welcome(s, ws, 0, frame.credit, false)
  }

  #welcome(
    s: FakeSession,
    ws: WebSocket,
    last: number,
    credit: number | undefined,
    resumed: boolean,
  ): FakeSession {
    s.ws = ws
    s.token = rand()
    const v = s.peer.attach(last, credit ?? 256, 256)
    if (v !== null) throw new Error(v.message)
    const exp = this.#o.exp?.()
    this.#write(ws, {
      t: 'welcome',
      sid: s.sid,
      token: s.token,
      resumed,
      last: s.peer.snapshot().inLast,
      mode: s.peer.mode,
      ...(s.peer.turn === null ? {} : { turn: s.peer.turn }),
      credit: 256,
      heartbeatMs: this.#o.heartbeatMs ?? 15_000,
      resumeWindowMs: this.#o.resumeWindowMs ?? DEFAULT_LIMITS.resumeWindowMs,
      maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes,
      maxPayloadBytes: DEFAULT_LIMITS.maxPayloadBytes,
      maxPendingCalls: 64,
      ...(exp === undefined ? {} : { exp }),
    })
    this.flush(s)
    return s
  }

  #frame(s: FakeSession, ws: WebSocket, frame: Frame): void {
    if (s.ws !== ws) return
    switch (frame.t) {
      case 'pong':
        return
      case 'refresh':
        this.refreshes.push(frame.cred)
        this.#write(ws, { t: 'refreshed', exp: this.#o.exp?.() })
        return
      case 'bye':
        this.flush(s)
        this.end(s, 'logout')
        return
      default: {
        const v = s.peer.receive(frame)
        if (v !== null) this.#fail(ws, v.code, v.message)
        else this.flush(s)
      }
    }
  }

  #event(s: FakeSession, events: PeerEvent[]): void {
    for (let e = events.shift(); e !== undefined; e = events.shift()) {
      if (e.type === 'message') s.received.push(e.data)
      else if (e.type === 'result') s.results.push(e.outcome)
      else if (e.type === 'checkpoint') s.peer.confirmCheckpoint(e.id)
      else if (e.type === 'resync') s.peer.resyncDone(e.n)
      else if (e.type === 'call') {
        const { id, method, params } = e
        s.calls.push(method)
        const answer = (outcome: CallOutcome) => {
          s.peer.answer(id, outcome)
          this.flush(s)
        }
        if (this.hold.has(method)) s.held.set(id, answer)
        else if (method === 'echo') answer({ ok: true, data: params ?? null })
        else answer({ ok: false, code: 'unknown_method', message: 'no such method' })
      }
    }
    this.flush(s)
  }

  #detach(s: FakeSession): void {
    s.ws = null
    if (s.peer.attached) s.peer.detach()
  }

  #fail(ws: WebSocket, code: number, message: string): void {
    this.#write(ws, { t: 'err', code, message })
    ws.close(code)
  }

  #write(ws: WebSocket | null, frame: Frame): void {
    if (ws !== null && ws.readyState === ws.OPEN) ws.send(encodeFrame(frame))
  }
}

/** Waits until `check` holds, polling I/O (never a protocol timeout: those run on the manual scheduler). */
export async function until(check: () => boolean, what = 'condition', ms = 5_000): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
