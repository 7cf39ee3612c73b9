/**
 * @module `npm run bench`: the validate call (`POST /v1/sessions/validate`) on each store next to a
 * bare node:http server answering the same-sized JSON. Each server runs in a child process
 * (`server.ts`), the load generator (autocannon) here. Prints the figures with their ratios to the
 * baseline and the targets, and writes them to `.bench/results.json`. See docs/benchmarks.md.
 *
 * Environment:
 * - BENCH_DURATION: seconds measured per run (default 8); BENCH_WARMUP: seconds before (default 2)
 * - BENCH_CONNECTIONS (default 50); BENCH_TOKENS: sessions rotated across requests (default 1000)
 * - BENCH_ONLY: e.g. `memory,sqlite` (the bare baseline always runs)
 * - BENCH_REDIS_URL, BENCH_POSTGRES_URL: the external stores
 * - BENCH_PROFILE=1: profile each server over its measured run into `.bench/profiles/` (summarise
 *   one with `node bench/profile.ts <file>`); profiling slows the servers, so figures differ
 * - BENCH_QUIET_WAIT: before each run, wait up to this many seconds for the machine to be idle
 *   (default 0; for shared machines)
 */
import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ExternalProbe, postgresProbe, redisProbe, taggedPostgresUrl } from './externals.ts'
import { type LoadStats, runLoad } from './load.ts'
import type { ChildConfig, ChildMessage, ParentMessage, TargetName } from './protocol.ts'
import { VALIDATE_PATH } from './protocol.ts'
import {
  baselineOf,
  diagnosticsTable,
  isDisturbed,
  mainTable,
  type Row,
  rowOf,
  type ServerCpu,
  type TargetResult,
} from './report.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT_DIR = join(ROOT, '.bench')

interface TargetDef {
  name: TargetName
  label: string
  /** Validate's req/s must reach this share of bare node:http's; null: no target. */
  minRpsRatio: number | null
}

const STORES: TargetDef[] = [
  { name: 'memory', label: 'validate · memory', minRpsRatio: 0.5 },
  { name: 'sqlite', label: 'validate · sqlite', minRpsRatio: 0.5 },
  { name: 'redis', label: 'validate · redis', minRpsRatio: 0.45 },
  { name: 'redis-cache', label: 'validate · redis + cache', minRpsRatio: 0.45 },
  { name: 'postgres', label: 'validate · postgres', minRpsRatio: null },
]

class ConfigError extends Error {}

function numberFromEnv(name: string, fallback: number, min: number, integer: boolean): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new ConfigError(
      `${name} must be ${integer ? 'a whole number' : 'a number'} >= ${min}, not ${JSON.stringify(raw)}`,
    )
  }
  return n
}

function readSettings() {
  const only = process.env.BENCH_ONLY?.trim()
  let stores = STORES
  if (only) {
    const names = only
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
    const unknown = names.filter((n) => n !== 'bare' && !STORES.some((s) => s.name === n))
    if (unknown.length > 0) {
      throw new ConfigError(
        `BENCH_ONLY: unknown ${unknown.join(', ')} (choose from ${STORES.map((s) => s.name).join(', ')})`,
      )
    }
    stores = STORES.filter((s) => names.includes(s.name))
  }
  return {
    durationS: numberFromEnv('BENCH_DURATION', 8, 1, false),
    warmupS: numberFromEnv('BENCH_WARMUP', 2, 0, false),
    connections: numberFromEnv('BENCH_CONNECTIONS', 50, 1, true),
    tokens: numberFromEnv('BENCH_TOKENS', 1000, 1, true),
    stores,
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    postgresUrl: process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    profile: process.env.BENCH_PROFILE === '1',
    quietWaitS: numberFromEnv('BENCH_QUIET_WAIT', 0, 0, false),
  }
}

type Settings = ReturnType<typeof readSettings>

/** A forked server child with a tail of its output, for when it dies. */
interface Child {
  process: ChildProcess
  /** The next message of this type (or rejects when the child exits or `timeoutMs` passes). */
  next<T extends ChildMessage['type']>(
    type: T | 'failed',
    timeoutMs: number,
  ): Promise<Extract<ChildMessage, { type: T | 'failed' }>>
  send(message: ParentMessage): void
}

