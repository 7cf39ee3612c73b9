/**
 * @module The live suite's results: the four parts' rows (message rate, memory per idle session,
 * resume latency, event-loop delay with idle sessions), each figure with its ratio to the baseline
 * measured in the same run, the targets with the measured value and met / MISSED, as tables.
 */
import { table } from './report.ts'

export type Status = 'ok' | 'invalid' | 'unavailable'

/** A target: the row's `value` must be ≤ (`max`) or ≥ (`min`) `bound`. */
export interface Goal {
  /** What is compared, as printed (`msgs/s vs ws`, `p99 ms`, ...). */
  what: string
  bound: 'min' | 'max'
  value: number
}

export interface GoalResult extends Goal {
  /** The measured value compared with the bound (a ratio, or ms for absolute targets). */
  measured: number | null
  met: boolean | null
}

export function goalOf(goal: Goal, measured: number | null, status: Status): GoalResult {
  const ok = status === 'ok' && measured !== null && Number.isFinite(measured)
  return {
    ...goal,
    measured: ok ? measured : null,
    met: ok ? (goal.bound === 'min' ? measured >= goal.value : measured <= goal.value) : null,
  }
}

interface RowBase {
  name: string
  label: string
  status: Status
  reason: string | null
  /** The baseline row of its part (the ratios are 1). */
  baseline: boolean
  goals: GoalResult[]
  /** Other processes or the hypervisor took CPU during this run. */
  disturbed: boolean
}

export interface RateRow extends RowBase {
  msgsPerS: number | null
  p50Ms: number | null
  p99Ms: number | null
  cpuUsPerMsg: number | null
  /** Against the ws runs just before and after this one. */
  ratio: { msgsPerS: number; p99: number; cpuPerMsg: number } | null
}

export interface MemoryRow extends RowBase {
  sessions: number | null
  rssPerSession: number | null
  heapPerSession: number | null
  ratio: { rss: number; heap: number } | null
}

export interface ResumeRow extends RowBase {
  resumes: number | null
  p50Ms: number | null
  p99Ms: number | null
  maxMs: number | null
  ratio: { p50: number; p99: number } | null
}

export interface IdleRow extends RowBase {
  connections: number | null
  p50Ms: number | null
  p99Ms: number | null
  maxMs: number | null
  serverCores: number | null
  /** Heartbeats the clients answered over the window, per connection and interval. */
  pingShare: number | null
  ratio: { p99: number } | null
}

const int = (n: number | null) =>
  n !== null && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—'
const fixed = (n: number | null, digits: number) =>
  n !== null && Number.isFinite(n) ? n.toFixed(digits) : '—'
const times = (n: number | undefined | null, digits = 2) =>
  n === undefined || n === null || !Number.isFinite(n) ? '—' : `×${n.toFixed(digits)}`
const kb = (bytes: number | null) => (bytes === null ? null : bytes / 1024)

export function goalText(g: Goal): string {
  return `${g.what} ${g.bound === 'min' ? '≥' : '≤'} ${g.value}`
}

function verdict(row: RowBase): string {
  if (row.status === 'unavailable') return `unavailable: ${row.reason ?? 'unknown'}`
  if (row.status === 'invalid') return `INVALID: ${row.reason ?? 'unknown'}`
  const note = row.disturbed ? ' (disturbed)' : ''
  if (row.goals.length === 0) return `${row.baseline ? 'baseline' : 'reference'}${note}`
  if (row.goals.some((g) => g.met === null)) return `not measured${note}`
  const missed = row.goals.filter((g) => g.met === false)
  return `${missed.length === 0 ? 'met' : `MISSED ${missed.map((g) => g.what).join(', ')}`}${note}`
}

const goals = (row: RowBase) => row.goals.map(goalText).join('; ') || (row.baseline ? '' : '—')

export function rateTable(rows: RateRow[]): string {
  const header = [
    'row',
    'msgs/s',
    'vs ws',
    'RTT p50 ms',
    'RTT p99 ms',
    'vs ws',
    'CPU µs/msg',
    'vs ws',
    'target',
    'result',
  ]
  const right = [false, true, true, true, true, true, true, true, false, false]
  return table(
    header,
    rows.map((r) => [
      r.label,
      int(r.msgsPerS),
      times(r.ratio?.msgsPerS, 3),
      fixed(r.p50Ms, 2),
      fixed(r.p99Ms, 2),
      times(r.ratio?.p99),
      fixed(r.cpuUsPerMsg, 1),
      times(r.ratio?.cpuPerMsg),
      goals(r),
      verdict(r),
    ]),
    right,
  )
}

export function memoryTable(rows: MemoryRow[]): string {
  const header = [
    'row',
    'sessions',
    'RSS KiB/session',
    'vs ws',
    'heap KiB/session',
    'vs ws',
    'target',
    'result',
  ]
  const right = [false, true, true, true, true, true, false, false]
  return table(
    header,
    rows.map((r) => [
      r.label,
      int(r.sessions),
      fixed(kb(r.rssPerSession), 2),
      times(r.ratio?.rss),
      fixed(kb(r.heapPerSession), 2),
      times(r.ratio?.heap),
      goals(r),
      verdict(r),
    ]),
    right,
  )
}

export function resumeTable(rows: ResumeRow[]): string {
  const header = [
    'row',
    'resumes',
    'p50 ms',
    'vs ws',
    'p99 ms',
    'vs ws',
    'max ms',
    'target',
    'result',
  ]
  const right = [false, true, true, true, true, true, true, false, false]
  return table(
    header,
    rows.map((r) => [
      r.label,
      int(r.resumes),
      fixed(r.p50Ms, 2),
      times(r.ratio?.p50),
      fixed(r.p99Ms, 2),
      times(r.ratio?.p99),
      fixed(r.maxMs, 2),
      goals(r),
      verdict(r),
    ]),
    right,
  )
}

export function idleTable(rows: IdleRow[]): string {
  const header = [
    'row',
    'connections',
    'delay p50 ms',
    'p99 ms',
    'vs ws',
    'max ms',
    'server cores',
    'pings answered',
    'target',
    'result',
  ]
  const right = [false, true, true, true, true, true, true, true, false, false]
  return table(
    header,
    rows.map((r) => [
      r.label,
      int(r.connections),
      fixed(r.p50Ms, 2),
      fixed(r.p99Ms, 2),
      times(r.ratio?.p99),
      fixed(r.maxMs, 1),
      fixed(r.serverCores, 3),
      r.pingShare === null ? '—' : `${(r.pingShare * 100).toFixed(0)}%`,
      goals(r),
      verdict(r),
    ]),
    right,
  )
}

/** One line per goal of every row: what it asks, the value measured, met or MISSED. */
export function targetLines(rows: RowBase[]): string[] {
  const out: string[] = []
  for (const r of rows) {
    for (const g of r.goals) {
      const outcome =
        g.met === null
          ? r.status === 'ok'
            ? 'not measured'
            : `${r.status}${r.reason ? `: ${r.reason}` : ''}`
          : `${fixed(g.measured, g.what.endsWith(' ms') ? 2 : 3)} ${g.met ? 'met' : 'MISSED'}${r.disturbed ? ' (disturbed run)' : ''}`
      out.push(`  ${r.label}: ${goalText(g)} — ${outcome}`)
    }
  }
  return out
}
