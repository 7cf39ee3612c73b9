/**
 * @module The web suite's results: each row's figures with ratios to bare node:http, its target
 * checks (a ratio of req/s, CPU per request or p99 to a baseline or to another row) and the
 * printed tables.
 */
import type { WebTargetName } from './protocol.ts'
import { type Figures, isDisturbed, type Ratios, type TargetResult, table } from './report.ts'

export type Metric = 'rps' | 'cpu' | 'p99'

/** A target: `metric` of this row ÷ the same of `against` must be ≥ (`min`) or ≤ (`max`) `factor`. */
export interface CheckDef {
  metric: Metric
  bound: 'min' | 'max'
  factor: number
  /** A baseline (the runs of it around this row) or another row. */
  against: WebTargetName
}

export interface CheckResult extends CheckDef {
  /** The measured ratio, or null when either side is missing. */
  ratio: number | null
  met: boolean | null
}

export interface WebRow {
  name: WebTargetName
  label: string
  status: TargetResult['status']
  reason: string | null
  /** The runs' figures (the mean, for a baseline run several times). */
  figures: Figures | null
  /** Bare node:http, from the runs just around this row's. */
  baseline: Figures | null
  ratios: Ratios | null
  checks: CheckResult[]
  disturbed: boolean
}

const METRIC_NAMES: Record<Metric, string> = { rps: 'req/s', cpu: 'CPU/req', p99: 'p99' }

function metricOf(f: Figures, metric: Metric): number {
  return metric === 'rps' ? f.rps : metric === 'cpu' ? f.cpuUsPerRequest : f.p99Ms
}

export function ratiosOf(figures: Figures | null, baseline: Figures | null): Ratios | null {
  if (figures === null || baseline === null) return null
  return {
    rps: figures.rps / baseline.rps,
    p50: figures.p50Ms / baseline.p50Ms,
    p99: figures.p99Ms / baseline.p99Ms,
    cpuPerRequest: figures.cpuUsPerRequest / baseline.cpuUsPerRequest,
  }
}

export function checkOf(def: CheckDef, figures: Figures | null, reference: Figures | null) {
  const ratio =
    figures === null || reference === null
      ? null
      : metricOf(figures, def.metric) / metricOf(reference, def.metric)
  const met =
    ratio === null || !Number.isFinite(ratio)
      ? null
      : def.bound === 'min'
        ? ratio >= def.factor
        : ratio <= def.factor
  return { ...def, ratio, met } satisfies CheckResult
}

/** `req/s ≥ 0.65 × bare-http` */
export function describeCheck(c: CheckDef, labelOf: (n: WebTargetName) => string): string {
  return `${METRIC_NAMES[c.metric]} ${c.bound === 'min' ? '≥' : '≤'} ${c.factor.toFixed(2)} × ${labelOf(c.against)}`
}

export function rowDisturbed(runs: TargetResult[]): boolean {
  return runs.some(isDisturbed)
}

function verdict(row: WebRow): string {
  if (row.status === 'unavailable') return `unavailable: ${row.reason ?? 'unknown'}`
  if (row.status === 'invalid') return `INVALID: ${row.reason ?? 'requests failed'}`
  const note = row.disturbed ? ' (disturbed)' : ''
  if (row.name === 'bare-http') return 'baseline A'
  if (row.name === 'bare-fastify') return `baseline B${note}`
  if (row.checks.length === 0) return `${row.ratios === null ? 'no baseline' : 'no target'}${note}`
  if (row.checks.some((c) => c.met === null)) return `not measured${note}`
  const missed = row.checks.filter((c) => c.met === false)
  return `${missed.length === 0 ? 'met' : `MISSED ${missed.map((c) => METRIC_NAMES[c.metric]).join(', ')}`}${note}`
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—')
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—')
const times = (n: number | undefined | null, digits = 2) =>
  n === undefined || n === null || !Number.isFinite(n) ? '—' : `×${n.toFixed(digits)}`

/** The main table: req/s, p50, p99 and CPU per request, each with its ratio to bare node:http. */
export function webTable(rows: WebRow[], labelOf: (n: WebTargetName) => string): string {
  const header = [
    'target',
    'req/s',
    'vs bare-http',
    'p50 ms',
    'p99 ms',
    'vs bare-http',
    'CPU µs/req',
    'vs bare-http',
    'targets',
    'result',
  ]
  const right = [false, true, true, true, true, true, true, true, false, false]
  const cells = rows.map((row) => {
    const f = row.figures
    const x = row.ratios
    const goals = row.checks.map((c) => describeCheck(c, labelOf)).join('; ') || '—'
    if (f === null) return [row.label, '—', '—', '—', '—', '—', '—', '—', goals, verdict(row)]
    return [
      row.label,
      int(f.rps),
      times(x?.rps, 3),
      fixed(f.p50Ms, 2),
      fixed(f.p99Ms, 2),
      times(x?.p99),
      fixed(f.cpuUsPerRequest, 1),
      times(x?.cpuPerRequest),
      row.name === 'bare-http' || row.name === 'bare-fastify' ? '' : goals,
      verdict(row),
    ]
  })
  return table(header, cells, right)
}

/** One line per target check: what it asks, the ratio measured, met or MISSED. */
export function checkLines(rows: WebRow[], labelOf: (n: WebTargetName) => string): string[] {
  const lines: string[] = []
  for (const row of rows) {
    for (const c of row.checks) {
      const outcome =
        c.met === null
          ? row.status === 'ok'
            ? `not measured (${labelOf(c.against)} missing)`
            : row.status
          : `${times(c.ratio, 3)} ${c.met ? 'met' : 'MISSED'}${row.disturbed ? ' (disturbed run)' : ''}`
      lines.push(`  ${row.label}: ${describeCheck(c, labelOf)} — ${outcome}`)
    }
  }
  return lines
}
