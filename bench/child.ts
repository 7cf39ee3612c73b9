/**
 * @module The child side of a bench server (shared by `server.ts` and `web-server.ts`): starts the
 * target, reports its port and request pool over IPC, and answers `cpu-start` / `cpu-stop` with its
 * own CPU time (`process.cpuUsage()`) and event-loop utilisation over that window (and a CPU
 * profile of it with BENCH_PROFILE=1).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { type EventLoopUtilization, performance } from 'node:perf_hooks'
import type { BenchRequest, ChildMessage, ParentMessage } from './protocol.ts'

/** A target being served. */
export interface Started {
  port: number
  /** The requests to rotate through (each with its session's credentials). */
  requests: BenchRequest[]
  close(): Promise<void>
}

function send(message: ChildMessage): void {
  process.send?.(message)
}

export function errorText(err: unknown, depth = 0): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return `${err.message || 'AggregateError'}: ${err.errors.map((e) => errorText(e, depth + 1)).join('; ')}`
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const text = `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`.split('\n')[0] ?? ''
    // A wrapped error (ERR_INTERNAL, ERR_STORE_UNAVAILABLE) says why in its cause.
    return err.cause !== undefined && depth < 3
      ? `${text} (cause: ${errorText(err.cause, depth + 1)})`
      : text
  }
  return String(err)
}

/** Resolves to `undefined` after `ms` if `promise` has not settled by then. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    timer.unref()
    promise.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })
}

/**
 * Runs a server child: reads its config from argv, starts the target with `start`, and serves the
 * parent's messages until `shutdown`.
 */
export async function serveChild<C extends { target: string; profileDir: string | null }>(
  start: (config: C) => Promise<Started>,
): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as C
  // The parent going away (crash, Ctrl-C) must not leave this server running.
  process.on('disconnect', () => process.exit(0))

  const t0 = performance.now()
  let started: Started
  try {
    started = await start(config)
  } catch (err) {
    send({ type: 'failed', reason: errorText(err) })
    // A store client that keeps reconnecting would keep this process alive: leave now.
    setTimeout(() => process.exit(1), 100)
    return
  }

  let cpuStart = process.cpuUsage()
  let wallStart = performance.now()
  let eluStart: EventLoopUtilization = performance.eventLoopUtilization()
  const profiler = config.profileDir ? new Session() : null
  process.on('message', async (message: ParentMessage) => {
    if (message.type === 'cpu-start') {
      if (profiler) {
        profiler.connect()
        await profiler.post('Profiler.enable')
        await profiler.post('Profiler.setSamplingInterval', { interval: 250 })
        await profiler.post('Profiler.start')
      }
      cpuStart = process.cpuUsage()
      wallStart = performance.now()
      eluStart = performance.eventLoopUtilization()
      send({ type: 'cpu-started' })
    } else if (message.type === 'cpu-stop') {
      const cpu = process.cpuUsage(cpuStart)
      const elu = performance.eventLoopUtilization(eluStart)
      const wallMs = performance.now() - wallStart
      let profile: string | null = null
      if (profiler && config.profileDir) {
        const { profile: data } = await profiler.post('Profiler.stop')
        profiler.disconnect()
        mkdirSync(config.profileDir, { recursive: true })
        profile = join(config.profileDir, `${config.target}-${Date.now()}.cpuprofile`)
        writeFileSync(profile, JSON.stringify(data))
      }
      send({
        type: 'cpu',
        userUs: cpu.user,
        systemUs: cpu.system,
        wallMs,
        elu: elu.utilization,
        profile,
      })
    } else if (message.type === 'shutdown') {
      started
        .close()
        .catch(() => {})
        .finally(() => {
          send({ type: 'closed' })
          // Leave even if a store client keeps a handle open; the message above goes out first.
          setTimeout(() => process.exit(0), 50)
        })
    }
  })
  send({
    type: 'ready',
    port: started.port,
    requests: started.requests,
    setupMs: Math.round(performance.now() - t0),
  })
}

/** Runs `serveChild`, reporting any failure to the parent. */
export function runChild<C extends { target: string; profileDir: string | null }>(
  start: (config: C) => Promise<Started>,
): void {
  serveChild(start).catch((err) => {
    send({ type: 'failed', reason: errorText(err) })
    setTimeout(() => process.exit(1), 100)
  })
}
