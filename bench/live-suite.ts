/**
 * @module The live suite of `npm run bench`: Parley's live sessions (`parley.v1`, the gateway of
 * src/live/server/) next to a bare `ws` server and Socket.IO 4.8, in four parts, each server in
 * its own child (`live-server.ts`, forked with `--expose-gc`), the clients in this process
 * (`live-clients.ts`), every figure also a ratio to a baseline measured in the same run:
 *
 * 1. rate: N clients each keeping W ~100-byte JSON messages in flight, the server echoing each;
 *    delivered echoes per second; ws runs before the first row and after each one.
 * 2. memory: server RSS and heap growth (after full GCs) per idle session, at 5,000 sessions.
 * 3. resume: from opening the socket to the last of 100 replayed messages, one resume at a time.
 * 4. idle: `monitorEventLoopDelay` in a server holding 18,000 idle sessions while heartbeats run.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorText } from './child.ts'
import { ConfigError, log, numberFromEnv, type RunSettings } from './harness.ts'
import {
  closeAll,
  type Endpoint,
  openMany,
  percentiles,
  type RateStats,
  type ResumeStats,
  runBursts,
  runRate,
  runResumes,
  type Transport,
} from './live-clients.ts'
import {
  kindOf,
  type LiveChildConfig,
  type LiveChildMessage,
  type LiveParentMessage,
  type LiveTargetName,
  PAYLOAD_JSON,
} from './live-protocol.ts'
import {
  type Goal,
  goalOf,
  type IdleRow,
  idleTable,
  type MemoryRow,
  memoryTable,
  type RateRow,
  type ResumeRow,
  rateTable,
  resumeTable,
  type Status,
  targetLines,
} from './live-report.ts'
import type { SuiteOutcome } from './validate-suite.ts'

type Part = 'rate' | 'memory' | 'resume' | 'idle'

interface RowDef {
  /** The name in BENCH_ONLY. */
  name: string
  label: string
  part: Part
  target: LiveTargetName
  /** Parley: the clients are the SDK's LiveClient (default: the raw-frame client). */
  sdk?: boolean
  /** Runs only when BENCH_ONLY names it. */
  optIn?: boolean
  goals: Goal[]
}

/** Every row, in the order they run within their part; the first of each part is its baseline. */
export const LIVE_ROWS: RowDef[] = [
  { name: 'rate-ws', label: 'ws echo', part: 'rate', target: 'ws', goals: [] },
  {
    name: 'rate-parley-memory',
    label: 'parley live · memory',
    part: 'rate',
    target: 'parley-memory',
    goals: [{ what: 'msgs/s vs ws', bound: 'min', value: 0.85 }],
  },
  {
    name: 'rate-parley-sqlite',
    label: 'parley live · sqlite',
    part: 'rate',
    target: 'parley-sqlite',
    goals: [{ what: 'msgs/s vs ws', bound: 'min', value: 0.85 }],
  },
  {
    name: 'rate-parley-sdk',
    label: 'parley live · memory, LiveClient',
    part: 'rate',
    target: 'parley-memory',
    sdk: true,
    optIn: true,
    goals: [],
  },
  {
    name: 'rate-socketio',
    label: 'socket.io (recovery on)',
    part: 'rate',
    target: 'socketio',
    goals: [],
  },
  { name: 'memory-ws', label: 'ws', part: 'memory', target: 'ws', goals: [] },
  {
    name: 'memory-parley',
    label: 'parley live · memory',
    part: 'memory',
    target: 'parley-memory',
    goals: [
      { what: 'RSS vs ws', bound: 'max', value: 1.5 },
      { what: 'heap vs ws', bound: 'max', value: 1.5 },
    ],
  },
  {
    name: 'memory-socketio',
    label: 'socket.io (recovery on)',
    part: 'memory',
    target: 'socketio',
    goals: [],
  },
  {
    name: 'resume-ws',
    label: 'ws: connect + 100 msgs',
    part: 'resume',
    target: 'ws',
    goals: [],
  },
  {
    name: 'resume-parley-memory',
    label: 'parley resume · memory',
    part: 'resume',
    target: 'parley-memory',
    goals: [{ what: 'p99 ms', bound: 'max', value: 10 }],
  },
  {
    name: 'resume-parley-sqlite',
    label: 'parley resume · sqlite',
    part: 'resume',
    target: 'parley-sqlite',
    goals: [{ what: 'p99 ms', bound: 'max', value: 10 }],
  },
  {
    name: 'idle-ws',
    label: 'ws + naive ping loop',
    part: 'idle',
    target: 'ws',
    goals: [],
  },
  {
    name: 'idle-parley',
    label: 'parley live · memory',
    part: 'idle',
    target: 'parley-memory',
    goals: [{ what: 'p99 ms', bound: 'max', value: 20 }],
  },
]