function startChild(config: ChildConfig): Child {
  const child = fork(
    fileURLToPath(new URL('./server.ts', import.meta.url)),
    [JSON.stringify(config)],
    {
      execPath: process.execPath,
      execArgv: [],
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
  return {
    process: child,
    send: (message) => {
      if (child.connected) child.send(message)
    },
    next(type, timeoutMs) {
      return new Promise((resolve, reject) => {
        if (exited !== null) {
          reject(new Error(exited))
          return
        }
        const cleanup = () => {
          clearTimeout(timer)
          child.off('message', onMessage)
          child.off('exit', onExit)
        }
        const onMessage = (m: ChildMessage) => {
          if (m.type === type || m.type === 'failed') {
            cleanup()
            resolve(m as never)
          }
        }
        const onExit = () => {
          cleanup()
          const out = tail.trim().split('\n').filter(Boolean).slice(-3).join(' | ')
          reject(new Error(`${exited ?? 'server process exited'}${out ? `: ${out}` : ''}`))
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`no '${type}' from the server within ${timeoutMs} ms`))
        }, timeoutMs)
        child.on('message', onMessage)
        child.on('exit', onExit)
      })
    },
  }
}

async function stopChild(child: Child): Promise<void> {
  const proc = child.process
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  child.send({ type: 'shutdown' })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** One validate request by hand: what a failing server says. */
async function sampleResponse(port: number, apiKey: string, token: string): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${VALIDATE_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
      signal: AbortSignal.timeout(5000),
    })
    return `${res.status} ${(await res.text()).slice(0, 200)}`
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}

