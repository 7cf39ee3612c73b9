/** @module Keeps docs/protocol.md equal to the code: close codes, limits and frame fields. */

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  CLOSE_CODES,
  DEFAULT_LIMITS,
  type FieldSpec,
  FRAME_TYPES,
  mayResume,
  SCHEMAS,
} from '../../src/live/protocol/index.ts'

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')

/** The text of the level-2 section whose title starts with `title`. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}`)
  expect(start, `section "${title}"`).toBeGreaterThan(-1)
  const end = doc.indexOf('\n## ', start + 1)
  return doc.slice(start, end === -1 ? undefined : end)
}

/** Field names of a schema, nested ones as `parent.child`, in encoder order. */
function fieldNames(fields: Readonly<Record<string, FieldSpec>>, prefix = ''): string[] {
  return Object.entries(fields).flatMap(([name, spec]) => [
    `${prefix}${name}`,
    ...(spec.kind === 'obj' ? fieldNames(spec.fields, `${prefix}${name}.`) : []),
  ])
}

describe('docs/protocol.md', () => {
  it('lists exactly the close codes of CLOSE_CODES, with the same names, resumability, SEC ids and descriptions', () => {
    const rows = [
      ...section('13.').matchAll(
        /^\| (\d{4}) \| `([a-z_]+)`\s*\| (yes|no)\s*\| (SEC-\d\d|-)\s*\| (.+?)\s*\|$/gm,
      ),
    ].map(([, code, name, resumable, sec, description]) => ({
      code: Number(code),
      name,
      resumable: resumable === 'yes',
      sec: sec === '-' ? null : sec,
      description,
    }))
    const actual = Object.entries(CLOSE_CODES).map(([name, c]) => ({ name, ...c }))
    expect(rows).toEqual(
      actual.map(({ code, name, resumable, sec, description }) => ({
        code,
        name,
        resumable,
        sec,
        description,
      })),
    )
  })

  it('keeps every close code in the range that says whether to resume', () => {
    for (const { code, resumable } of Object.values(CLOSE_CODES)) {
      expect(mayResume(code), String(code)).toBe(resumable)
      expect(code >= 4000 && code < 4300).toBe(true)
    }
    expect(new Set(Object.values(CLOSE_CODES).map((c) => c.code)).size).toBe(
      Object.keys(CLOSE_CODES).length,
    )
    expect([1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4099].map(mayResume)).not.toContain(
      false,
    )
    expect([
      1002, 1003, 1007, 1008, 1009, 1010, 1015, 3000, 4100, 4299, 4300, 4999, 4000.5,
    ]).toSatisfy((codes: number[]) => codes.every((c) => !mayResume(c)))
  })

  it('lists exactly the limits of DEFAULT_LIMITS, with the same defaults', () => {
    const rows = [...section('14. Limits').matchAll(/^\| `(\w+)`\s*\| (\d+)\s*\|/gm)].map(
      ([, name, value]) => [name, Number(value)],
    )
    expect(Object.fromEntries(rows)).toEqual(DEFAULT_LIMITS)
    expect(rows.length).toBe(Object.keys(DEFAULT_LIMITS).length)
  })

  it('describes every frame type, in order, with exactly the fields of its schema', () => {
    const reference = section('15. Frame reference')
    const parts = reference.split(/^### `(\w+)`$/m).slice(1)
    const documented: Record<string, string[]> = {}
    for (let i = 0; i < parts.length; i += 2) {
      documented[parts[i]!] = [...parts[i + 1]!.matchAll(/^\| `([\w.]+)`\s*\|/gm)].map((m) => m[1]!)
    }
    expect(Object.keys(documented)).toEqual([...FRAME_TYPES])
    for (const t of FRAME_TYPES) expect(documented[t], t).toEqual(fieldNames(SCHEMAS[t]))
  })
})
