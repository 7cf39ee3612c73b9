/**
 * @module The live suite's clients, run in the parent process (never in a server's process):
 *
 * - one connection per kind, each as cheap as the others: a `ws` client for the ws baseline; a
 *   minimal raw-frame `parley.v1` client on the same `ws` library for Parley (hello with a session
 *   token, credit grants, pong, piggy-backed acks; a `msg` frame is recognised by its first bytes
 *   and counted without parsing, as the baseline's echoes are); socket.io-client for Socket.IO;
 * - `runRate`: N clients each keeping W messages in flight, the server echoing each;
 * - `holdMany`: N idle connections (answering heartbeats) for the memory and event-loop runs;
 * - `runResumes` / `runBursts`: the resume latency with 100 messages to replay, and its reference.
 */
import { performance } from 'node:perf_hooks'
import { io, type Socket } from 'socket.io-client'
import WebSocket from 'ws'
import { LiveClient } from '../src/client/index.ts'
import { LIVE_ORIGIN, LIVE_PATH, type LiveKind, PAYLOAD, PAYLOAD_JSON } from './live-protocol.ts'

/** What every client connection offers the loads. */
export interface Conn {
  /** Sends one message now (a Parley client without credit sends it when credit arrives). */
  send(): void
  /** Called for every application message received (an echo, or a burst/replayed message). */
  onMessage: () => void
  /** Heartbeats answered so far. */
  pings: number
  /** Set when the connection closed, with the close code (or an error's text). */
  closed: string | null
  close(): void
}

const WS_OPTIONS = { perMessageDeflate: false, origin: LIVE_ORIGIN } as const

/**
 * Which WebSocket client the raw clients (the ws baseline's and Parley's raw-frame one) use: the
 * `ws` library (default), or Node's global WebSocket (undici), which writes differently (see
 * docs/benchmarks.md). Both kinds of rows always use the same one.
 */
export type Transport = 'ws' | 'global'

/** One client socket, whichever library is under it. */
interface Sock {
  send(text: string): void
  /** Drops the connection (ws: without a close handshake); resolves once it is closed. */
  kill(): Promise<void>
}

interface SockHandlers {
  open(): void
  /** A text message: `isMsg` when it starts with `{"t":"msg"` (checked without decoding it all). */
  message(isMsg: boolean, text: () => string): void
  ping?(): void
  close(why: string): void
}

const MSG_PREFIX = '{"t":"msg"'

function dial(transport: Transport, url: string, protocols: string[], h: SockHandlers): Sock {
  if (transport === 'global') {
    const ws = new globalThis.WebSocket(url, protocols)
    let closed = false
    ws.addEventListener('open', () => h.open())
    ws.addEventListener('message', (ev) => {
      const text = ev.data as string
      h.message(text.startsWith(MSG_PREFIX), () => text)
    })
    ws.addEventListener('close', (ev) => {
      closed = true
      h.close(`close ${ev.code} ${ev.reason}`)
    })
    ws.addEventListener('error', () => h.close('error'))
    return {
      send: (text) => ws.send(text),
      kill() {
        if (closed) return Promise.resolve()
        const done = new Promise<void>((resolve) => ws.addEventListener('close', () => resolve()))
        ws.close()
        return done
      },
    }
  }
  const ws = new WebSocket(url, protocols, WS_OPTIONS)
  ws.once('open', () => h.open())
  ws.on('message', (raw: Buffer) => {
    h.message(raw.toString('latin1', 0, 10) === MSG_PREFIX, () => raw.toString())
  })
  if (h.ping) ws.on('ping', h.ping)
  ws.on('close', (code, reason) => h.close(`close ${code} ${reason.toString()}`))
  ws.on('error', (err) => h.close(err.message))
  return {
    send: (text) => ws.send(text),
    kill() {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve()
      const done = new Promise<void>((resolve) => ws.once('close', () => resolve()))
      ws.terminate()
      return done
    },
  }
}

/** The raw `ws` baseline client: `{"seq":n,"ack":m,"data":{...}}` out, echoes counted. */
class WsConn implements Conn {
  onMessage = () => {}
  pings = 0
  closed: string | null = null
  #outSeq = 0
  #inLast = 0
  sock: Sock | null = null
  send(): void {
    this.sock?.send(`{"seq":${++this.#outSeq},"ack":${this.#inLast},"data":${PAYLOAD_JSON}}`)
  }
  close(): void {
    void this.sock?.kill()
  }
}

