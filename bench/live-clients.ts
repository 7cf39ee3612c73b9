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

/** The raw `ws` baseline client: `{"seq":n,"ack":m,"data":{...}}` out, echoes counted. */
class WsConn implements Conn {
  onMessage = () => {}
  pings = 0
  closed: string | null = null
  #outSeq = 0
  #inLast = 0
  readonly ws: WebSocket
  constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', () => {
      this.#inLast++
      this.onMessage()
    })
    ws.on('ping', () => this.pings++)
    ws.on('close', (code) => {
      this.closed ??= `close ${code}`
    })
  }
  send(): void {
    this.ws.send(`{"seq":${++this.#outSeq},"ack":${this.#inLast},"data":${PAYLOAD_JSON}}`)
  }
  close(): void {
    this.ws.terminate()
  }
}

function openWs(url: string): Promise<WsConn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, WS_OPTIONS)
    ws.once('open', () => resolve(new WsConn(ws)))
    ws.once('error', reject)
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
  /** The seq of the first `msg` after the handshake (to check a replay starts where it should). */
  firstSeq: number | null = null
  gaps = 0
  #outSeq = 0
  #credit = 0
  #owed = 0
  #sinceGrant = 0
  #ws: WebSocket

  private constructor(ws: WebSocket, inLast: number) {
    this.#ws = ws
    this.inLast = inLast
  }

  /** Opens a connection, sends `hello`, resolves at `welcome`. */
  static open(url: string, hello: Hello, outSeq = 0): Promise<ParleyConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ['parley.v1'], WS_OPTIONS)
      const conn = new ParleyConn(ws, 'resume' in hello ? hello.resume.last : 0)
      conn.#outSeq = outSeq
      let welcomed = false
      ws.once('open', () => ws.send(JSON.stringify({ t: 'hello', ...hello, credit: GRANT })))
      ws.on('message', (raw: Buffer) => {
        if (raw.toString('latin1', 0, 10) === '{"t":"msg"') {
          if (conn.firstSeq === null) conn.firstSeq = Number(JSON.parse(raw.toString()).seq)
          conn.inLast++
          if (++conn.#sinceGrant >= GRANT / 2) {
            ws.send(`{"t":"credit","n":${conn.#sinceGrant}}`)
            conn.#sinceGrant = 0
          }
          conn.onMessage()
          return
        }
        const f = JSON.parse(raw.toString()) as Record<string, unknown>
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
            ws.send(`{"t":"pong","n":${f.n},"ack":${conn.inLast}}`)
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
      })
      ws.on('close', (code, reason) => {
        conn.closed ??= `close ${code} ${reason.toString()}`
        if (!welcomed) reject(new Error(`closed before welcome: ${conn.closed}`))
      })
      ws.on('error', (err) => {
        conn.closed ??= err.message
        if (!welcomed) reject(err)
      })
    })
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
    this.#ws.send(`{"t":"msg","seq":${++this.#outSeq},"ack":${this.inLast},"data":${json}}`)
  }

  /** Drops the transport without a close handshake (a lost connection). */
  terminate(): Promise<void> {
    const ws = this.#ws
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
    ws.terminate()
    return closed
  }

  close(): void {
    this.#ws.terminate()
  }
}

/** Where the clients connect, and with what. */
export interface Endpoint {
  kind: LiveKind
  port: number
  /** Session tokens (Parley): connection i uses credential i. */
  credentials: string[]
}

const wsUrl = (port: number) => `ws://127.0.0.1:${port}${LIVE_PATH}`

/** Opens connection `i` of an endpoint. */
export function openConn(ep: Endpoint, i: number): Promise<Conn> {
  if (ep.kind === 'ws') return openWs(wsUrl(ep.port))
  if (ep.kind === 'socketio') return openSocketIo(ep.port)
  const cred = ep.credentials[i]
  if (cred === undefined) return Promise.reject(new Error(`no credential for connection ${i}`))
  return ParleyConn.open(wsUrl(ep.port), { cred })
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

/** Resolves once `conn` has received `n` more application messages (rejects after `ms`). */
function receive(conn: Conn, n: number, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = n
    const timer = setTimeout(
      () =>
        reject(
          new Error(`${left} of ${n} messages missing after ${ms} ms (${conn.closed ?? 'open'})`),
        ),
      ms,
    )
    conn.onMessage = () => {
      if (--left === 0) {
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
    const got = receive(conn, burst, 10_000)
    // Acknowledges everything received so far (piggy-backed), then asks for the burst.
    conn.sendData(`{"burst":${burst}}`)
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
    await receive(resumed, burst, 10_000)
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