function failureOf(load: LoadStats): string | null {
  const failed = load.non2xx + load.errors
  if (load.responses === 0) return 'no responses at all'
  if (failed === 0) return null
  const codes = Object.entries(load.statuses)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${n} × ${code}`)
  if (load.errors > 0)
    codes.push(`${load.errors} errors${load.timeouts > 0 ? ` (${load.timeouts} timeouts)` : ''}`)
  return `${failed} of ${load.responses + load.errors} requests failed: ${codes.join(', ')}`
}

/**
 * CPU time of the whole machine so far (all cores, all processes), in ms: busy (user, nice,
 * system, irq, softirq) and stolen by the hypervisor (null where /proc/stat is missing).
 */
function machineTimes(): { busyMs: number; stealMs: number | null } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
    const hz = 100 // USER_HZ, 100 on Linux
    const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)
    return { busyMs: (busy * 1000) / hz, stealMs: ((steal ?? 0) * 1000) / hz }
  } catch {
    let busy = 0
    for (const c of cpus()) busy += c.times.user + c.times.nice + c.times.sys + c.times.irq
    return { busyMs: busy, stealMs: null }
  }
}

const log = (line: string) => process.stderr.write(`${line}\n`)

/**
 * Waits (at most `maxS` seconds) until the machine is quiet: less than 0.2 cores busy or stolen by
 * the hypervisor over half a second, while nothing of the bench runs. For shared machines
 * (BENCH_QUIET_WAIT; off by default).
 */
async function waitForQuiet(maxS: number): Promise<void> {
  if (maxS <= 0) return
  const until = Date.now() + maxS * 1000
  let load = 0
  do {
    const t0 = machineTimes()
    await new Promise((resolve) => setTimeout(resolve, 500))
    const t1 = machineTimes()
    load = (t1.busyMs - t0.busyMs + ((t1.stealMs ?? 0) - (t0.stealMs ?? 0))) / 500
    if (load < 0.2) return
  } while (Date.now() < until)
  log(
    `  the machine is still busy (${load.toFixed(2)} cores used or stolen) after ${maxS} s: measuring anyway`,
  )
}

async function benchTarget(
  def: { name: TargetName; label: string },
  settings: Settings,
): Promise<TargetResult> {
  const id = randomBytes(6).toString('hex')
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-'))
  const config: ChildConfig = {
    target: def.name,
    storeUrl:
      def.name === 'sqlite'
        ? `sqlite:${join(dataDir, 'bench.db')}`
        : def.name === 'redis' || def.name === 'redis-cache'
          ? settings.redisUrl
          : def.name === 'postgres'
            ? taggedPostgresUrl(settings.postgresUrl, `parley_bench_${id}`)
            : 'memory',
    dataDir,
    redisPrefix: `parley-bench:${id}:`,
    postgresSchema: `parley_bench_${id}`,
    sessionCacheMs: def.name === 'redis-cache' ? 5000 : 0,
    tokens: settings.tokens,
    profileDir: settings.profile ? join(OUT_DIR, 'profiles') : null,
  }
  const probe: ExternalProbe | null =
    def.name === 'redis' || def.name === 'redis-cache'
      ? redisProbe(settings.redisUrl, config.redisPrefix)
      : def.name === 'postgres'
        ? postgresProbe(settings.postgresUrl, config.postgresSchema)
        : null
  const result: TargetResult = {
    name: def.name,
    label: def.label,
    status: 'ok',
    reason: null,
    setupMs: null,
    warmup: null,
    load: null,
    server: null,
    storeUsPerRequest: null,
    machineCores: null,
    otherCores: null,
    stealCores: null,
    profile: null,
    notes: [],
  }

  await waitForQuiet(settings.quietWaitS)
  log(`· ${def.label}: starting the server`)
  const child = startChild(config)
  try {
    const ready = await child.next('ready', 60_000)
    if (ready.type === 'failed') {
      result.status = 'unavailable'
      result.reason = ready.reason
      return result
    }
    result.setupMs = ready.setupMs
    const load = {
      port: ready.port,
      apiKey: ready.apiKey,
      tokens: ready.tokens,
      connections: settings.connections,
    }

    if (settings.warmupS > 0) {
      log(`  warming up ${settings.warmupS} s`)
      const w = await runLoad({ ...load, durationS: settings.warmupS })
      result.warmup = { responses: w.responses, non2xx: w.non2xx, errors: w.errors }
    }

    log(`  measuring ${settings.durationS} s with ${settings.connections} connections`)
    child.send({ type: 'cpu-start' })
    await child.next('cpu-started', 10_000)
    const storeCpu0 = probe ? await probe.cpuSeconds() : null
    const machine0 = machineTimes()
    const measured = await runLoad({ ...load, durationS: settings.durationS })
    const machine1 = machineTimes()
    const wallMs = measured.durationS * 1000
    const machineCores = (machine1.busyMs - machine0.busyMs) / wallMs
    const storeCpu1 = probe ? await probe.cpuSeconds() : null
    child.send({ type: 'cpu-stop' })
    const cpu = await child.next('cpu', 10_000)
    if (cpu.type === 'failed') throw new Error(cpu.reason)
    result.profile = cpu.profile

    result.load = measured
    const cpuUs = cpu.userUs + cpu.systemUs
    const server: ServerCpu = {
      usPerRequest: measured.responses > 0 ? cpuUs / measured.responses : Number.NaN,
      cores: cpuUs / 1000 / cpu.wallMs,
      elu: cpu.elu,
    }
    result.server = server
    const storeCores =
      storeCpu0 !== null && storeCpu1 !== null ? (storeCpu1 - storeCpu0) / measured.durationS : 0
    if (storeCpu0 !== null && storeCpu1 !== null && measured.responses > 0) {
      result.storeUsPerRequest = ((storeCpu1 - storeCpu0) * 1e6) / measured.responses
    }
    result.machineCores = machineCores
    result.stealCores =
      machine0.stealMs === null || machine1.stealMs === null
        ? null
        : (machine1.stealMs - machine0.stealMs) / wallMs
    result.otherCores = Math.max(0, machineCores - server.cores - measured.clientCpu - storeCores)
    const failure = failureOf(measured)
    if (failure !== null) {
      result.status = 'invalid'
      result.reason = `${failure}; e.g. ${await sampleResponse(ready.port, ready.apiKey, ready.tokens[0] ?? '')}`
    }
    return result
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    if (result.load === null) {
      result.status = 'unavailable'
      result.reason = reason
    } else {
      result.status = 'invalid'
      result.reason = reason
    }
    return result
  } finally {
    await stopChild(child)
    if (probe) {
      const note = await probe.cleanup()
      if (note !== null) result.notes.push(note)
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function fmtLine(r: TargetResult): string {
  if (r.load === null) return `  ${r.status}: ${r.reason ?? ''}`
  const l = r.load
  return `  ${Math.round(l.rps).toLocaleString('en-US')} req/s, p50 ${l.p50Ms.toFixed(2)} ms, p99 ${l.p99Ms.toFixed(2)} ms${
    r.server ? `, ${r.server.usPerRequest.toFixed(1)} µs CPU/req` : ''
  }${r.status === 'invalid' ? `  INVALID: ${r.reason}` : ''}`
}

/** The relative difference of two req/s figures (0.1 = 10%), or null when one is missing. */
function drift(a: TargetResult | null, b: TargetResult | null): number | null {
  if (a?.status !== 'ok' || b?.status !== 'ok' || a.load === null || b.load === null) return null
  return Math.abs(a.load.rps - b.load.rps) / ((a.load.rps + b.load.rps) / 2)
}

/**
 * A store's baseline: the bare runs just before and after it, leaving out a disturbed one when the
 * other was not (see isDisturbed).
 */
function baselineFor(before: TargetResult, after: TargetResult | null) {
  const around = after === null ? [before] : [before, after]
  const clean = around.filter((r) => r.status === 'ok' && !isDisturbed(r))
  return baselineOf(clean.length > 0 ? clean : around)
}

interface StoreRun {
  result: TargetResult
  /** The bare runs just before and just after: this store's baseline. */
  before: TargetResult
  after: TargetResult | null
}

async function main(): Promise<number> {
  const settings = readSettings()
  const started = new Date()
  log(
    `Parley bench: validate vs bare node:http — ${settings.durationS} s measured after ${settings.warmupS} s warm-up, ` +
      `${settings.connections} connections, ${settings.tokens} session tokens, ${availableParallelism()} cores, node ${process.version}`,
  )

  // Bare node:http runs before the first store and after each one, so that each store is compared
  // with the baseline measured just around it: slow drift of the machine cancels out.
  const chronological: TargetResult[] = []
  const bareRuns: TargetResult[] = []
  const runBare = async () => {
    const r = await benchTarget(
      { name: 'bare', label: `bare node:http #${bareRuns.length + 1}` },
      settings,
    )
    log(fmtLine(r))
    bareRuns.push(r)
    chronological.push(r)
    return r
  }
  const storeRuns: StoreRun[] = []
  let previous = await runBare()
  for (const def of settings.stores) {
    const result = await benchTarget(def, settings)
    log(fmtLine(result))
    chronological.push(result)
    const after = result.load === null ? null : await runBare()
    storeRuns.push({ result, before: previous, after })
    if (after !== null) previous = after
  }

  const overall = baselineOf(bareRuns)
  const first = bareRuns[0]!
  const bareRow: Row = {
    ...rowOf(
      {
        ...first,
        label: `bare node:http${bareRuns.length > 1 ? ` (mean of ${bareRuns.length})` : ''}`,
      },
      overall,
      null,
    ),
    figures: overall,
    baseline: overall,
    ratios: overall === null ? null : { rps: 1, p50: 1, p99: 1, cpuPerRequest: 1 },
    status: overall === null ? (first.status === 'ok' ? 'invalid' : first.status) : 'ok',
  }
  const rows: Row[] = [
    bareRow,
    ...storeRuns.map(({ result, before, after }) =>
      rowOf(
        result,
        baselineFor(before, after),
        STORES.find((s) => s.name === result.name)!.minRpsRatio,
      ),
    ),
  ]

  const warnings: string[] = []
  if (overall === null) {
    warnings.push(
      `NO VALID BASELINE: bare node:http failed, so there are no ratios. ${bareRuns
        .map((r) => r.reason)
        .filter(Boolean)
        .join('; ')}`,
    )
  }
  const drifts = storeRuns.map((s) => ({
    name: s.result.name,
    drift: drift(s.before, s.after),
    clean: !isDisturbed(s.before) && s.after !== null && !isDisturbed(s.after),
  }))
  for (const d of drifts) {
    // Around a disturbed run the drift is explained (and that run left out); warn about the rest.
    if (d.clean && d.drift !== null && d.drift > 0.1) {
      warnings.push(
        `the bare runs around ${d.name} differ by ${(d.drift * 100).toFixed(0)}% in req/s: the machine is noisy, so ${d.name}'s ratios are uncertain by about as much`,
      )
    }
  }
  // A baseline server below one core is either waiting for the load generator (idle event loop:
  // the ratios flatter Parley) or starved of CPU by other processes (busy loop, little CPU).
  for (const r of bareRuns) {
    const s = r.server
    if (r.status !== 'ok' || s === null || s.cores >= 0.85) continue
    warnings.push(
      s.elu < 0.8
        ? `${r.label}: the server used only ${s.cores.toFixed(2)} cores with its event loop ${(s.elu * 100).toFixed(0)}% busy: it waited for the load generator, so the ratios flatter Parley`
        : `${r.label}: the server used only ${s.cores.toFixed(2)} cores although its event loop was ${(s.elu * 100).toFixed(0)}% busy: it was starved of CPU (by other processes or the load generator)`,
    )
  }
  const steals = chronological.map((r) => r.stealCores ?? 0)
  if (Math.max(0, ...steals) > 0.1) {
    warnings.push(
      `the hypervisor stole up to ${Math.max(...steals).toFixed(2)} cores during the measured runs (see "steal"): the host is busy, so the figures are disturbed`,
    )
  }
  const others = chronological.map((r) => r.otherCores ?? 0)
  if (Math.max(0, ...others) > 0.25) {
    warnings.push(
      `other processes used up to ${Math.max(...others).toFixed(2)} cores during the measured runs (see "other cores"): the machine was shared, so the figures are disturbed — rerun on a quiet machine`,
    )
  }
  for (const r of chronological) {
    if (r.status === 'invalid') warnings.push(`${r.label} IS INVALID — ${r.reason}`)
    if (r.warmup && (r.warmup.non2xx > 0 || r.warmup.errors > 0)) {
      warnings.push(
        `${r.label}: ${r.warmup.non2xx} non-2xx and ${r.warmup.errors} errors during warm-up`,
      )
    }
    for (const note of r.notes) warnings.push(`${r.label}: ${note}`)
  }

  const out: string[] = []
  out.push('')
  out.push(
    `Validate (POST ${VALIDATE_PATH}) vs bare node:http — ${settings.durationS} s per run after ${settings.warmupS} s warm-up, ` +
      `${settings.connections} connections, ${settings.tokens} sessions rotated; ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown cpu'}), node ${process.version}`,
  )
  out.push('')
  out.push(mainTable(rows))
  out.push('')
  out.push(
    'Each store is compared with the mean of the bare node:http runs just before and just after it (same run of the bench;',
  )
  out.push(
    'a disturbed one is left out when the other is clean). "disturbed": other processes or the hypervisor took CPU during the run.',
  )
  out.push(
    'req/s: higher is better; latency and CPU/request: lower is better. The target applies to the req/s ratio.',
  )
  out.push(
    'CPU µs/req: the server process only (user + system over the measured run ÷ responses), not the load generator or the store.',
  )
  out.push(
    'Validate writes lastSeenAt at most once per touch interval (default 60 s); the sessions were created just before',
  )
  out.push(
    'the run, so validate does not write during it: this measures the documented hot path (API-key cache hit + one store read).',
  )
  out.push('')
  out.push('Diagnostics (measured runs, in order):')
  out.push(diagnosticsTable(chronological))
  out.push(
    'server cores / client cores: CPU used by the server child / the load generator, in cores; server loop: event-loop utilisation.',
  )
  out.push(
    'store µs/req: CPU of redis-server or of the postgres backends serving the store, per request (also on this machine).',
  )
  out.push(
    'other cores: busy CPU of the machine not accounted for by the three above (other processes, interrupts); steal: CPU',
  )
  out.push(
    'the hypervisor gave to other guests. Both should be near 0, or the figures are disturbed.',
  )
  const known = drifts.filter((d) => d.drift !== null)
  if (known.length > 0) {
    out.push(
      `Baseline drift around each store (req/s): ${known.map((d) => `${d.name} ${(d.drift! * 100).toFixed(1)}%`).join(', ')}.`,
    )
  }
  const profiles = chronological.filter((r) => r.profile !== null)
  if (profiles.length > 0) {
    out.push('')
    out.push(
      'CPU profiles of the measured runs (profiling slows the servers: these figures are not comparable):',
    )
    for (const r of profiles) out.push(`  ${r.label}: node bench/profile.ts ${r.profile}`)
  }
  if (warnings.length > 0) {
    out.push('')
    for (const w of warnings) out.push(`!! ${w}`)
  }
  const verdicts = rows
    .filter((r) => r.minRpsRatio !== null)
    .map((r) =>
      r.met === null
        ? `${r.name} ${r.status === 'ok' ? 'not measured' : r.status}`
        : `${r.name} ${r.met ? 'met' : 'MISSED'} (${r.ratios!.rps.toFixed(3)} vs ≥ ${r.minRpsRatio!.toFixed(2)})`,
    )
  if (verdicts.length > 0) {
    out.push('')
    out.push(`Targets: ${verdicts.join('; ')}`)
  }
  console.log(out.join('\n'))

  mkdirSync(OUT_DIR, { recursive: true })
  const file = join(OUT_DIR, 'results.json')
  const json = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    command: 'npm run bench',
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model.trim() ?? null,
      node: process.version,
      platform: process.platform,
    },
    settings: {
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      connections: settings.connections,
      tokens: settings.tokens,
      stores: settings.stores.map((s) => s.name),
      touchIntervalMs: 60_000,
    },
    baseline: overall,
    baselineDrift: Object.fromEntries(drifts.map((d) => [d.name, d.drift])),
    rows,
    runs: chronological,
    warnings,
  }
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`)
  log(`\nresults written to ${file}`)
  const invalid = chronological.some((r) => r.status === 'invalid') || overall === null
  return invalid ? 1 : 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    if (err instanceof ConfigError) {
      log(`bench: ${err.message}`)
      process.exitCode = 2
    } else {
      log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      process.exitCode = 1
    }
  },
)
