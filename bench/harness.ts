/**
 * @module The parent side of a bench run, shared by the suites: settings from the environment,
 * forking a server child, waiting for a quiet machine, one warm-up and one measured run of a
 * target with its CPU figures and diagnostics, and the warnings every suite prints.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { ExternalProbe } from './externals.ts'
import { type LoadStats, runLoad } from './load.ts'
import type { BenchRequest, ChildMessage, ParentMessage, TargetName } from './protocol.ts'
import { baselineOf, isDisturbed, type ServerCpu, type TargetResult } from './report.ts'

export class ConfigError extends Error {}

export function numberFromEnv(name: string, fallback: number, min: number, integer: boolean) {
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

/** What every run of every suite uses. */
export interface RunSettings {
  durationS: number
  warmupS: number
  connections: number
  tokens: number
  redisUrl: string
  postgresUrl: string
  profile: boolean
  quietWaitS: number
  /** Where profiles go (BENCH_PROFILE=1). */
  profileDir: string
}

export const log = (line: string) => process.stderr.write(`${line}\n`)

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

function startChild(script: URL, config: object): Child {
  const child = fork(fileURLToPath(script), [JSON.stringify(config)], {
    execPath: process.execPath,
    execArgv: [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
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

/** One request of the pool by hand: what a failing server says. */
async function sampleResponse(port: number, request: BenchRequest | undefined): Promise<string> {
  if (request === undefined) return 'no request to send'
  try {
    const res = await fetch(`http://127.0.0.1:${port}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
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

/** One target to measure: the child to fork and what to clean up after it. */
export interface TargetSpec {
  name: TargetName
  label: string
  /** The child's entry (`server.ts` or `web-server.ts`). */
  script: URL
  /** The child's config, passed as its one argument. */
  config: object
  /** The external store's CPU and clean-up, if any. */
  probe: ExternalProbe | null
  /** Runs last, after the child has stopped (e.g. deletes its temporary directory). */
  after?: () => void
}

/** Starts the target's child, warms it up, measures it, and stops it; never throws. */
export async function measureTarget(
  spec: TargetSpec,
  settings: RunSettings,
): Promise<TargetResult> {
  const { probe } = spec
  const result: TargetResult = {
    name: spec.name,
    label: spec.label,
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
  log(`· ${spec.label}: starting the server`)
  const child = startChild(spec.script, spec.config)
  try {
    const ready = await child.next('ready', 120_000)
    if (ready.type === 'failed') {
      result.status = 'unavailable'
      result.reason = ready.reason
      return result
    }
    result.setupMs = ready.setupMs
    const load = { port: ready.port, requests: ready.requests, connections: settings.connections }

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
      result.reason = `${failure}; e.g. ${await sampleResponse(ready.port, ready.requests[0])}`
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
    spec.after?.()
  }
}

/** A target's measured run and the baseline runs just before and after it. */
export interface BracketedRun {
  result: TargetResult
  before: TargetResult
  /** Null when the target did not start (no baseline run follows it). */
  after: TargetResult | null
}

/**
 * Runs `baseline`, then each target followed by `baseline` again, so that each target is compared
 * with the baseline runs just around it and slow drift of the machine cancels out. Logs each run.
 */
export async function runBracketed(
  baseline: () => Promise<TargetResult>,
  targets: (() => Promise<TargetResult>)[],
): Promise<{ chronological: TargetResult[]; baselineRuns: TargetResult[]; runs: BracketedRun[] }> {
  const chronological: TargetResult[] = []
  const baselineRuns: TargetResult[] = []
  const measure = async (run: () => Promise<TargetResult>, isBaseline: boolean) => {
    const r = await run()
    log(fmtLine(r))
    chronological.push(r)
    if (isBaseline) baselineRuns.push(r)
    return r
  }
  const runs: BracketedRun[] = []
  let previous = await measure(baseline, true)
  for (const target of targets) {
    const result = await measure(target, false)
    const after = result.load === null ? null : await measure(baseline, true)
    runs.push({ result, before: previous, after })
    if (after !== null) previous = after
  }
  return { chronological, baselineRuns, runs }
}

export function fmtLine(r: TargetResult): string {
  if (r.load === null) return `  ${r.status}: ${r.reason ?? ''}`
  const l = r.load
  return `  ${Math.round(l.rps).toLocaleString('en-US')} req/s, p50 ${l.p50Ms.toFixed(2)} ms, p99 ${l.p99Ms.toFixed(2)} ms${
    r.server ? `, ${r.server.usPerRequest.toFixed(1)} µs CPU/req` : ''
  }${r.status === 'invalid' ? `  INVALID: ${r.reason}` : ''}`
}

/** The relative difference of two req/s figures (0.1 = 10%), or null when one is missing. */
export function drift(a: TargetResult | null, b: TargetResult | null): number | null {
  if (a?.status !== 'ok' || b?.status !== 'ok' || a.load === null || b.load === null) return null
  return Math.abs(a.load.rps - b.load.rps) / ((a.load.rps + b.load.rps) / 2)
}

/**
 * A target's baseline: the baseline runs just before and after it, leaving out a disturbed one
 * when the other was not (see isDisturbed).
 */
export function baselineFor(before: TargetResult, after: TargetResult | null) {
  const around = after === null ? [before] : [before, after]
  const clean = around.filter((r) => r.status === 'ok' && !isDisturbed(r))
  return baselineOf(clean.length > 0 ? clean : around)
}

/**
 * The warnings about the machine and the runs, common to the suites: a baseline server below one
 * core, hypervisor steal, other processes, invalid runs, failures during warm-up, clean-up notes.
 */
export function machineWarnings(
  chronological: TargetResult[],
  baselineRuns: TargetResult[],
  subject: string,
): string[] {
  const warnings: string[] = []
  // A baseline server below one core is either waiting for the load generator (idle event loop:
  // the ratios flatter the subject) or starved of CPU by other processes (busy loop, little CPU).
  for (const r of baselineRuns) {
    const s = r.server
    if (r.status !== 'ok' || s === null || s.cores >= 0.85) continue
    warnings.push(
      s.elu < 0.8
        ? `${r.label}: the server used only ${s.cores.toFixed(2)} cores with its event loop ${(s.elu * 100).toFixed(0)}% busy: it waited for the load generator, so the ratios flatter ${subject}`
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
  return warnings
}
