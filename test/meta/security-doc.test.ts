import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DOC, provedBy, render } from '../../scripts/security-doc.ts'

describe('docs/security.md', () => {
  const doc = readFileSync(DOC, 'utf8')
  const rows = [...doc.matchAll(/^\| (SEC-\d\d) \| [^|]+ \| ([^|]+) \|/gm)].map((m) => ({
    id: m[1]!,
    status: m[2]!.trim(),
  }))

  it('lists every requirement SEC-01 to SEC-58 once', () => {
    expect(rows.map((r) => r.id)).toEqual(
      Array.from({ length: 58 }, (_, i) => `SEC-${String(i + 1).padStart(2, '0')}`),
    )
  })

  it('names, for each requirement, exactly the test files whose test titles carry its id (run scripts/security-doc.ts)', () => {
    expect(doc).toBe(render(doc))
  })

  it('calls a requirement met only when a test proves it, and every tested requirement is called met', () => {
    const proved = provedBy()
    for (const r of rows) {
      if (r.status.startsWith('met'))
        expect(proved.has(r.id), `${r.id} is "met" without a test`).toBe(true)
      else expect(r.status, `${r.id} has tests but says "${r.status}"`).toMatch(/^(not yet|partly)/)
    }
  })

  it('names, for each attack scenario it calls met or partly, files that hold a test titled with it', () => {
    const scenarios = [...doc.matchAll(/^\| (\d+) \| [^|]+ \| ([^|]+) \| ([^|]+) \|/gm)]
    expect(scenarios.map((m) => Number(m[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    for (const [, n, status, files] of scenarios) {
      const named = [...files!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)
      if (status!.trim().startsWith('not yet')) {
        expect(named, `scenario ${n}`).toEqual([])
        continue
      }
      expect(named.length, `scenario ${n}`).toBeGreaterThan(0)
      for (const file of named) {
        const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
        expect(text, `${file} has no test for scenario ${n}`).toMatch(
          new RegExp(`(it|describe)\\('[^']*scenario ${n}\\b`),
        )
      }
    }
  })
})
