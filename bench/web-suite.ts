/**
 * @module The web suite of `npm run bench`: `GET /me`, the session resolved from a cookie, through
 * Parley's HTTP adapters and through other session libraries, next to bare node:http (baseline A)
 * and bare Fastify (baseline B) measured in the same run. Every target is bracketed by bare
 * node:http runs; adapter-fastify also by bare Fastify runs. Children: `web-server.ts`.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { redisProbe } from './externals.ts'
import { drift, fmtLine, log, machineWarnings, measureTarget, type RunSettings } from './harness.ts'
import { ME_PATH, type WebChildConfig, type WebTargetName } from './protocol.ts'
import { baselineOf, diagnosticsTable, isDisturbed, type TargetResult } from './report.ts'
import type { SuiteOutcome } from './validate-suite.ts'
import {
  type CheckDef,
  checkLines,
  checkOf,
  ratiosOf,
  rowDisturbed,
  type WebRow,
  webTable,
} from './web-report.ts'

interface WebTargetDef {
  name: WebTargetName
  label: string
  checks: CheckDef[]
  /** A second baseline run just before and after this target (besides bare node:http). */
  bracket?: 'bare-fastify'
  /** Whether it keeps its sessions in Redis (CPU probe and clean-up of its key prefix). */
  redis?: boolean
}

/** In the order they run (and are printed). */
export const WEB_TARGETS: WebTargetDef[] = [
  { name: 'bare-http', label: 'bare-http', checks: [] },
  {
    name: 'node-sqlite',
    label: 'adapter-node · sqlite',
    checks: [
      { metric: 'rps', bound: 'min', factor: 0.65, against: 'bare-http' },
      { metric: 'cpu', bound: 'max', factor: 1.5, against: 'bare-http' },
    ],
  },
  { name: 'node-memory', label: 'adapter-node · memory', checks: [] },
  {
    name: 'node-redis',
    label: 'adapter-node · redis',
    checks: [{ metric: 'p99', bound: 'max', factor: 2, against: 'node-memory' }],
    redis: true,
  },
  { name: 'express-sqlite', label: 'adapter-express · sqlite', checks: [] },
  { name: 'hono-sqlite', label: 'adapter-hono · sqlite', checks: [] },
  { name: 'bare-fastify', label: 'bare-fastify', checks: [] },
  {
    name: 'fastify-sqlite',
    label: 'adapter-fastify · sqlite',
    checks: [{ metric: 'rps', bound: 'min', factor: 0.8, against: 'bare-fastify' }],
    bracket: 'bare-fastify',
  },
  { name: 'express-session', label: 'express-session · MemoryStore', checks: [] },
  {
    name: 'express-session-redis',
    label: 'express-session · connect-redis',
    checks: [],
    redis: true,
  },
  { name: 'iron-session', label: 'iron-session (sealed cookie)', checks: [] },
  { name: 'better-auth', label: 'better-auth · node:sqlite', checks: [] },
  { name: 'better-auth-cache', label: 'better-auth · node:sqlite + cookie cache', checks: [] },
]

/** The names BENCH_ONLY accepts for this suite. */
export const WEB_NAMES: string[] = WEB_TARGETS.map((t) => t.name)

const labelOf = (name: WebTargetName) => WEB_TARGETS.find((t) => t.name === name)?.label ?? name

function benchTarget(name: WebTargetName, label: string, settings: RunSettings) {
  const def = WEB_TARGETS.find((t) => t.name === name)!
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-web-'))
  const config: WebChildConfig = {
    target: name,
    dataDir,
    redisUrl: settings.redisUrl,
    redisPrefix: `parley-bench-web:${randomBytes(6).toString('hex')}:`,
    tokens: settings.tokens,
    profileDir: settings.profile ? settings.profileDir : null,
  }
  return measureTarget(
    {
      name,
      label,
      script: new URL('./web-server.ts', import.meta.url),
      config,
      probe: def.redis ? redisProbe(settings.redisUrl, config.redisPrefix) : null,
      after: () => rmSync(dataDir, { recursive: true, force: true }),
    },
    settings,
  )
}

/**
 * The runs of `name` just before and just after each of `runs` in `chronological`, leaving out
 * disturbed ones when there are clean ones: the baseline of those runs.
 */
function aroundRuns(chronological: TargetResult[], runs: TargetResult[], name: WebTargetName) {
  const around = new Set<TargetResult>()
  for (const run of runs) {
    const i = chronological.indexOf(run)
    const before = chronological.slice(0, i).findLast((r) => r.name === name)
    const after = chronological.slice(i + 1).find((r) => r.name === name)
    if (before) around.add(before)
    if (after) around.add(after)
  }
  const all = [...around]
  const clean = all.filter((r) => r.status === 'ok' && !isDisturbed(r))
  return { runs: all, figures: baselineOf(clean.length > 0 ? clean : all) }
}