/** The names BENCH_ONLY accepts for this suite (a part's baseline always runs with it). */
export const LIVE_NAMES: string[] = LIVE_ROWS.map((r) => r.name)

export interface LiveSettings {
  clients: number
  window: number
  idle: number
  memorySessions: number
  resumes: number
  idleHeartbeatMs: number
  /** The message-rate clients' WebSocket library (BENCH_LIVE_CLIENT). */
  transport: Transport
}

function transportFromEnv(): Transport {
  const raw = process.env.BENCH_LIVE_CLIENT?.trim() || 'ws'
  if (raw !== 'ws' && raw !== 'global') {
    throw new ConfigError(`BENCH_LIVE_CLIENT must be ws or global, not ${JSON.stringify(raw)}`)
  }
  return raw
}

export function liveSettings(run: RunSettings): LiveSettings {
  return {
    clients: run.connections,
    window: numberFromEnv('BENCH_LIVE_WINDOW', 16, 1, true),
    idle: numberFromEnv('BENCH_LIVE_IDLE', 18_000, 1, true),
    memorySessions: numberFromEnv('BENCH_LIVE_MEMORY_SESSIONS', 5000, 1, true),
    resumes: numberFromEnv('BENCH_LIVE_RESUMES', 200, 1, true),
    idleHeartbeatMs: numberFromEnv('BENCH_LIVE_HEARTBEAT_MS', 15_000, 1000, true),
    transport: transportFromEnv(),
  }
}

/** A live server child with a tail of its output, for when it dies. */
interface LiveChild {
  process: ChildProcess
  next<T extends LiveChildMessage['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<LiveChildMessage, { type: T }>>
  send(message: LiveParentMessage): void
  stop(): Promise<void>
}

/** BENCH_PROFILE=1: each server child writes a CPU profile of its whole life here. */
let profileDir: string | null = null

function startChild(config: LiveChildConfig): LiveChild {
  const child = fork(
    fileURLToPath(new URL('./live-server.ts', import.meta.url)),
    [JSON.stringify(config)],
    {
      execPath: process.execPath,
      execArgv: [
        '--expose-gc',
        ...(profileDir === null
          ? []
          : [
              '--cpu-prof',
              `--cpu-prof-dir=${profileDir}`,
              `--cpu-prof-name=${config.target}-${Date.now()}.cpuprofile`,
            ]),
      ],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  )
  let tail = ''
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-2000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  let exited: string | null = null
  child.on('exit', (code, signal) => {
    exited = `server process exited (${signal ?? `code ${code}`})`
  })
  const send = (message: LiveParentMessage) => {
    if (child.connected) child.send(message)
  }
  return {
    process: child,
    send,
    next(type, timeoutMs) {
      return new Promise((resolve, reject) => {
        const out = () => tail.trim().split('\n').filter(Boolean).slice(-3).join(' | ')
        if (exited !== null) {
          reject(new Error(`${exited}${out() ? `: ${out()}` : ''}`))
          return
        }
        const cleanup = () => {
          clearTimeout(timer)
          child.off('message', onMessage)
          child.off('exit', onExit)
        }
        const onMessage = (m: LiveChildMessage) => {
          if (m.type === 'failed') {
            cleanup()
            reject(new Error(m.reason))
          } else if (m.type === type) {
            cleanup()
            resolve(m as never)
          }
        }
        const onExit = () => {
          cleanup()
          reject(new Error(`${exited ?? 'server process exited'}${out() ? `: ${out()}` : ''}`))
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`no '${type}' from the server within ${timeoutMs} ms`))
        }, timeoutMs)
        child.on('message', onMessage)
        child.on('exit', onExit)
      })
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      send({ type: 'shutdown' })
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    },
  }
}

/** Busy and stolen CPU of the whole machine so far, in ms (all cores, all processes). */
function machineTimes(): { busyMs: number; stealMs: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
    const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)
    return { busyMs: busy * 10, stealMs: (steal ?? 0) * 10 }
  } catch {
    return { busyMs: 0, stealMs: 0 }
  }
}

/** BENCH_LIVE_TICK_MS: the gateway's timer-wheel resolution, for experiments (null: its default). */
let tickMs: number | null = null

