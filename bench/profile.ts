/**
 * @module Summarises a V8 CPU profile (`.cpuprofile`, as written with BENCH_PROFILE=1): the
 * functions with the most self time and the most inclusive time, as shares of the samples.
 *
 * Usage: `node bench/profile.ts <file.cpuprofile> [top]`
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  const where = url
    .replace(/^file:\/\/.*?\/node_modules\//, '')
    .replace(`file://${process.cwd()}/`, '')
  return `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim()
}

/** Where a function belongs: Parley, a dependency, Node's JavaScript, native code, or V8's own. */
function area(node: ProfileNode): string {
  const { functionName, url } = node.callFrame
  if (functionName.startsWith('(')) return functionName // (idle) (garbage collector) (program)
  if (url === '') return `native ${functionName || '(anonymous)'}`.trim()
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (dep) return `dependency ${dep[1]}`
  if (url.startsWith('node:')) return 'node internals (JavaScript)'
  if (url.includes('/src/')) return 'parley src/'
  if (url.includes('/bench/')) return 'bench/'
  return url
}

export function summarise(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const timeOf = new Map<number, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    timeOf.set(id, (timeOf.get(id) ?? 0) + dt)
    total += dt
  })
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const areas = new Map<string, number>()
  for (const [id, t] of timeOf) {
    const key = label(byId.get(id)!)
    self.set(key, (self.get(key) ?? 0) + t)
    const a = area(byId.get(id)!)
    areas.set(a, (areas.get(a) ?? 0) + t)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur)!)
      if (seen.has(k)) continue
      seen.add(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + t)
    }
  }
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => `${((t / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n')
  return [
    `${(total / 1e6).toFixed(2)} s sampled`,
    '',
    'self time by area:',
    list(areas),
    '',
    'self time:',
    list(self),
    '',
    'inclusive time:',
    list(inclusive),
  ].join('\n')
}

const file = process.argv[2]
if (file === undefined) {
  console.error('usage: node bench/profile.ts <file.cpuprofile> [top]')
  process.exitCode = 2
} else {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  console.log(summarise(profile, Number(process.argv[3] ?? 30)))
}
