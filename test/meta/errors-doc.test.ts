import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES } from '../../src/core/errors.ts'

describe('docs/errors.md', () => {
  it('documents exactly the error codes the code can produce, with the same statuses', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    const rows = [...doc.matchAll(/^\|\s*`(ERR_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => [
      m[1],
      Number(m[2]),
    ])
    const documented = Object.fromEntries(rows)
    const actual = Object.fromEntries(
      Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status]),
    )
    expect(rows.length).toBe(Object.keys(documented).length) // no code documented twice
    expect(documented).toEqual(actual)
  })
})
