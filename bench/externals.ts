/**
 * @module The external stores seen from the bench: the CPU time their server processes spend
 * (Redis `INFO cpu`; the Postgres backends' `/proc/<pid>/stat`), and the clean-up of what a run
 * created (SCAN + UNLINK under the key prefix; DROP SCHEMA ... CASCADE). Best effort: a failure
 * here is reported, never thrown.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import pg from 'pg'
import { createClient } from 'redis'

export interface ExternalProbe {
  /** CPU seconds used so far by the store's server processes, or null when not measurable. */
  cpuSeconds(): Promise<number | null>
  /** Deletes what the bench created; returns a note when that failed. */
  cleanup(): Promise<string | null>
}

function message(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0)
    return err.errors.map(message).join('; ')
  return err instanceof Error ? err.message : String(err)
}

const makeRedisClient = (url: string) =>
  createClient({ url, socket: { connectTimeout: 3000, reconnectStrategy: false } })
type RedisClient = ReturnType<typeof makeRedisClient>

async function withRedis<T>(url: string, use: (client: RedisClient) => Promise<T>): Promise<T> {
  const client = makeRedisClient(url)
  client.on('error', () => {})
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.close().catch(() => {})
  }
}

export function redisProbe(url: string, prefix: string): ExternalProbe {
  return {
    async cpuSeconds() {
      try {
        const info = await withRedis(url, (c) => c.info('cpu'))
        const field = (name: string) =>
          Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1])
        const total = field('used_cpu_user') + field('used_cpu_sys')
        return Number.isFinite(total) ? total : null
      } catch {
        return null
      }
    },
    async cleanup() {
      try {
        await withRedis(url, async (c) => {
          for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
            if (keys.length > 0) await c.unlink(keys)
          }
        })
        return null
      } catch (err) {
        return `could not delete redis keys ${prefix}*: ${message(err)}`
      }
    },
  }
}

let clockTicks: number | undefined
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/**
 * utime + stime of a local postgres process in seconds, or null when it cannot be read (for
 * example when the server runs in another pid namespace, where its pids mean nothing here).
 */
function postgresCpuSeconds(pid: number): number | null {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return null
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // After the command: state(3) ... utime(14) stime(15), so indexes 11 and 12 here.
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond()
  } catch {
    return null
  }
}

async function withPostgres<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  client.on('error', () => {})
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** The store's URL with an application_name, so that its backends can be told apart. */
export function taggedPostgresUrl(url: string, applicationName: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}application_name=${encodeURIComponent(applicationName)}`
}

/**
 * `url` is the plain URL (for the probe's own connections); the store must connect with
 * `taggedPostgresUrl(url, schema)`: its backends are found by that application_name once warm, so
 * that other sessions on the same database, such as a colleague's tests, are not counted.
 */
export function postgresProbe(url: string, schema: string): ExternalProbe {
  let pids: number[] | undefined
  return {
    async cpuSeconds() {
      try {
        if (pids === undefined) {
          pids = await withPostgres(url, async (c) => {
            const r = await c.query<{ pid: number }>(
              'SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND application_name = $1',
              [schema],
            )
            return r.rows.map((row) => row.pid)
          })
        }
        if (pids.length === 0) return null
        let total = 0
        for (const pid of pids) {
          const s = postgresCpuSeconds(pid)
          if (s === null) return null
          total += s
        }
        return total
      } catch {
        return null
      }
    },
    async cleanup() {
      try {
        await withPostgres(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
        return null
      } catch (err) {
        return `could not drop postgres schema ${schema}: ${message(err)}`
      }
    },
  }
}
