/**
 * @module The bench's results: ratios against the bare node:http baseline, targets, the printed
 * tables and the JSON written to `.bench/results.json`.
 */
import type { LoadStats } from './load.ts'
import type { TargetName } from './protocol.ts'

export interface ServerCpu {
  /** Server CPU time (user + system) per response, in µs. */
  usPerRequest: number
  /** Server CPU time over the run, in cores (1.0 = one core busy all the time). */
  cores: number
  /** Event-loop utilisation of the server's main thread (0..1). */
  elu: number
}

export interface TargetResult {
  name: TargetName
  label: string
  status: 'ok' | 'invalid' | 'unavailable'
  /** Why the store is unavailable or the run invalid. */
  reason: string | null
  setupMs: number | null
  warmup: { responses: number; non2xx: number; errors: number } | null
  load: LoadStats | null
  server: ServerCpu | null
  /** CPU of the store's own server processes (redis-server, postgres backends) per response, µs. */
  storeUsPerRequest: number | null
  /** Busy CPU of the whole machine over the measured run, in cores. */
  machineCores: number | null
  /** What is left of it after server, load generator and store: other processes, in cores. */
  otherCores: number | null
  /** CPU the hypervisor gave to other guests while we wanted it, in cores (VMs only). */
  stealCores: number | null
  /** The CPU profile of the measured run (BENCH_PROFILE=1). */
  profile: string | null
  /** Notes from clean-up (what could not be deleted). */
  notes: string[]
}

export interface Figures {
  rps: number
  p50Ms: number
  p99Ms: number
  cpuUsPerRequest: number
}

export interface Ratios {
  /** req/s ÷ baseline req/s: higher is better. */
  rps: number
  /** p50 ÷ baseline p50: lower is better. */
  p50: number
  p99: number
  cpuPerRequest: number
}

export interface Row {
  name: TargetName
  label: string
  status: TargetResult['status']
  reason: string | null
  figures: Figures | null
  /** The baseline the ratios are against (the bare runs around this one). */
  baseline: Figures | null
  ratios: Ratios | null
  /** The req/s ratio the target asks for, or null when there is none. */
  minRpsRatio: number | null
  /** Whether the req/s ratio meets the target; null when there is no target or no figure. */
  met: boolean | null
  /** Other processes or the hypervisor took CPU during this run: its figures are not reliable. */
  disturbed: boolean
}

/** A run during which other processes (> 0.25 cores) or the hypervisor (> 0.1) took CPU. */
export function isDisturbed(r: TargetResult): boolean {
  return (r.otherCores ?? 0) > 0.25 || (r.stealCores ?? 0) > 0.1
}

export function figuresOf(r: TargetResult): Figures | null {
  if (r.load === null || r.server === null) return null
  return {
    rps: r.load.rps,
    p50Ms: r.load.p50Ms,
    p99Ms: r.load.p99Ms,
    cpuUsPerRequest: r.server.usPerRequest,
  }
}

/** A baseline: the mean of the valid bare runs given. */
export function baselineOf(runs: TargetResult[]): Figures | null {
  const figs = runs
    .filter((r) => r.status === 'ok')
    .map(figuresOf)
    .filter((f) => f !== null)
  if (figs.length === 0) return null
  const mean = (pick: (f: Figures) => number) => figs.reduce((s, f) => s + pick(f), 0) / figs.length
  return {
    rps: mean((f) => f.rps),
    p50Ms: mean((f) => f.p50Ms),
    p99Ms: mean((f) => f.p99Ms),
    cpuUsPerRequest: mean((f) => f.cpuUsPerRequest),
  }
}

