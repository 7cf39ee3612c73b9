/**
 * @module The load generator: autocannon in this (the parent) process, sending a pool of requests
 * (one per session, from the server child) rotated across connections. Latencies are recorded
 * from each response (sub-millisecond resolution; autocannon's own histogram rounds to whole ms).
 */
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import type { BenchRequest } from './protocol.ts'

export interface LoadOptions {
  port: number
  /** One request per session; each connection cycles through its own share of them. */
  requests: BenchRequest[]
  connections: number
  durationS: number
}

export interface LoadStats {
  /** Measured wall time, from autocannon's start to its end (s). */
  durationS: number
  /** Responses received (any status). */
  responses: number
  ok: number
  non2xx: number
  /** Connection errors and timeouts (autocannon's count). */
  errors: number
  timeouts: number
  /** Status code -> count. */
  statuses: Record<string, number>
  rps: number
  p50Ms: number
  p99Ms: number
  meanMs: number
  /** Mean bytes per response, headers included. */
  bytesPerResponse: number
  /** CPU time of this (load generator) process over the run, as a share of one core. */
  clientCpu: number
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

/**
 * The requests one connection cycles through: connection `c` of `n` takes every n-th request
 * starting at `c`, so that each session is used about as often and concurrent requests use
 * different sessions.
 */
function requestsFor(c: number, n: number, options: LoadOptions): autocannon.Request[] {
  const { requests } = options
  const picked: BenchRequest[] = []
  for (let i = c % requests.length; i < requests.length; i += n) picked.push(requests[i]!)
  if (picked.length === 0) picked.push(requests[c % requests.length]!)
  return picked.map((r) => {
    const request: autocannon.Request = { method: r.method, path: r.path, headers: r.headers }
    if (r.body !== undefined) request.body = r.body
    return request
  })
}

/** Runs autocannon for `durationS` seconds against the child on `port`. */
export function runLoad(options: LoadOptions): Promise<LoadStats> {
  if (options.requests.length === 0) return Promise.reject(new Error('no requests to send'))
  let latencies = new Float64Array(1 << 18)
  let count = 0
  const statuses: Record<string, number> = {}
  let clientIndex = 0

  return new Promise((resolve, reject) => {
    let startedAt = performance.now()
    let cpuStart = process.cpuUsage()
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${options.port}`,
        connections: options.connections,
        duration: options.durationS,
        pipelining: 1,
        timeout: 10,
        requests: requestsFor(0, options.connections, options),
        setupClient: (client) => {
          client.setRequests(requestsFor(clientIndex++, options.connections, options))
        },
      },
      (err, result) => {
        if (err) {
          reject(err)
          return
        }
        const durationS = (performance.now() - startedAt) / 1000
        const cpu = process.cpuUsage(cpuStart)
        const sorted = latencies.subarray(0, count).sort()
        let sum = 0
        for (const v of sorted) sum += v
        const ok = Object.entries(statuses).reduce(
          (n, [code, c]) => (code.startsWith('2') ? n + c : n),
          0,
        )
        resolve({
          durationS,
          responses: count,
          ok,
          non2xx: count - ok,
          errors: result.errors,
          timeouts: result.timeouts,
          statuses,
          rps: count / durationS,
          p50Ms: percentile(sorted, 50),
          p99Ms: percentile(sorted, 99),
          meanMs: count > 0 ? sum / count : Number.NaN,
          bytesPerResponse: count > 0 ? result.throughput.total / count : 0,
          clientCpu: (cpu.user + cpu.system) / 1000 / (durationS * 1000),
        })
      },
    )
    instance.on('start', () => {
      startedAt = performance.now()
      cpuStart = process.cpuUsage()
    })
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2)
        bigger.set(latencies)
        latencies = bigger
      }
      latencies[count++] = responseTime
      const key = String(statusCode)
      statuses[key] = (statuses[key] ?? 0) + 1
    })
  })
}
