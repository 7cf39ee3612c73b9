/**
 * @module A live-suite server child, forked by `live-suite.ts` with `--expose-gc`: starts one
 * target of `live-targets.ts`, reports its port (and, for Parley, the session tokens of its
 * clients), and answers the parent: `mem` (memory after two full GCs), `cpu-start` / `cpu-stop`
 * (its CPU time and event-loop utilisation over a window), `eld-start` / `eld-stop`
 * (`monitorEventLoopDelay` over a window), `shutdown`.
 */
import { type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { errorText } from './child.ts'
import type { LiveChildConfig, LiveChildMessage, LiveParentMessage } from './live-protocol.ts'
import { type LiveStarted, startLiveTarget } from './live-targets.ts'

function send(message: LiveChildMessage): void {
  process.send?.(message)
}

const gc = (globalThis as { gc?: () => void }).gc

/** Two full collections, a turn of the event loop between them (finalizers, weak refs). */
async function collect(): Promise<void> {
  if (gc === undefined) throw new Error('run with --expose-gc')
  for (let i = 0; i < 2; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as LiveChildConfig
  // The parent going away (crash, Ctrl-C) must not leave this server running.
  process.on('disconnect', () => process.exit(0))
  const t0 = performance.now()
  let started: LiveStarted
  try {
    started = await startLiveTarget(config)
  } catch (err) {
    send({ type: 'failed', reason: errorText(err) })
    setTimeout(() => process.exit(1), 100)
    return
  }

  let cpu0 = process.cpuUsage()
  let wall0 = performance.now()
  let elu0: EventLoopUtilization = performance.eventLoopUtilization()
  let histogram: ReturnType<typeof monitorEventLoopDelay> | null = null
  process.on('message', async (message: LiveParentMessage) => {
    switch (message.type) {
      case 'mem': {
        await collect()
        const m = process.memoryUsage()
        send({
          type: 'mem',
          rss: m.rss,
          heapUsed: m.heapUsed,
          external: m.external,
          connections: started.connections(),
        })
        break
      }
      case 'cpu-start':
      case 'eld-start': {
        cpu0 = process.cpuUsage()
        wall0 = performance.now()
        elu0 = performance.eventLoopUtilization()
        if (message.type === 'eld-start') {
          histogram = monitorEventLoopDelay({ resolution: 10 })
          histogram.enable()
          send({ type: 'eld-started' })
        } else {
          send({ type: 'cpu-started' })
        }
        break
      }
      case 'cpu-stop':
      case 'eld-stop': {
        const cpu = process.cpuUsage(cpu0)
        const wallMs = performance.now() - wall0
        const elu = performance.eventLoopUtilization(elu0).utilization
        if (message.type === 'cpu-stop') {
          send({ type: 'cpu', userUs: cpu.user, systemUs: cpu.system, wallMs, elu })
          break
        }
        const h = histogram
        h?.disable()
        const ms = (ns: number) => ns / 1e6
        send({
          type: 'eld',
          p50Ms: h ? ms(h.percentile(50)) : Number.NaN,
          p99Ms: h ? ms(h.percentile(99)) : Number.NaN,
          maxMs: h ? ms(h.max) : Number.NaN,
          meanMs: h ? ms(h.mean) : Number.NaN,
          elu,
          cores: (cpu.user + cpu.system) / 1000 / wallMs,
          connections: started.connections(),
          loopMaxMs: started.loopMaxMs(),
        })
        break
      }
      case 'shutdown': {
        // Closing thousands of sessions one by one is not what is measured: leave at once
        // (the kernel closes the sockets), after at most 2 s of a graceful close.
        const timer = setTimeout(() => process.exit(0), 2000)
        started
          .close()
          .catch(() => {})
          .finally(() => {
            clearTimeout(timer)
            send({ type: 'closed' })
            setTimeout(() => process.exit(0), 50)
          })
        break
      }
    }
  })
  send({
    type: 'ready',
    port: started.port,
    credentials: started.credentials,
    setupMs: Math.round(performance.now() - t0),
  })
}

main().catch((err) => {
  send({ type: 'failed', reason: errorText(err) })
  setTimeout(() => process.exit(1), 100)
})
