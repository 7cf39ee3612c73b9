/**
 * @module End-to-end helpers for the external stores: a private throwaway redis-server, unique Redis
 * key prefixes and PostgreSQL schemas per run, and their cleanup.
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import pg from 'pg'
import { createClient } from 'redis'
import { makeTempDir, spawnTracked, type Tracked } from './parley-process.ts'

/** The shared Redis and PostgreSQL of the machine (same variables as test/store). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export const newRedisPrefix = () => `parley-e2e:${randomBytes(6).toString('hex')}:`
export const newPgSchema = () => `parley_e2e_${randomBytes(6).toString('hex')}`

/** `url` with its host and port replaced (to go through a proxy). */
export function viaPort(url: string, port: number): string {
  const u = new URL(url)
  u.hostname = '127.0.0.1'
  u.port = String(port)
  return u.toString()
}

export function portOf(url: string, fallback: number): number {
  return Number(new URL(url).port || fallback)
}

/** Deletes every key under `prefix` (SCAN + UNLINK); returns how many. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  let n = 0
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) n += await client.unlink(keys)
    }
  } finally {
    client.destroy()
  }
  return n
}

/** Counts the keys under `prefix`. */
export async function countRedisPrefix(url: string, prefix: string): Promise<number> {
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  let n = 0
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 }))
      n += keys.length
  } finally {
    client.destroy()
  }
  return n
}

export async function dropPgSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(schema)) throw new Error(`refusing to drop schema ${schema}`)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

export async function pgSchemaExists(url: string, schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const r = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    return r.rowCount === 1
  } finally {
    await client.end()
  }
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((r) => server.close(() => r()))
  return port
}

/** Resolves true when something on 127.0.0.1:`port` answers PING with +PONG. */
export function redisPing(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolvePing(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (d) => {
      data += d.toString()
      if (data.includes('\r\n')) done(data.startsWith('+PONG'))
    })
  })
}

export interface OwnRedis {
  port: number
  url: string
  process: Tracked
  /** SIGKILLs the server and waits for it to exit. */
  kill(): Promise<void>
  /** Starts a fresh (empty) server on the same port. */
  restart(): Promise<void>
}

/**
 * Starts a private redis-server on a free loopback port that keeps nothing on disk, and waits
 * until it answers PING. {@link killAll} ends it.
 */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort()
  const dir = await makeTempDir('parley-e2e-redis-')
  const launch = async (): Promise<Tracked> => {
    const t = spawnTracked(
      'redis-server',
      ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
      { cwd: dir },
    )
    for (let i = 0; i < 100; i++) {
      if (!t.alive()) throw new Error(`redis-server exited: ${t.stdout()} ${t.stderr()}`)
      if (await redisPing(port)) return t
      await new Promise((r) => setTimeout(r, 50))
    }
    await t.kill()
    throw new Error(`redis-server on ${port} did not answer PING`)
  }
  const own: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: await launch(),
    async kill() {
      await own.process.kill('SIGKILL')
    },
    async restart() {
      own.process = await launch()
    },
  }
  return own
}
