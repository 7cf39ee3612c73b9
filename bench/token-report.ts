/**
 * @module The token suite's results: one row per target with its ratios to bare-http (the runs of
 * it just around the row) and its req/s target, printed as a table and a list of targets.
 */
import { type Figures, type Row, rowOf, type TargetResult, table } from './report.ts'

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—')
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—')
const times = (n: number | undefined, digits = 2) =>
  n === undefined || !Number.isFinite(n) ? '—' : `×${n.toFixed(digits)}`

/** The baseline row: the mean of every bare-http run, its ratios 1. */
export function baselineRow(runs: TargetResult[], overall: Figures | null): Row {
  const first = runs[0]!
  const label = `${first.label.replace(/ #\d+$/, '')}${runs.length > 1 ? ` (mean of ${runs.length})` : ''}`
  return {
    ...rowOf({ ...first, label }, overall, null),
    figures: overall,
    baseline: overall,
    ratios: overall === null ? null : { rps: 1, p50: 1, p99: 1, cpuPerRequest: 1 },
    status: overall === null ? (first.status === 'ok' ? 'invalid' : first.status) : 'ok',
    disturbed: false,
  }
}

function verdict(row: Row, isBaseline: boolean): string {
  if (row.status === 'unavailable') return `unavailable: ${row.reason ?? 'unknown'}`
  if (row.status === 'invalid') return `INVALID: ${row.reason ?? 'requests failed'}`
  if (isBaseline) return 'baseline'
  const note = row.disturbed ? ' (disturbed)' : ''
  if (row.met === null) return `${row.ratios === null ? 'no baseline' : 'no target'}${note}`
  return `${row.met ? 'met' : 'MISSED'}${note}`
}

/** req/s, p50, p99 and server CPU per request, each with its ratio to bare-http, and the target. */
export function tokenTable(rows: Row[], baselineName: string): string {
  const header = [
    'target',
    'req/s',
    'vs bare-http',
    'p50 ms',
    'vs bare-http',
    'p99 ms',
    'vs bare-http',
    'CPU µs/req',
    'vs bare-http',
    'target',
    'result',
  ]
  const right = [false, true, true, true, true, true, true, true, true, false, false]
  const cells = rows.map((row) => {
    const isBaseline = row.name === baselineName
    const f = row.figures
    const x = row.ratios ?? undefined
    const goal = isBaseline
      ? ''
      : row.minRpsRatio === null
        ? '—'
        : `req/s ≥ ${row.minRpsRatio.toFixed(2)} ×`
    if (f === null)
      return [row.label, '—', '—', '—', '—', '—', '—', '—', '—', goal, verdict(row, isBaseline)]
    return [
      row.label,
      int(f.rps),
      times(x?.rps, 3),
      fixed(f.p50Ms, 2),
      times(x?.p50),
      fixed(f.p99Ms, 2),
      times(x?.p99),
      fixed(f.cpuUsPerRequest, 1),
      times(x?.cpuPerRequest),
      goal,
      verdict(row, isBaseline),
    ]
  })
  return table(header, cells, right)
}

/** One line per target: what it asks, the ratio measured, met or MISSED. */
export function targetLines(rows: Row[]): string[] {
  return rows
    .filter((r) => r.minRpsRatio !== null)
    .map((r) => {
      const goal = `req/s ≥ ${r.minRpsRatio!.toFixed(2)} × bare-http`
      const outcome =
        r.met === null
          ? r.status === 'ok'
            ? 'not measured (no bare-http baseline)'
            : r.status
          : `${times(r.ratios?.rps, 3)} ${r.met ? 'met' : 'MISSED'}${r.disturbed ? ' (disturbed run)' : ''}`
      return `  ${r.label}: ${goal} — ${outcome}`
    })
}