function openWs(url: string, transport: Transport): Promise<WsConn> {
  return new Promise((resolve, reject) => {
    const conn = new WsConn()
    let opened = false
    conn.sock = dial(transport, url, [], {
      open: () => {
        opened = true
        resolve(conn)
      },
      message: () => conn.onMessage(),
      ping: () => conn.pings++,
      close: (why) => {
        conn.closed ??= why
        if (!opened) reject(new Error(why))
      },
    })
  })
}

/** Socket.IO: event `m` with `{seq, ack, data}` out, echoes counted. */
class SocketIoConn implements Conn {
  onMessage = () => {}
  pings = 0
  closed: string | null = null
  #outSeq = 0
  #inLast = 0
  readonly socket: Socket
  constructor(socket: Socket) {
    this.socket = socket
    socket.on('m', () => {
      this.#inLast++
      this.onMessage()
    })
    socket.io.engine.on('ping', () => this.pings++)
    socket.on('disconnect', (reason) => {
      this.closed ??= reason
    })
  }
  send(): void {
    this.socket.emit('m', { seq: ++this.#outSeq, ack: this.#inLast, data: PAYLOAD })
  }
  close(): void {
    this.socket.disconnect()
  }
}

function openSocketIo(port: number): Promise<SocketIoConn> {
  return new Promise((resolve, reject) => {
    const socket = io(`http://127.0.0.1:${port}`, {
      path: LIVE_PATH,
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      extraHeaders: { origin: LIVE_ORIGIN },
    })
    socket.once('connect', () => resolve(new SocketIoConn(socket)))
    socket.once('connect_error', reject)
  })
}

/**
 * Parley's client SDK (`LiveClient` from `parley/client`, on Node's global WebSocket, its outbox
 * in memory): the reference for what an application's own client costs. Heartbeats are answered
 * inside the SDK and not counted.
 */
class SdkConn implements Conn {
  onMessage = () => {}
  pings = 0
  closed: string | null = null
  readonly live: LiveClient
  constructor(live: LiveClient) {
    this.live = live
    live.on('message', () => this.onMessage())
    live.on('ended', (e) => {
      this.closed ??= `ended ${e.reason}`
    })
  }
  send(): void {
    this.live.send(PAYLOAD).catch((err: unknown) => {
      this.closed ??= err instanceof Error ? err.message : String(err)
    })
  }
  close(): void {
    void this.live.close()
  }
}

function openSdk(url: string, cred: string, i: number): Promise<SdkConn> {
  return new Promise((resolve, reject) => {
    const live = new LiveClient({ url, credential: () => cred, name: `bench-${i}`, credit: GRANT })
    const conn = new SdkConn(live)
    const offOpen = live.on('open', () => {
      offOpen()
      offEnded()
      resolve(conn)
    })
    const offEnded = live.on('ended', (e) => {
      offOpen()
      offEnded()
      reject(new Error(`ended before open: ${e.reason}`))
    })
    live.connect()
  })
}

/** What a client asks for in `hello`: a new session, or a resume. */
export type Hello = { cred: string } | { resume: { sid: string; token: string; last: number } }

/** Credit this client grants the server at the handshake, and again each time half is used. */
const GRANT = 4096

/**
 * A minimal `parley.v1` client (docs/protocol.md): hello, credit both ways, pong, acks
 * piggy-backed on every `msg` and `pong`. Full duplex, no calls, checkpoints or resyncs.
 */
export class ParleyConn implements Conn {
  onMessage = () => {}
  pings = 0
  closed: string | null = null
  sid = ''
  token = ''
  /** welcome.resumed and welcome.last of the last handshake. */
  resumed = false
  /** Highest contiguous server seq received (replayed ones included). */
  inLast = 0
  /** Application messages received on this connection. */
  received = 0
  /**
   * The highest ack this client may send (the resume measurement holds its ack back, so that a
   * pong in between cannot acknowledge what the server is to replay).
   */
  ackLimit = Number.POSITIVE_INFINITY
  /** The seq of the first `msg` after the handshake (to check a replay starts where it should). */
  firstSeq: number | null = null
  gaps = 0
  #outSeq = 0
  #credit = 0
  #owed = 0
  #sinceGrant = 0
  #ws: Sock | null = null

  private constructor(inLast: number) {
    this.inLast = inLast
  }

  /** Opens a connection, sends `hello`, resolves at `welcome`. */
  static open(
    url: string,
    hello: Hello,
    outSeq = 0,
    transport: Transport = 'ws',
  ): Promise<ParleyConn> {
    return new Promise((resolve, reject) => {
      const conn = new ParleyConn('resume' in hello ? hello.resume.last : 0)
      conn.#outSeq = outSeq
      let welcomed = false
      const ws = dial(transport, url, ['parley.v1'], {
        open: () => ws.send(JSON.stringify({ t: 'hello', ...hello, credit: GRANT })),
        message: (isMsg, text) => {
          if (isMsg) {
            if (conn.firstSeq === null) conn.firstSeq = Number(JSON.parse(text()).seq)
            conn.inLast++
            conn.received++
            if (++conn.#sinceGrant >= GRANT / 2) {
              ws.send(`{"t":"credit","n":${conn.#sinceGrant}}`)
              conn.#sinceGrant = 0
            }
            conn.onMessage()
            return
          }
          const f = JSON.parse(text()) as Record<string, unknown>
          switch (f.t) {
            case 'welcome':
              welcomed = true
              conn.sid = f.sid as string
              conn.token = f.token as string
              conn.resumed = f.resumed === true
              conn.#credit = f.credit as number
              resolve(conn)
              break
            case 'ping':
              conn.pings++
              ws.send(`{"t":"pong","n":${f.n},"ack":${conn.ack}}`)
              break
            case 'credit':
              conn.#credit += f.n as number
              while (conn.#owed > 0 && conn.#credit > 0) {
                conn.#owed--
                conn.send()
              }
              break
            case 'gap':
              conn.gaps++
              conn.inLast = f.to as number
              break
            case 'err':
              conn.closed ??= `err ${f.code} ${f.message}`
              break
            case 'bye':
              conn.closed ??= `bye ${f.reason}`
              break
          }
        },
        close: (why) => {
          conn.closed ??= why
          if (!welcomed) reject(new Error(`closed before welcome: ${conn.closed}`))
        },
      })
      conn.#ws = ws
    })
  }

  /** The cumulative ack sent with `msg` and `pong`. */
  get ack(): number {
    return Math.min(this.inLast, this.ackLimit)
  }

  get outSeq(): number {
    return this.#outSeq
  }

  send(): void {
    this.sendData(PAYLOAD_JSON)
  }

  /** Sends a `msg` with this JSON payload (or queues it for credit). */
  sendData(json: string): void {
    if (this.#credit <= 0) {
      this.#owed++
      return
    }
    this.#credit--
    this.#ws?.send(`{"t":"msg","seq":${++this.#outSeq},"ack":${this.ack},"data":${json}}`)
  }

  /** Drops the transport (with `ws`: without a close handshake, a lost connection). */
  terminate(): Promise<void> {
    return this.#ws?.kill() ?? Promise.resolve()
  }

  close(): void {
    void this.#ws?.kill()
  }
}

/** Where the clients connect, and with what. */
export interface Endpoint {
  kind: LiveKind
  port: number
  /** Session tokens (Parley): connection i uses credential i. */
  credentials: string[]
  /** Parley: connect with the SDK's LiveClient instead of the raw-frame client. */
  sdk?: boolean
  /** The raw clients' WebSocket library (default `ws`; heartbeats are counted only with `ws`). */
  transport?: Transport
}

const wsUrl = (port: number) => `ws://127.0.0.1:${port}${LIVE_PATH}`

/** Opens connection `i` of an endpoint. */
export function openConn(ep: Endpoint, i: number): Promise<Conn> {
  if (ep.kind === 'ws') return openWs(wsUrl(ep.port), ep.transport ?? 'ws')
  if (ep.kind === 'socketio') return openSocketIo(ep.port)
  const cred = ep.credentials[i]
  if (cred === undefined) return Promise.reject(new Error(`no credential for connection ${i}`))
  if (ep.sdk === true) return openSdk(wsUrl(ep.port), cred, i)
  return ParleyConn.open(wsUrl(ep.port), { cred }, 0, ep.transport ?? 'ws')
}

/** Connections that could be opened, the failures and the first failure's text. */
export interface Opened {
  conns: Conn[]
  failed: number
  firstError: string | null
  /** How long opening all of them took, in ms. */
  ms: number
}

/** Opens `n` connections, at most `concurrency` handshakes at a time. */
export async function openMany(ep: Endpoint, n: number, concurrency: number): Promise<Opened> {
  const t0 = performance.now()
  const conns: Conn[] = []
  let failed = 0
  let firstError: string | null = null
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      try {
        conns.push(await openConn(ep, i))
      } catch (err) {
        failed++
        firstError ??= err instanceof Error ? err.message : String(err)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  return { conns, failed, firstError, ms: performance.now() - t0 }
}

/** Closes every connection; resolves after a short pause for the closes to go out. */
export async function closeAll(conns: Conn[]): Promise<void> {
  for (const c of conns) {
    try {
      c.close()
    } catch {}
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

export function percentiles(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(samples).sort()
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
  }
}

export interface RateOptions {
  clients: number
  /** Messages each client keeps in flight. */
  window: number
  warmupS: number
  durationS: number
  /** Called between the warm-up and the measured window (starts the server's CPU window). */
  onMeasureStart(): Promise<void>
  /** Called at the end of the measured window (stops it). */
  onMeasureStop(): Promise<void>
}

export interface RateStats {
  clients: number
  window: number
  durationS: number
  /** Echoes delivered within the measured window. */
  echoes: number
  msgsPerS: number
  /** Round trip of a message (send to its echo), in ms. */
  p50Ms: number
  p99Ms: number
  /** CPU of this (client) process over the window, in cores. */
  clientCpu: number
  /** Connections that closed during the run, and the first reason. */
  dropped: number
  dropReason: string | null
  failed: number
  firstError: string | null
  setupMs: number
}

/**
 * N clients, each sending W messages at once and then one more for each echo it receives, for
 * the warm-up and then the measured window; counts the echoes received within the window.
 */
export async function runRate(ep: Endpoint, o: RateOptions): Promise<RateStats> {
  const opened = await openMany(ep, o.clients, o.clients)
  const { conns } = opened
  let running = true
  let recording = false
  let echoes = 0
  const rtts: number[] = []
  for (const conn of conns) {
    // Send times of the messages in flight, oldest first (each echo answers the oldest).
    const times = new Float64Array(o.window)
    let head = 0
    let tail = 0
    const sendOne = () => {
      times[tail++ % o.window] = performance.now()
      conn.send()
    }
    conn.onMessage = () => {
      const sentAt = times[head++ % o.window]!
      if (recording) {
        echoes++
        rtts.push(performance.now() - sentAt)
      }
      if (running) sendOne()
    }
    for (let i = 0; i < o.window; i++) sendOne()
  }
  await new Promise((resolve) => setTimeout(resolve, o.warmupS * 1000))
  await o.onMeasureStart()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  recording = true
  await new Promise((resolve) => setTimeout(resolve, o.durationS * 1000))
  recording = false
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  running = false
  await o.onMeasureStop()
  const drops = conns.filter((c) => c.closed !== null)
  await closeAll(conns)
  const { p50, p99 } = percentiles(rtts)
  return {
    clients: o.clients,
    window: o.window,
    durationS: wallMs / 1000,
    echoes,
    msgsPerS: (echoes * 1000) / wallMs,
    p50Ms: p50,
    p99Ms: p99,
    clientCpu: (cpu.user + cpu.system) / 1000 / wallMs,
    dropped: drops.length,
    dropReason: drops[0]?.closed ?? null,
    failed: opened.failed,
    firstError: opened.firstError,
    setupMs: Math.round(opened.ms),
  }
}

export interface ResumeStats {
  /** Time from opening the socket to the last of the `burst` messages, per resume, in ms. */
  samplesMs: number[]
  /** Resumes that did not deliver exactly the burst, from the right seq, resumed. */
  wrong: number
  firstWrong: string | null
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Resolves once `conn` has received `n` application messages since it opened (rejects after
 * `ms`). Counted by the connection itself: frames that arrive with `welcome` in one read are
 * handled before the caller of `open` runs again.
 */
function receive(conn: ParleyConn, n: number, ms: number): Promise<void> {
  if (conn.received >= n) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.onMessage = () => {}
      const missing = n - conn.received
      reject(new Error(`${missing} messages missing after ${ms} ms (${conn.closed ?? 'open'})`))
    }, ms)
    conn.onMessage = () => {
      if (conn.received >= n) {
        clearTimeout(timer)
        conn.onMessage = () => {}
        resolve()
      }
    }
  })
}

/**
 * Parley resumes, one at a time: per round, the client asks the server for `burst` messages
 * (`{"burst":N}`), receives them live (so they are committed and sent), drops the transport
 * without acknowledging them, and resumes with `last` = what it had acknowledged before: the
 * server must replay all `burst`. Measured: from opening the socket to the last replayed message.
 * `warmup` rounds first, not recorded. Sessions are used round-robin.
 */
export async function runResumes(
  ep: Endpoint,
  sessions: number,
  rounds: number,
  warmup: number,
  burst: number,
): Promise<ResumeStats> {
  const url = wsUrl(ep.port)
  let conns: ParleyConn[] = []
  for (let i = 0; i < sessions; i++) {
    const cred = ep.credentials[i]
    if (cred === undefined) throw new Error(`no credential for session ${i}`)
    conns.push(await ParleyConn.open(url, { cred }))
  }
  const stats: ResumeStats = { samplesMs: [], wrong: 0, firstWrong: null }
  for (let r = 0; r < warmup + rounds; r++) {
    const k = r % sessions
    const conn = conns[k]!
    const before = conn.inLast
    const where = `round ${r + 1}, session ${k + 1}`
    const got = receive(conn, conn.received + burst, 10_000).catch((err: unknown) => {
      throw new Error(`${where}, before the drop: ${(err as Error).message}`)
    })
    // Acknowledges everything received so far (piggy-backed), then asks for the burst.
    conn.sendData(`{"burst":${burst}}`)
    conn.ackLimit = before
    await got
    await conn.terminate()
    // Let the server notice the lost transport (a resume would otherwise supersede it).
    await sleep(5)
    const t0 = performance.now()
    const resumed = await ParleyConn.open(
      url,
      { resume: { sid: conn.sid, token: conn.token, last: before } },
      conn.outSeq,
    )
    await receive(resumed, burst, 10_000).catch((err: unknown) => {
      throw new Error(`${where}, the replay: ${(err as Error).message}`)
    })
    const ms = performance.now() - t0
    if (r >= warmup) stats.samplesMs.push(ms)
    const wrong = !resumed.resumed
      ? 'welcome.resumed is false'
      : resumed.firstSeq !== before + 1
        ? `the replay started at seq ${resumed.firstSeq}, not ${before + 1}`
        : resumed.gaps > 0
          ? `${resumed.gaps} gaps`
          : null
    if (wrong !== null && r >= warmup) {
      stats.wrong++
      stats.firstWrong ??= wrong
    }
    conns[k] = resumed
  }
  for (const c of conns) c.close()
  conns = []
  return stats
}

/**
 * The reference for the resume: a fresh raw `ws` connection to `/live?burst=N`, which the server
 * sends N messages at once; from opening the socket to the last message, one at a time.
 */
export async function runBursts(
  ep: Endpoint,
  rounds: number,
  warmup: number,
  burst: number,
): Promise<ResumeStats> {
  const stats: ResumeStats = { samplesMs: [], wrong: 0, firstWrong: null }
  for (let r = 0; r < warmup + rounds; r++) {
    const t0 = performance.now()
    const ws = new WebSocket(`${wsUrl(ep.port)}?burst=${burst}`, WS_OPTIONS)
    await new Promise<void>((resolve, reject) => {
      let left = burst
      ws.on('message', () => {
        if (--left === 0) resolve()
      })
      ws.once('error', reject)
    })
    const ms = performance.now() - t0
    if (r >= warmup) stats.samplesMs.push(ms)
    const closed = new Promise((resolve) => ws.once('close', resolve))
    ws.terminate()
    await closed
  }
  return stats
}