/** BENCH_QUIET_WAIT: wait up to this many seconds for less than 0.2 cores busy before a server starts. */
let quietWaitS = 0

async function waitForQuiet(): Promise<void> {
  if (quietWaitS <= 0) return
  const until = Date.now() + quietWaitS * 1000
  let cores = 0
  do {
    const t0 = machineTimes()
    await new Promise((resolve) => setTimeout(resolve, 500))
    const t1 = machineTimes()
    cores = (t1.busyMs - t0.busyMs + t1.stealMs - t0.stealMs) / 500
    if (cores < 0.2) return
  } while (Date.now() < until)
  log(
    `  the machine is still busy (${cores.toFixed(2)} cores) after ${quietWaitS} s: measuring anyway`,
  )
}

/** A target's child, started with what the part needs; `run` gets its endpoint. */
async function withServer<T>(
  def: RowDef,
  options: { heartbeatMs: number; pingLoop: boolean; credentials: number; transport?: Transport },
  run: (child: LiveChild, ep: Endpoint, setupMs: number) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-live-'))
  const config: LiveChildConfig = {
    target: def.target,
    dataDir,
    heartbeatMs: options.heartbeatMs,
    pingLoop: options.pingLoop,
    credentials: kindOf(def.target) === 'parley' ? options.credentials : 0,
    tickMs,
  }
  await waitForQuiet()
  log(`· ${def.part} · ${def.label}: starting the server`)
  const child = startChild(config)
  try {
    const ready = await child.next('ready', 300_000)
    const ep: Endpoint = {
      kind: kindOf(def.target),
      port: ready.port,
      credentials: ready.credentials,
      sdk: def.sdk === true,
      transport: options.transport ?? 'ws',
    }
    return await run(child, ep, ready.setupMs)
  } finally {
    await child.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const failed = (err: unknown) => ({
  status: 'unavailable' as Status,
  reason: errorText(err),
})

// ---------------------------------------------------------------- 1. message rate

interface RateRun {
  def: RowDef
  label: string
  status: Status
  reason: string | null
  stats: RateStats | null
  serverCores: number | null
  serverElu: number | null
  cpuUsPerMsg: number | null
  otherCores: number | null
  stealCores: number | null
}

async function rateRun(def: RowDef, label: string, run: RunSettings, live: LiveSettings) {
  const result: RateRun = {
    def,
    label,
    status: 'ok',
    reason: null,
    stats: null,
    serverCores: null,
    serverElu: null,
    cpuUsPerMsg: null,
    otherCores: null,
    stealCores: null,
  }
  try {
    await withServer(
      def,
      {
        heartbeatMs: 15_000,
        pingLoop: false,
        credentials: live.clients,
        transport: live.transport,
      },
      async (child, ep) => {
        log(
          `  ${live.clients} clients × ${live.window} in flight: ${run.warmupS} s warm-up, ${run.durationS} s measured`,
        )
        let m0 = machineTimes()
        let cpu: Extract<LiveChildMessage, { type: 'cpu' }> | null = null
        const stats = await runRate(ep, {
          clients: live.clients,
          window: live.window,
          warmupS: run.warmupS,
          durationS: run.durationS,
          onMeasureStart: async () => {
            child.send({ type: 'cpu-start' })
            await child.next('cpu-started', 10_000)
            m0 = machineTimes()
          },
          onMeasureStop: async () => {
            const m1 = machineTimes()
            child.send({ type: 'cpu-stop' })
            cpu = await child.next('cpu', 10_000)
            const wallMs = cpu.wallMs
            const serverCores = (cpu.userUs + cpu.systemUs) / 1000 / wallMs
            result.serverCores = serverCores
            result.serverElu = cpu.elu
            result.stealCores = (m1.stealMs - m0.stealMs) / wallMs
            result.otherCores = Math.max(
              0,
              (m1.busyMs - m0.busyMs) / wallMs - serverCores - (result.stats?.clientCpu ?? 0),
            )
          },
        })
        result.stats = stats
        // The client's CPU is known only now: take it out of "other".
        if (result.otherCores !== null) {
          result.otherCores = Math.max(0, result.otherCores - stats.clientCpu)
        }
        const c = cpu as Extract<LiveChildMessage, { type: 'cpu' }> | null
        if (c !== null && stats.echoes > 0) {
          result.cpuUsPerMsg = (c.userUs + c.systemUs) / stats.echoes
        }
        if (stats.failed > 0 || stats.dropped > 0 || stats.echoes === 0) {
          result.status = 'invalid'
          result.reason =
            stats.failed > 0
              ? `${stats.failed} of ${live.clients} clients could not connect: ${stats.firstError}`
              : stats.dropped > 0
                ? `${stats.dropped} connections closed during the run: ${stats.dropReason}`
                : 'no echoes at all'
        }
      },
    )
  } catch (err) {
    Object.assign(result, failed(err))
  }
  log(
    result.stats
      ? `  ${Math.round(result.stats.msgsPerS).toLocaleString('en-US')} msgs/s, RTT p50 ${result.stats.p50Ms.toFixed(2)} ms, p99 ${result.stats.p99Ms.toFixed(2)} ms, server ${result.serverCores?.toFixed(2)} cores${result.status !== 'ok' ? `  ${result.status}: ${result.reason}` : ''}`
      : `  ${result.status}: ${result.reason}`,
  )
  return result
}

const isDisturbed = (r: RateRun) => (r.otherCores ?? 0) > 0.25 || (r.stealCores ?? 0) > 0.1

/** The mean of the clean ws runs around a row (a disturbed one left out if the other is clean). */
function rateBaseline(around: RateRun[]): { msgsPerS: number; p99: number; cpu: number } | null {
  const ok = around.filter((r) => r.status === 'ok' && r.stats !== null)
  const clean = ok.filter((r) => !isDisturbed(r))
  const use = clean.length > 0 ? clean : ok
  if (use.length === 0) return null
  const mean = (f: (r: RateRun) => number) => use.reduce((s, r) => s + f(r), 0) / use.length
  return {
    msgsPerS: mean((r) => r.stats!.msgsPerS),
    p99: mean((r) => r.stats!.p99Ms),
    cpu: mean((r) => r.cpuUsPerMsg ?? Number.NaN),
  }
}

async function ratePart(defs: RowDef[], run: RunSettings, live: LiveSettings) {
  const [base, ...others] = defs as [RowDef, ...RowDef[]]
  let n = 0
  const baseRun = () => rateRun(base, `${base.label} #${++n}`, run, live)
  const chronological: RateRun[] = []
  const baseRuns: RateRun[] = []
  let previous = await baseRun()
  chronological.push(previous)
  baseRuns.push(previous)
  const rows: RateRow[] = []
  const bracketed: { r: RateRun; around: RateRun[] }[] = []
  for (const def of others) {
    const r = await rateRun(def, def.label, run, live)
    chronological.push(r)
    const after = r.stats === null ? null : await baseRun()
    if (after !== null) {
      chronological.push(after)
      baseRuns.push(after)
    }
    bracketed.push({ r, around: after === null ? [previous] : [previous, after] })
    if (after !== null) previous = after
  }
  const overall = rateBaseline(baseRuns)
  rows.push({
    name: base.name,
    label: `${base.label}${baseRuns.length > 1 ? ` (mean of ${baseRuns.length})` : ''}`,
    status: overall === null ? (baseRuns[0]?.status ?? 'invalid') : 'ok',
    reason: overall === null ? (baseRuns.find((r) => r.reason)?.reason ?? null) : null,
    baseline: true,
    goals: [],
    disturbed: false,
    msgsPerS: overall?.msgsPerS ?? null,
    p50Ms: overall ? mean(baseRuns.filter((r) => r.stats).map((r) => r.stats!.p50Ms)) : null,
    p99Ms: overall?.p99 ?? null,
    cpuUsPerMsg: overall?.cpu ?? null,
    ratio: overall ? { msgsPerS: 1, p99: 1, cpuPerMsg: 1 } : null,
  })
  for (const { r, around } of bracketed) {
    const b = rateBaseline(around)
    const s = r.stats
    const ratio =
      b !== null && s !== null && r.status === 'ok'
        ? {
            msgsPerS: s.msgsPerS / b.msgsPerS,
            p99: s.p99Ms / b.p99,
            cpuPerMsg: (r.cpuUsPerMsg ?? Number.NaN) / b.cpu,
          }
        : null
    rows.push({
      name: r.def.name,
      label: r.label,
      status: r.status,
      reason: r.reason,
      baseline: false,
      goals: r.def.goals.map((g) => goalOf(g, ratio?.msgsPerS ?? null, r.status)),
      disturbed: isDisturbed(r),
      msgsPerS: s?.msgsPerS ?? null,
      p50Ms: s?.p50Ms ?? null,
      p99Ms: s?.p99Ms ?? null,
      cpuUsPerMsg: r.cpuUsPerMsg,
      ratio,
    })
  }
  return { rows, runs: chronological }
}

/** Each non-baseline run with the baseline runs just before and after it, in order. */
function bracketedOf(runs: RateRun[], base: RowDef): { r: RateRun; around: RateRun[] }[] {
  const out: { r: RateRun; around: RateRun[] }[] = []
  runs.forEach((r, i) => {
    if (r.def === base) return
    const before = runs[i - 1]
    const after = runs[i + 1]
    out.push({
      r,
      around: [before, after].filter((x) => x !== undefined && x.def === base) as RateRun[],
    })
  })
  return out
}

const mean = (xs: number[]) =>
  xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length

// ---------------------------------------------------------------- 2. memory per idle session

interface MemoryRun {
  def: RowDef
  status: Status
  reason: string | null
  sessions: number | null
  rssPerSession: number | null
  heapPerSession: number | null
  before: Extract<LiveChildMessage, { type: 'mem' }> | null
  after: Extract<LiveChildMessage, { type: 'mem' }> | null
  connectMs: number | null
}

async function memoryRun(def: RowDef, live: LiveSettings): Promise<MemoryRun> {
  const result: MemoryRun = {
    def,
    status: 'ok',
    reason: null,
    sessions: null,
    rssPerSession: null,
    heapPerSession: null,
    before: null,
    after: null,
    connectMs: null,
  }
  const n = live.memorySessions
  try {
    await withServer(
      def,
      // Every server keeps a heartbeat, as in production: ws its ping loop, at Parley's default.
      { heartbeatMs: 15_000, pingLoop: true, credentials: n },
      async (child, ep) => {
        child.send({ type: 'mem' })
        const before = await child.next('mem', 30_000)
        log(`  opening ${n} idle sessions`)
        const opened = await openMany(ep, n, 64)
        result.connectMs = Math.round(opened.ms)
        // Let the handshakes' garbage and the timers settle.
        await new Promise((resolve) => setTimeout(resolve, 1500))
        child.send({ type: 'mem' })
        const after = await child.next('mem', 60_000)
        const dropped = opened.conns.filter((c) => c.closed !== null)
        await closeAll(opened.conns)
        result.before = before
        result.after = after
        result.sessions = after.connections
        const held = after.connections - before.connections
        if (opened.failed > 0 || dropped.length > 0 || held !== n) {
          result.status = 'invalid'
          result.reason =
            opened.failed > 0
              ? `${opened.failed} of ${n} connections failed: ${opened.firstError}`
              : dropped.length > 0
                ? `${dropped.length} connections closed: ${dropped[0]?.closed}`
                : `the server holds ${held} connections, not ${n}`
        }
        if (held > 0) {
          result.rssPerSession = (after.rss - before.rss) / held
          result.heapPerSession =
            (after.heapUsed + after.external - before.heapUsed - before.external) / held
        }
      },
    )
  } catch (err) {
    Object.assign(result, failed(err))
  }
  log(
    result.rssPerSession !== null
      ? `  ${(result.rssPerSession / 1024).toFixed(2)} KiB RSS, ${((result.heapPerSession ?? 0) / 1024).toFixed(2)} KiB heap per session (${result.sessions} connections, opened in ${result.connectMs} ms)${result.status !== 'ok' ? `  ${result.status}: ${result.reason}` : ''}`
      : `  ${result.status}: ${result.reason}`,
  )
  return result
}

async function memoryPart(defs: RowDef[], live: LiveSettings) {
  const runs: MemoryRun[] = []
  for (const def of defs) runs.push(await memoryRun(def, live))
  const base = runs[0]!
  const baseOk = base.status === 'ok' && base.rssPerSession !== null
  const rows: MemoryRow[] = runs.map((r, i) => {
    const ratio =
      baseOk && r.rssPerSession !== null && r.heapPerSession !== null
        ? {
            rss: r.rssPerSession / base.rssPerSession!,
            heap: r.heapPerSession / base.heapPerSession!,
          }
        : null
    return {
      name: r.def.name,
      label: r.def.label,
      status: r.status,
      reason: r.reason,
      baseline: i === 0,
      goals: r.def.goals.map((g) =>
        goalOf(
          g,
          g.what.startsWith('RSS') ? (ratio?.rss ?? null) : (ratio?.heap ?? null),
          r.status,
        ),
      ),
      disturbed: false,
      sessions: r.sessions,
      rssPerSession: r.rssPerSession,
      heapPerSession: r.heapPerSession,
      ratio,
    }
  })
  return { rows, runs }
}

// ---------------------------------------------------------------- 3. resume latency

const BURST = 100
const RESUME_SESSIONS = 20
const RESUME_WARMUP = 20

interface ResumeRun {
  def: RowDef
  status: Status
  reason: string | null
  stats: ResumeStats | null
}

async function resumeRun(def: RowDef, live: LiveSettings): Promise<ResumeRun> {
  const result: ResumeRun = { def, status: 'ok', reason: null, stats: null }
  try {
    await withServer(
      def,
      { heartbeatMs: 15_000, pingLoop: false, credentials: RESUME_SESSIONS },
      async (_child, ep) => {
        log(`  ${live.resumes} rounds of ${BURST} messages after ${RESUME_WARMUP} unrecorded`)
        const stats =
          ep.kind === 'ws'
            ? await runBursts(ep, live.resumes, RESUME_WARMUP, BURST)
            : await runResumes(ep, RESUME_SESSIONS, live.resumes, RESUME_WARMUP, BURST)
        result.stats = stats
        if (stats.wrong > 0) {
          result.status = 'invalid'
          result.reason = `${stats.wrong} resumes went wrong: ${stats.firstWrong}`
        }
      },
    )
  } catch (err) {
    Object.assign(result, failed(err))
  }
  if (result.stats) {
    const p = percentiles(result.stats.samplesMs)
    log(`  p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, max ${p.max.toFixed(2)} ms`)
  } else log(`  ${result.status}: ${result.reason}`)
  return result
}

async function resumePart(defs: RowDef[], live: LiveSettings) {
  const runs: ResumeRun[] = []
  for (const def of defs) runs.push(await resumeRun(def, live))
  const pct = runs.map((r) => (r.stats ? percentiles(r.stats.samplesMs) : null))
  const base = pct[0]
  const rows: ResumeRow[] = runs.map((r, i) => {
    const p = pct[i] ?? null
    const ratio =
      p && base && runs[0]!.status === 'ok'
        ? { p50: p.p50 / base.p50, p99: p.p99 / base.p99 }
        : null
    return {
      name: r.def.name,
      label: r.def.label,
      status: r.status,
      reason: r.reason,
      baseline: i === 0,
      goals: r.def.goals.map((g) => goalOf(g, p?.p99 ?? null, r.status)),
      disturbed: false,
      resumes: r.stats?.samplesMs.length ?? null,
      p50Ms: p?.p50 ?? null,
      p99Ms: p?.p99 ?? null,
      maxMs: p?.max ?? null,
      ratio,
    }
  })
  return {
    rows,
    runs: runs.map((r, i) => ({ name: r.def.name, status: r.status, reason: r.reason, ...pct[i] })),
  }
}

// ---------------------------------------------------------------- 4. idle sessions, event-loop delay

interface IdleRun {
  def: RowDef
  status: Status
  reason: string | null
  eld: Extract<LiveChildMessage, { type: 'eld' }> | null
  pingShare: number | null
  connectMs: number | null
  windowMs: number
}

async function idleRun(def: RowDef, live: LiveSettings): Promise<IdleRun> {
  const hb = live.idleHeartbeatMs
  // At least two heartbeat intervals, measured once every session is open and settled.
  const windowMs = Math.round(2.5 * hb)
  const result: IdleRun = {
    def,
    status: 'ok',
    reason: null,
    eld: null,
    pingShare: null,
    connectMs: null,
    windowMs,
  }
  const n = live.idle
  try {
    await withServer(
      def,
      { heartbeatMs: hb, pingLoop: def.target === 'ws', credentials: n },
      async (child, ep) => {
        log(`  opening ${n} idle sessions (heartbeat every ${hb} ms)`)
        const opened = await openMany(ep, n, 128)
        result.connectMs = Math.round(opened.ms)
        log(`  ${opened.conns.length} open in ${result.connectMs} ms; measuring ${windowMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 2000))
        const pings0 = opened.conns.reduce((s, c) => s + c.pings, 0)
        child.send({ type: 'eld-start' })
        await child.next('eld-started', 10_000)
        await new Promise((resolve) => setTimeout(resolve, windowMs))
        child.send({ type: 'eld-stop' })
        const eld = await child.next('eld', 30_000)
        const pings = opened.conns.reduce((s, c) => s + c.pings, 0) - pings0
        const dropped = opened.conns.filter((c) => c.closed !== null)
        result.eld = eld
        result.pingShare = pings / (opened.conns.length * (windowMs / hb))
        // The server goes first, so that its side holds the closed connections' TIME_WAIT.
        await child.stop()
        await closeAll(opened.conns)
        if (opened.failed > 0 || dropped.length > 0) {
          result.status = 'invalid'
          result.reason =
            opened.failed > 0
              ? `${opened.failed} of ${n} connections failed: ${opened.firstError}`
              : `${dropped.length} connections closed: ${dropped[0]?.closed}`
        } else if (pings < 0.9 * opened.conns.length * Math.floor(windowMs / hb)) {
          // A loop that pings everyone at once sends 2 or 3 rounds in 2.5 intervals: ask for 2.
          result.status = 'invalid'
          result.reason = `the clients received only ${(result.pingShare * 100).toFixed(0)}% of the expected heartbeats`
        }
      },
    )
  } catch (err) {
    Object.assign(result, failed(err))
  }
  log(
    result.eld
      ? `  event-loop delay p50 ${result.eld.p50Ms.toFixed(2)} ms, p99 ${result.eld.p99Ms.toFixed(2)} ms, max ${result.eld.maxMs.toFixed(1)} ms; server ${result.eld.cores.toFixed(3)} cores${result.eld.loopMaxMs !== null ? `; longest ping sweep ${result.eld.loopMaxMs.toFixed(1)} ms` : ''}${result.status !== 'ok' ? `  ${result.status}: ${result.reason}` : ''}`
      : `  ${result.status}: ${result.reason}`,
  )
  return result
}

async function idlePart(defs: RowDef[], live: LiveSettings) {
  const runs: IdleRun[] = []
  for (const def of defs) runs.push(await idleRun(def, live))
  const base = runs[0]!.eld
  const rows: IdleRow[] = runs.map((r, i) => ({
    name: r.def.name,
    label: r.def.label,
    status: r.status,
    reason: r.reason,
    baseline: i === 0,
    goals: r.def.goals.map((g) => goalOf(g, r.eld?.p99Ms ?? null, r.status)),
    disturbed: false,
    connections: r.eld?.connections ?? null,
    p50Ms: r.eld?.p50Ms ?? null,
    p99Ms: r.eld?.p99Ms ?? null,
    maxMs: r.eld?.maxMs ?? null,
    serverCores: r.eld?.cores ?? null,
    pingShare: r.pingShare,
    ratio: r.eld && base && runs[0]!.status === 'ok' ? { p99: r.eld.p99Ms / base.p99Ms } : null,
  }))
  return { rows, runs }
}

// ---------------------------------------------------------------- the suite

/** Runs the parts of the given rows (each part with its baseline), in order. */
export async function runLiveSuite(
  run: RunSettings,
  live: LiveSettings,
  only: string[] | null,
): Promise<SuiteOutcome> {
  profileDir = run.profile ? run.profileDir : null
  quietWaitS = run.quietWaitS
  tickMs = process.env.BENCH_LIVE_TICK_MS ? numberFromEnv('BENCH_LIVE_TICK_MS', 100, 1, true) : null
  const machine = `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown cpu'}), node ${process.version}`
  log(`Parley bench: live sessions (parley.v1 vs ws and Socket.IO) — ${machine}`)
  const partRows = (part: Part) => {
    const all = LIVE_ROWS.filter((r) => r.part === part)
    if (only === null) return all.filter((r) => r.optIn !== true)
    const picked = all.filter((r, i) => i > 0 && only.includes(r.name))
    return picked.length > 0 || only.includes(all[0]!.name) ? [all[0]!, ...picked] : []
  }
  const out: string[] = []
  const json: Record<string, unknown> = {
    settings: {
      ...live,
      durationS: run.durationS,
      warmupS: run.warmupS,
      payloadBytes: PAYLOAD_JSON.length,
    },
  }
  const allRows: { status: Status }[] = []
  const targets: string[] = []

  const rateDefs = partRows('rate')
  if (rateDefs.length > 0) {
    const { rows, runs } = await ratePart(rateDefs, run, live)
    out.push(
      '',
      `Message rate: ${live.clients} clients, each keeping ${live.window} messages of ${PAYLOAD_JSON.length} bytes of JSON in flight, the server echoing each — ${run.durationS} s measured after ${run.warmupS} s warm-up; ${machine}`,
      '',
      rateTable(rows),
      '',
      'msgs/s: echoes delivered to the clients per second. Each row is compared with the mean of the ws runs just before and after',
      'it (a disturbed one left out when the other is clean). RTT: a message sent to its echo received. CPU: the server process only.',
      '',
      'Runs, in order:',
      ...runs.map(
        (r) =>
          `  ${r.label}: ${r.stats ? `${Math.round(r.stats.msgsPerS).toLocaleString('en-US')} msgs/s, ` : ''}server ${r.serverCores?.toFixed(2) ?? '—'} cores (loop ${r.serverElu === null ? '—' : `${(r.serverElu * 100).toFixed(0)}%`}), client ${r.stats?.clientCpu.toFixed(2) ?? '—'} cores, other ${r.otherCores?.toFixed(2) ?? '—'}, steal ${r.stealCores?.toFixed(2) ?? '—'}${r.status === 'ok' ? '' : `; ${r.status}: ${r.reason}`}`,
      ),
    )
    for (const { r, around } of bracketedOf(runs, rateDefs[0]!)) {
      const [a, b] = around
      if (a?.stats && b?.stats) {
        const d =
          Math.abs(a.stats.msgsPerS - b.stats.msgsPerS) /
          ((a.stats.msgsPerS + b.stats.msgsPerS) / 2)
        if (d > 0.1) {
          out.push(
            `!! the ws runs around ${r.label} differ by ${(d * 100).toFixed(0)}% in msgs/s: the machine is noisy, so its ratio is uncertain by about as much`,
          )
        }
      }
    }
    const starved = runs.filter(
      (r) => r.def === rateDefs[0] && r.serverCores !== null && r.serverCores < 0.85,
    )
    for (const r of starved) {
      out.push(
        `!! ${r.label}: the ws server used only ${r.serverCores!.toFixed(2)} cores (loop ${((r.serverElu ?? 0) * 100).toFixed(0)}%): ${(r.serverElu ?? 0) < 0.8 ? 'it waited for the clients, so the ratios flatter the others' : 'it was starved of CPU'}`,
      )
    }
    allRows.push(...rows)
    targets.push(...targetLines(rows))
    json.rate = { rows, runs }
  }

  const memDefs = partRows('memory')
  if (memDefs.length > 0) {
    const { rows, runs } = await memoryPart(memDefs, live)
    out.push(
      '',
      `Memory per idle session: server RSS and heap (heapUsed + external) growth after two full GCs, divided by the ${live.memorySessions} sessions held`,
      '',
      memoryTable(rows),
    )
    allRows.push(...rows)
    targets.push(...targetLines(rows))
    json.memory = { rows, runs }
  }

  const resumeDefs = partRows('resume')
  if (resumeDefs.length > 0) {
    const { rows, runs } = await resumePart(resumeDefs, live)
    out.push(
      '',
      `Resume latency with ${BURST} messages to replay: from opening the socket to the last replayed message, ${live.resumes} resumes one at a time (${RESUME_SESSIONS} sessions round-robin)`,
      '',
      resumeTable(rows),
      '',
      `The ws row is a reference, not a resume: a new connection that the server sends ${BURST} messages at once.`,
    )
    allRows.push(...rows)
    targets.push(...targetLines(rows))
    json.resume = { rows, runs }
  }

  const idleDefs = partRows('idle')
  if (idleDefs.length > 0) {
    const { rows, runs } = await idlePart(idleDefs, live)
    out.push(
      '',
      `Event-loop delay with ${live.idle} idle sessions in one server process, heartbeats every ${live.idleHeartbeatMs} ms, measured over ${Math.round(2.5 * live.idleHeartbeatMs)} ms (monitorEventLoopDelay, 10 ms resolution); the clients in another process`,
      '',
      idleTable(rows),
      '',
      "ws: every connection pinged from one setInterval (ws's README heartbeat); pings answered: heartbeats the clients received per connection and interval.",
      ...runs
        .filter((r) => r.eld?.loopMaxMs !== null && r.eld?.loopMaxMs !== undefined)
        .map(
          (r) =>
            `  ${r.def.label}: the longest sweep over every connection took ${r.eld!.loopMaxMs!.toFixed(1)} ms`,
        ),
    )
    allRows.push(...rows)
    targets.push(...targetLines(rows))
    json.idle = { rows, runs }
  }

  if (targets.length > 0) out.push('', 'Targets:', ...targets)
  return {
    text: out.join('\n'),
    invalid: allRows.some((r) => r.status === 'invalid'),
    json,
  }
}
