/**
 * @module The validate suite of `npm run bench`: the service API's validate call
 * (`POST /v1/sessions/validate`) on each store next to a bare node:http server answering the
 * same-sized JSON, each store bracketed by bare runs. Children: `server.ts`.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ExternalProbe, postgresProbe, redisProbe, taggedPostgresUrl } from './externals.ts'
import {
  baselineFor,
  drift,
  fmtLine,
  log,
  machineWarnings,
  measureTarget,
  type RunSettings,
} from './harness.ts'
import type { ChildConfig, ValidateTargetName } from './protocol.ts'
import { VALIDATE_PATH } from './protocol.ts'
import {
  baselineOf,
  diagnosticsTable,
  isDisturbed,
  mainTable,
  type Row,
  rowOf,
  type TargetResult,
} from './report.ts'

interface StoreDef {
  name: ValidateTargetName
  label: string
  /** Validate's req/s must reach this share of bare node:http's; null: no target. */
  minRpsRatio: number | null
}

export const STORES: StoreDef[] = [
  { name: 'memory', label: 'validate · memory', minRpsRatio: 0.5 },
  { name: 'sqlite', label: 'validate · sqlite', minRpsRatio: 0.5 },
  { name: 'redis', label: 'validate · redis', minRpsRatio: 0.45 },
  { name: 'redis-cache', label: 'validate · redis + cache', minRpsRatio: 0.45 },
  { name: 'postgres', label: 'validate · postgres', minRpsRatio: null },
]

/** The names BENCH_ONLY accepts for this suite (`bare` selects the baseline alone). */
export const VALIDATE_NAMES: string[] = ['bare', ...STORES.map((s) => s.name)]

/** What the suite printed and what goes into `.bench/results.json`. */
export interface SuiteOutcome {
  text: string
  invalid: boolean
  json: Record<string, unknown>
}

function benchTarget(
  def: { name: ValidateTargetName; label: string },
  settings: RunSettings,
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
    profileDir: settings.profile ? settings.profileDir : null,
  }
  const probe: ExternalProbe | null =
    def.name === 'redis' || def.name === 'redis-cache'
      ? redisProbe(settings.redisUrl, config.redisPrefix)
      : def.name === 'postgres'
        ? postgresProbe(settings.postgresUrl, config.postgresSchema)
        : null
  return measureTarget(
    {
      ...def,
      script: new URL('./server.ts', import.meta.url),
      config,
      probe,
      after: () => rmSync(dataDir, { recursive: true, force: true }),
    },
    settings,
  )
}

interface StoreRun {
  result: TargetResult
  /** The bare runs just before and just after: this store's baseline. */
  before: TargetResult
  after: TargetResult | null
}

/** Runs the bare baseline and the given stores; returns the printed text and the JSON. */
export async function runValidateSuite(
  settings: RunSettings,
  stores: StoreDef[],
): Promise<SuiteOutcome> {
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
  for (const def of stores) {
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
  warnings.push(...machineWarnings(chronological, bareRuns, 'Parley'))

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

  return {
    text: out.join('\n'),
    invalid: chronological.some((r) => r.status === 'invalid') || overall === null,
    json: {
      stores: stores.map((s) => s.name),
      baseline: overall,
      baselineDrift: Object.fromEntries(drifts.map((d) => [d.name, d.drift])),
      rows,
      runs: chronological,
      warnings,
    },
  }
}
