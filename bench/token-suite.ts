/**
 * @module The token suite of `npm run bench`: `GET /me` behind `Authorization: Bearer <jwt>`,
 * checked by jose's `jwtVerify` and by Parley's `Verifier` with and without its cache, next to a
 * bare node:http server that reads the header without checking it. Each target is bracketed by
 * bare-http runs. Children: `token-server.ts`.
 */
import { availableParallelism, cpus } from 'node:os'
import {
  baselineFor,
  drift,
  log,
  machineWarnings,
  measureTarget,
  type RunSettings,
  runBracketed,
} from './harness.ts'
import { ME_PATH, type TokenChildConfig, type TokenTargetName } from './protocol.ts'
import { baselineOf, diagnosticsTable, isDisturbed, rowOf, type TargetResult } from './report.ts'
import { baselineRow, targetLines, tokenTable } from './token-report.ts'
import type { SuiteOutcome } from './validate-suite.ts'

interface TokenTargetDef {
  name: TokenTargetName
  label: string
  /** req/s must reach this share of bare-http's; null: no target. */
  minRpsRatio: number | null
}

const BASELINE: TokenTargetDef = { name: 'bare-http', label: 'bare-http', minRpsRatio: null }

/** The targets, in the order they run (and are printed); bare-http runs around each. */
export const TOKEN_TARGETS: TokenTargetDef[] = [
  { name: 'jose-verify', label: 'jose-verify', minRpsRatio: null },
  { name: 'parley-cache', label: 'parley-verifier · cache', minRpsRatio: 0.6 },
  { name: 'parley-no-cache', label: 'parley-verifier · no cache', minRpsRatio: null },
]

/** The names BENCH_ONLY accepts for this suite (`bare-http` selects the baseline alone). */
export const TOKEN_NAMES: string[] = [BASELINE.name, ...TOKEN_TARGETS.map((t) => t.name)]

function benchTarget(name: TokenTargetName, label: string, settings: RunSettings) {
  const config: TokenChildConfig = {
    target: name,
    tokens: settings.tokens,
    profileDir: settings.profile ? settings.profileDir : null,
  }
  return measureTarget(
    { name, label, script: new URL('./token-server.ts', import.meta.url), config, probe: null },
    settings,
  )
}

/** Runs bare-http and the given targets, each between two bare-http runs. */
export async function runTokenSuite(
  settings: RunSettings,
  selected: TokenTargetDef[],
): Promise<SuiteOutcome> {
  log(
    `Parley bench: bearer tokens (GET ${ME_PATH} with Authorization: Bearer <jwt>) — ${settings.durationS} s measured after ${settings.warmupS} s warm-up, ` +
      `${settings.connections} connections, ${settings.tokens} tokens, ${availableParallelism()} cores, node ${process.version}`,
  )
  let bareCount = 0
  const { chronological, baselineRuns, runs } = await runBracketed(
    () => benchTarget(BASELINE.name, `${BASELINE.label} #${++bareCount}`, settings),
    selected.map((def) => () => benchTarget(def.name, def.label, settings)),
  )

  const overall = baselineOf(baselineRuns)
  const rows = [
    baselineRow(baselineRuns, overall),
    ...runs.map((run) =>
      rowOf(
        run.result,
        baselineFor(run.before, run.after),
        TOKEN_TARGETS.find((t) => t.name === run.result.name)?.minRpsRatio ?? null,
      ),
    ),
  ]

  const warnings: string[] = []
  if (overall === null) {
    warnings.push(
      `NO VALID BASELINE: bare-http failed, so there are no ratios. ${baselineRuns
        .map((r) => r.reason)
        .filter(Boolean)
        .join('; ')}`,
    )
  }
  const drifts = runs.map((run) => ({
    label: run.result.label,
    drift: drift(run.before, run.after),
    clean: !isDisturbed(run.before) && run.after !== null && !isDisturbed(run.after),
  }))
  for (const d of drifts) {
    if (d.clean && d.drift !== null && d.drift > 0.1) {
      warnings.push(
        `the bare-http runs around ${d.label} differ by ${(d.drift * 100).toFixed(0)}% in req/s: the machine is noisy, so its ratios are uncertain by about as much`,
      )
    }
  }
  warnings.push(...machineWarnings(chronological, baselineRuns, 'the verifiers'))

  const out: string[] = []
  out.push('')
  out.push(
    `Bearer tokens (GET ${ME_PATH}, Authorization: Bearer <EdDSA JWT>) vs bare node:http — ${settings.durationS} s per run after ${settings.warmupS} s warm-up, ` +
      `${settings.connections} connections, ${settings.tokens} tokens rotated; ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown cpu'}), node ${process.version}`,
  )
  out.push('')
  out.push(tokenTable(rows, BASELINE.name))
  out.push('')
  out.push(
    'Each row is compared with the mean of the bare-http runs just before and just after it (a disturbed one is left out',
  )
  out.push(
    'when the other is clean). req/s: higher is better; latency and CPU/request: lower is better. CPU µs/req: the server',
  )
  out.push(
    'process only. bare-http reads the header and checks nothing; jose-verify runs jwtVerify (EdDSA signature, claims) on',
  )
  out.push(
    'every request; parley-verifier also checks the deny list of ended sessions, and with its cache verifies each token once.',
  )
  const lines = targetLines(rows)
  if (lines.length > 0) {
    out.push('')
    out.push('Targets:')
    out.push(...lines)
  }
  out.push('')
  out.push('Diagnostics (measured runs, in order):')
  out.push(diagnosticsTable(chronological))
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
    invalid: chronological.some((r: TargetResult) => r.status === 'invalid') || overall === null,
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