/** Runs the baselines and the given targets; returns the printed text and the JSON. */
export async function runWebSuite(
  settings: RunSettings,
  selected: WebTargetDef[],
): Promise<SuiteOutcome> {
  log(
    `Parley bench: web sessions (GET ${ME_PATH} with a cookie) — ${settings.durationS} s measured after ${settings.warmupS} s warm-up, ` +
      `${settings.connections} connections, ${settings.tokens} sessions, ${availableParallelism()} cores, node ${process.version}`,
  )
  const chronological: TargetResult[] = []
  const counts = new Map<WebTargetName, number>()
  const run = async (name: WebTargetName) => {
    const def = WEB_TARGETS.find((t) => t.name === name)!
    const n = (counts.get(name) ?? 0) + 1
    counts.set(name, n)
    const isBaseline = name === 'bare-http' || name === 'bare-fastify'
    const r = await benchTarget(name, isBaseline ? `${def.label} #${n}` : def.label, settings)
    log(fmtLine(r))
    chronological.push(r)
    return r
  }

  // bare-http before the first target and after each one; a bracketed target also has its own
  // baseline just before and after it. bare-fastify alone runs when it is selected without the
  // target it brackets.
  const names = selected.map((t) => t.name)
  await run('bare-http')
  for (const def of selected) {
    if (def.name === 'bare-http') continue
    if (def.name === 'bare-fastify' && WEB_TARGETS.some((t) => t.bracket && names.includes(t.name)))
      continue
    if (def.bracket) await run(def.bracket)
    const r = await run(def.name)
    if (r.load === null) continue
    if (def.bracket) await run(def.bracket)
    await run('bare-http')
  }

  const runsOf = (name: WebTargetName) => chronological.filter((r) => r.name === name)
  const bareRuns = runsOf('bare-http')
  const overall = baselineOf(bareRuns)
  const rows: WebRow[] = []
  for (const def of WEB_TARGETS) {
    const runs = runsOf(def.name)
    if (runs.length === 0) continue
    const figures = baselineOf(runs)
    const first = runs[0]!
    const baseline =
      def.name === 'bare-http' ? overall : aroundRuns(chronological, runs, 'bare-http').figures
    rows.push({
      name: def.name,
      label: runs.length > 1 ? `${def.label} (mean of ${runs.length})` : def.label,
      status: figures === null ? (first.status === 'ok' ? 'invalid' : first.status) : 'ok',
      reason: runs.map((r) => r.reason).find((r) => r !== null) ?? null,
      figures,
      baseline,
      ratios: ratiosOf(figures, baseline),
      checks: [],
      disturbed: def.name === 'bare-http' ? false : rowDisturbed(runs),
    })
  }
  for (const row of rows) {
    const def = WEB_TARGETS.find((t) => t.name === row.name)!
    row.checks = def.checks.map((c) => {
      const reference =
        c.against === 'bare-http' || c.against === 'bare-fastify'
          ? aroundRuns(chronological, runsOf(row.name), c.against).figures
          : (rows.find((r) => r.name === c.against && r.status === 'ok')?.figures ?? null)
      return checkOf(c, row.status === 'ok' ? row.figures : null, reference)
    })
  }

  const warnings: string[] = []
  if (overall === null) {
    warnings.push(
      `NO VALID BASELINE: bare-http failed, so there are no ratios. ${bareRuns
        .map((r) => r.reason)
        .filter(Boolean)
        .join('; ')}`,
    )
  }
  const drifts = chronological
    .filter((r) => r.name !== 'bare-http')
    .map((r) => {
      const { runs } = aroundRuns(chronological, [r], 'bare-http')
      return {
        label: r.label,
        drift: runs.length === 2 ? drift(runs[0]!, runs[1]!) : null,
        clean: runs.length === 2 && !runs.some(isDisturbed),
      }
    })
  for (const d of drifts) {
    if (d.clean && d.drift !== null && d.drift > 0.1) {
      warnings.push(
        `the bare-http runs around ${d.label} differ by ${(d.drift * 100).toFixed(0)}% in req/s: the machine is noisy, so its ratios are uncertain by about as much`,
      )
    }
  }
  warnings.push(
    ...machineWarnings(
      chronological,
      chronological.filter((r) => r.name === 'bare-http' || r.name === 'bare-fastify'),
      'the targets',
    ),
  )

  const out: string[] = []
  out.push('')
  out.push(
    `Web sessions (GET ${ME_PATH}, session from a cookie) vs bare node:http — ${settings.durationS} s per run after ${settings.warmupS} s warm-up, ` +
      `${settings.connections} connections, ${settings.tokens} sessions rotated; ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown cpu'}), node ${process.version}`,
  )
  out.push('')
  out.push(webTable(rows, labelOf))
  out.push('')
  out.push(
    'Each row is compared with the mean of the bare-http runs just before and just after it (same run of the bench; a disturbed',
  )
  out.push(
    "one is left out when the other is clean); adapter-fastify's req/s target uses the bare-fastify runs just around it.",
  )
  out.push(
    'req/s: higher is better; latency and CPU/request: lower is better. CPU µs/req: the server process only (user + system',
  )
  out.push(
    '÷ responses), not the load generator or Redis. Parley writes lastSeenAt at most once per touch interval (60 s) and the',
  )
  out.push(
    'sessions were created just before the run, so the Parley rows read the store once per request and never write.',
  )
  const lines = checkLines(rows, labelOf)
  if (lines.length > 0) {
    out.push('')
    out.push('Targets:')
    out.push(...lines)
  }
  out.push('')
  out.push('Diagnostics (measured runs, in order):')
  out.push(diagnosticsTable(chronological))
  out.push(
    'store µs/req: CPU of redis-server per request (adapter-node · redis, connect-redis); see the validate suite for the other columns.',
  )
  const known = drifts.filter((d) => d.drift !== null)
  if (known.length > 0) {
    out.push(
      `bare-http drift around each run (req/s): ${known.map((d) => `${d.label} ${(d.drift! * 100).toFixed(1)}%`).join(', ')}.`,
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

  return {
    text: out.join('\n'),
    invalid: chronological.some((r) => r.status === 'invalid') || overall === null,
    json: {
      targets: selected.map((t) => t.name),
      baseline: overall,
      baselineDrift: Object.fromEntries(drifts.map((d) => [d.label, d.drift])),
      rows,
      runs: chronological,
      warnings,
    },
  }
}
