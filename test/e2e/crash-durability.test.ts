/**
 * End to end: `kill -9` of `parley serve` (embedded SQLite store) in the middle of traffic, then a
 * restart on the same data directory. Every creation the server acknowledged (201) must survive.
 */
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterEach, describe, expect, it } from 'vitest'
import {
  Api,
  killAll,
  makeTempDir,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
} from '../helpers/parley-process.ts'

afterEach(async () => {
  await killAll()
  await removeTempDirs()
})

/** Concurrent clients. */
const LOOPS = 8
/** Acknowledged creations per round before the kill. */
const KILL_AFTER = 300
/** Kill, restart, check: this many times on the same data directory. */
const ROUNDS = 3

interface Round {
  acknowledged: string[]
  failuresBeforeKill: string[]
  validatedBeforeKill: number
  inFlightAtKill: number
  /** How the server ended: SIGKILL, or else it died by itself. */
  signal: string | null
}

/**
 * Runs LOOPS clients against `server` that create sessions and validate earlier ones (from this
 * round and from `earlier` rounds), and SIGKILLs the server once KILL_AFTER creations of this round
 * were acknowledged, while the other clients still have requests open.
 */
async function trafficThenKill(
  server: ServerProcess,
  key: string,
  earlier: string[],
): Promise<Round> {
  const api = new Api(server.url, key)
  const round: Round = {
    acknowledged: [],
    failuresBeforeKill: [],
    validatedBeforeKill: 0,
    inFlightAtKill: -1,
    signal: null,
  }
  let killed = false
  let inFlight = 0
  const kill = () => {
    if (killed) return
    killed = true
    round.inFlightAtKill = inFlight
    try {
      process.kill(server.pid, 'SIGKILL')
    } catch {} // already gone: the exit below says how
  }
  const tracked = async <T>(p: () => Promise<T>): Promise<T> => {
    inFlight++
    try {
      return await p()
    } finally {
      inFlight--
    }
  }
  const pick = () => {
    const all = earlier.length + round.acknowledged.length
    const i = Math.floor(Math.random() * all)
    return i < earlier.length ? earlier[i] : round.acknowledged[i - earlier.length]
  }
  const loop = async (n: number) => {
    for (let i = 0; !killed && i < 10_000; i++) {
      try {
        const res = await tracked(() => api.create(`crash-user-${n}-${i % 5}`))
        if (res.status === 201) {
          round.acknowledged.push(res.body.token as string)
          if (round.acknowledged.length >= KILL_AFTER) kill()
        } else if (!killed) round.failuresBeforeKill.push(`create ${res.status}`)
        if (killed) break
        const token = pick()
        if (token !== undefined) {
          const v = await tracked(() => api.validate(token))
          if (v.status === 200) round.validatedBeforeKill++
          else if (!killed) round.failuresBeforeKill.push(`validate ${v.status}`)
        }
      } catch (err) {
        // A request in flight at the kill fails (connection reset or refused): that is expected.
        if (!killed) round.failuresBeforeKill.push(`network: ${(err as Error).message}`)
        break
      }
    }
  }
  await Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n)))
  kill() // in case every loop stopped early; the assertions below then fail
  const exit = await server.exited
  round.signal = exit.signal
  return round
}

/** Validates every token with 16 clients; returns those that are not 200 and active. */
async function lostOf(api: Api, tokens: string[]): Promise<{ token: string; status: number }[]> {
  const lost: { token: string; status: number }[] = []
  let checked = 0
  const queue = [...tokens]
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let token = queue.pop(); token !== undefined; token = queue.pop()) {
        const res = await api.validate(token)
        checked++
        if (res.status !== 200 || res.body?.session?.state !== 'active') {
          lost.push({ token: token.slice(0, 27), status: res.status })
        }
      }
    }),
  )
  expect(checked).toBe(tokens.length)
  return lost
}

describe('crash durability (sqlite)', () => {
  it('kill -9 of the server while clients create and validate sessions, then a restart: every session whose creation was acknowledged still validates', async () => {
    const dataDir = await makeTempDir()
    const created = await runCli(['keys', 'create', '--name', 'e2e-crash', '--data-dir', dataDir])
    expect(created.code, created.stderr).toBe(0)
    const key = created.stdout.trim()
    const serve = () => startServer(['--port', '0', '--data-dir', dataDir, '--log-level', 'warn'])

    const acknowledged: string[] = []
    let server = await serve()
    for (let r = 1; r <= ROUNDS; r++) {
      const round = await trafficThenKill(server, key, acknowledged)
      expect(round.failuresBeforeKill, `round ${r}`).toEqual([])
      expect(round.signal, `round ${r}: ${server.stderr()}`).toBe('SIGKILL')
      expect(round.acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER)
      expect(round.validatedBeforeKill).toBeGreaterThan(0)
      // The kill landed while other clients still had requests open.
      expect(round.inFlightAtKill, `round ${r}: requests in flight at the kill`).toBeGreaterThan(0)
      acknowledged.push(...round.acknowledged)

      server = await serve()
      const lost = await lostOf(new Api(server.url, key), acknowledged)
      expect(
        lost.slice(0, 5),
        `round ${r}: ${lost.length} of ${acknowledged.length} acknowledged sessions lost`,
      ).toEqual([])
    }
    expect(new Set(acknowledged).size).toBe(acknowledged.length)
    expect(acknowledged.length).toBeGreaterThanOrEqual(ROUNDS * KILL_AFTER)

    // The restarted server keeps working on the same file, and the file is sound.
    const api = new Api(server.url, key)
    const fresh = await api.create('after-crash')
    expect(fresh.status).toBe(201)
    expect((await api.validate(fresh.body.token)).status).toBe(200)
    expect(server.alive()).toBe(true)
    const db = new DatabaseSync(join(dataDir, 'parley.db'), { readOnly: true })
    try {
      expect(db.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
      const row = db.prepare("SELECT count(*) AS n FROM sessions WHERE state = 'active'").get()
      expect(Number(row?.n)).toBeGreaterThanOrEqual(acknowledged.length + 1)
    } finally {
      db.close()
    }
  }, 60_000)
})
