/**
 * @module `npm run bench`: three suites of servers, each in a child process, loaded by autocannon
 * here, each figure reported as a ratio to a baseline measured in the same run, with the targets.
 * Writes everything to `.bench/results.json`. See docs/benchmarks.md.
 *
 * - validate (`validate-suite.ts`): the service API's `POST /v1/sessions/validate` on each store
 *   next to a bare node:http server answering the same-sized JSON
 * - web (`web-suite.ts`): `GET /me` resolving a cookie session through Parley's HTTP adapters and
 *   other session libraries, next to bare node:http and bare Fastify
 * - tokens (`token-suite.ts`): `GET /me` behind a bearer JWT, checked by jose and by Parley's
 *   Verifier with and without its cache, next to bare node:http reading the header
 * - live (`live-suite.ts`): Parley's live sessions (message rate, memory per idle session, resume
 *   latency, event-loop delay with idle sessions) next to a bare `ws` server and Socket.IO
 *
 * Environment:
 * - BENCH_SUITE: `validate`, `web`, `tokens`, `live`, or a comma-separated list (default: all)
 * - BENCH_DURATION: seconds measured per run (default 8); BENCH_WARMUP: seconds before (default 2)
 * - BENCH_CONNECTIONS (default 50); BENCH_TOKENS: sessions rotated across requests (default 1000)
 * - BENCH_ONLY: e.g. `memory,sqlite` or `node-sqlite,better-auth` (the baselines always run; a
 *   suite none of whose names are given is left out)
 * - BENCH_REDIS_URL, BENCH_POSTGRES_URL: the external stores
 * - BENCH_PROFILE=1: profile each server over its measured run into `.bench/profiles/` (summarise
 *   one with `node bench/profile.ts <file>`); profiling slows the servers, so figures differ
 * - BENCH_QUIET_WAIT: before each run, wait up to this many seconds for the machine to be idle
 *   (default 0; for shared machines)
 * - BENCH_LIVE_IDLE (default 18000), BENCH_LIVE_MEMORY_SESSIONS (5000), BENCH_LIVE_RESUMES (200),
 *   BENCH_LIVE_WINDOW (16), BENCH_LIVE_HEARTBEAT_MS (15000), BENCH_LIVE_CLIENT (ws),
 *   BENCH_LIVE_TICK_MS (the gateway's): the live suite (docs/benchmarks.md)
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError, log, numberFromEnv, type RunSettings } from './harness.ts'
import { LIVE_NAMES, liveSettings, runLiveSuite } from './live-suite.ts'
import { runTokenSuite, TOKEN_NAMES, TOKEN_TARGETS } from './token-suite.ts'
import { runValidateSuite, STORES, type SuiteOutcome, VALIDATE_NAMES } from './validate-suite.ts'
import { runWebSuite, WEB_NAMES, WEB_TARGETS } from './web-suite.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT_DIR = join(ROOT, '.bench')

const SUITES = ['validate', 'web', 'tokens', 'live'] as const
type Suite = (typeof SUITES)[number]

function listFromEnv(name: string): string[] | null {
  const raw = process.env[name]?.trim()
  if (!raw) return null
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

function readSettings() {
  const suiteNames = listFromEnv('BENCH_SUITE')
  let suites: Suite[] = [...SUITES]
  if (suiteNames !== null && !suiteNames.includes('all')) {
    const unknown = suiteNames.filter((n) => !(SUITES as readonly string[]).includes(n))
    if (unknown.length > 0) {
      throw new ConfigError(
        `BENCH_SUITE: unknown ${unknown.join(', ')} (choose from ${SUITES.join(', ')}, all)`,
      )
    }
    suites = SUITES.filter((s) => suiteNames.includes(s))
  }
  const only = listFromEnv('BENCH_ONLY')
  let stores = STORES
  let webTargets = WEB_TARGETS
  let tokenTargets = TOKEN_TARGETS
  if (only !== null) {
    const known = [
      ...(suites.includes('validate') ? VALIDATE_NAMES : []),
      ...(suites.includes('web') ? WEB_NAMES : []),
      ...(suites.includes('tokens') ? TOKEN_NAMES : []),
      ...(suites.includes('live') ? LIVE_NAMES : []),
    ]
    const unknown = only.filter((n) => !known.includes(n))
    if (unknown.length > 0) {
      throw new ConfigError(
        `BENCH_ONLY: unknown ${unknown.join(', ')} (choose from ${known.join(', ')})`,
      )
    }
    // A suite runs when one of its names is given; its baselines always come with it.
    const namesOf = {
      validate: VALIDATE_NAMES,
      web: WEB_NAMES,
      tokens: TOKEN_NAMES,
      live: LIVE_NAMES,
    }
    suites = suites.filter((s) => namesOf[s].some((n) => only.includes(n)))
    stores = STORES.filter((s) => only.includes(s.name))
    webTargets = WEB_TARGETS.filter((t) => only.includes(t.name))
    tokenTargets = TOKEN_TARGETS.filter((t) => only.includes(t.name))
  }
  const run: RunSettings = {
    durationS: numberFromEnv('BENCH_DURATION', 8, 1, false),
    warmupS: numberFromEnv('BENCH_WARMUP', 2, 0, false),
    connections: numberFromEnv('BENCH_CONNECTIONS', 50, 1, true),
    tokens: numberFromEnv('BENCH_TOKENS', 1000, 1, true),
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    postgresUrl: process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    profile: process.env.BENCH_PROFILE === '1',
    quietWaitS: numberFromEnv('BENCH_QUIET_WAIT', 0, 0, false),
    profileDir: join(OUT_DIR, 'profiles'),
  }
  return { run, suites, stores, webTargets, tokenTargets, live: liveSettings(run), only }
}

async function main(): Promise<number> {
  const settings = readSettings()
  const started = new Date()
  let validate: SuiteOutcome | null = null
  let web: SuiteOutcome | null = null
  let tokens: SuiteOutcome | null = null
  let live: SuiteOutcome | null = null
  if (settings.suites.includes('validate')) {
    validate = await runValidateSuite(settings.run, settings.stores)
    console.log(validate.text)
  }
  if (settings.suites.includes('web')) {
    web = await runWebSuite(settings.run, settings.webTargets)
    console.log(web.text)
  }
  if (settings.suites.includes('tokens')) {
    tokens = await runTokenSuite(settings.run, settings.tokenTargets)
    console.log(tokens.text)
  }
  if (settings.suites.includes('live')) {
    live = await runLiveSuite(settings.run, settings.live, settings.only)
    console.log(live.text)
  }

  mkdirSync(OUT_DIR, { recursive: true })
  const file = join(OUT_DIR, 'results.json')
  const { run } = settings
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
      suites: settings.suites,
      durationS: run.durationS,
      warmupS: run.warmupS,
      connections: run.connections,
      tokens: run.tokens,
      stores: validate === null ? [] : validate.json.stores,
      webTargets: web === null ? [] : web.json.targets,
      tokenTargets: tokens === null ? [] : tokens.json.targets,
      touchIntervalMs: 60_000,
    },
    // The validate suite's figures stay at the top level, where they have always been.
    baseline: validate?.json.baseline ?? null,
    baselineDrift: validate?.json.baselineDrift ?? {},
    rows: validate?.json.rows ?? [],
    runs: validate?.json.runs ?? [],
    warnings: validate?.json.warnings ?? [],
    web: web?.json ?? null,
    tokens: tokens?.json ?? null,
    live: live?.json ?? null,
  }
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`)
  log(`\nresults written to ${file}`)
  return validate?.invalid || web?.invalid || tokens?.invalid || live?.invalid ? 1 : 0
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