export function rowOf(r: TargetResult, baseline: Figures | null, minRpsRatio: number | null): Row {
  const figures = figuresOf(r)
  const ratios =
    figures !== null && baseline !== null
      ? {
          rps: figures.rps / baseline.rps,
          p50: figures.p50Ms / baseline.p50Ms,
          p99: figures.p99Ms / baseline.p99Ms,
          cpuPerRequest: figures.cpuUsPerRequest / baseline.cpuUsPerRequest,
        }
      : null
  const met =
    minRpsRatio === null || ratios === null || r.status !== 'ok' ? null : ratios.rps >= minRpsRatio
  return {
    name: r.name,
    label: r.label,
    status: r.status,
    reason: r.reason,
    figures,
    baseline,
    ratios,
    minRpsRatio,
    met,
    disturbed: isDisturbed(r),
  }
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—')
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—')
const times = (n: number | undefined, digits = 2) =>
  n === undefined || !Number.isFinite(n) ? '—' : `×${n.toFixed(digits)}`

/** Renders rows of cells as an aligned table; `right` marks the right-aligned columns. */
export function table(header: string[], rows: string[][], right: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function verdict(row: Row): string {
  if (row.status === 'unavailable') return `unavailable: ${row.reason ?? 'unknown'}`
  if (row.status === 'invalid') return `INVALID: ${row.reason ?? 'requests failed'}`
  if (row.name === 'bare') return 'baseline'
  const note = row.disturbed ? ' (disturbed)' : ''
  if (row.met === null) return `${row.ratios === null ? 'no baseline' : 'no target'}${note}`
  return `${row.met ? 'met' : 'MISSED'}${note}`
}

/** The main table: the four figures, each with its ratio to bare node:http, and the target. */
export function mainTable(rows: Row[]): string {
  const header = [
    'target',
    'req/s',
    'bare req/s',
    'vs bare',
    'target',
    'p50 ms',
    'vs bare',
    'p99 ms',
    'vs bare',
    'CPU µs/req',
    'vs bare',
    'result',
  ]
  const right = [false, true, true, true, true, true, true, true, true, true, true, false]
  const cells = rows.map((row) => {
    const f = row.figures
    const x = row.ratios ?? undefined
    const goal =
      row.minRpsRatio === null
        ? row.name === 'bare'
          ? ''
          : '—'
        : `≥ ${row.minRpsRatio.toFixed(2)}`
    const base = row.baseline === null ? '—' : int(row.baseline.rps)
    if (f === null)
      return [row.label, '—', base, '—', goal, '—', '—', '—', '—', '—', '—', verdict(row)]
    return [
      row.label,
      int(f.rps),
      row.name === 'bare' ? '' : base,
      times(x?.rps, 3),
      goal,
      fixed(f.p50Ms, 2),
      times(x?.p50),
      fixed(f.p99Ms, 2),
      times(x?.p99),
      fixed(f.cpuUsPerRequest, 1),
      times(x?.cpuPerRequest),
      verdict(row),
    ]
  })
  return table(header, cells, right)
}

/** The diagnostics table: who used the CPU, how much was sent, what failed. */
export function diagnosticsTable(results: TargetResult[]): string {
  const header = [
    'run',
    'server cores',
    'server loop',
    'client cores',
    'store µs/req',
    'other cores',
    'steal',
    'bytes/resp',
    'responses',
    'non-2xx',
    'errors',
    'setup ms',
  ]
  const right = [false, true, true, true, true, true, true, true, true, true, true, true]
  const cells = results
    .filter((r) => r.load !== null)
    .map((r) => {
      const l = r.load!
      return [
        r.label,
        r.server ? fixed(r.server.cores, 2) : '—',
        r.server ? `${fixed(r.server.elu * 100, 0)}%` : '—',
        fixed(l.clientCpu, 2),
        r.storeUsPerRequest === null ? '—' : fixed(r.storeUsPerRequest, 1),
        r.otherCores === null ? '—' : fixed(r.otherCores, 2),
        r.stealCores === null ? '—' : fixed(r.stealCores, 2),
        int(l.bytesPerResponse),
        int(l.responses),
        int(l.non2xx),
        int(l.errors),
        r.setupMs === null ? '—' : int(r.setupMs),
      ]
    })
  return table(header, cells, right)
}
