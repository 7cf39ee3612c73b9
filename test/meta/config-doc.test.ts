import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { kebab, SETTINGS } from '../../src/server/config.ts'

describe('docs/configuration.md', () => {
  it('lists exactly the settings the server reads, with their flags, variables and defaults', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
    const rows = [
      ...doc.matchAll(
        /^\|\s*`(\w+)`\s*\|\s*`(--[\w-]+)`\s*\|\s*`(\w+)`\s*\|\s*(`[^`]*`|\(none\))\s*\|/gm,
      ),
    ].map((m) => m.slice(1, 5).join(' '))
    const actual = SETTINGS.map((s) =>
      [
        s.key,
        `--${kebab(s.key)}`,
        s.env,
        s.default === null ? '(none)' : `\`${String(s.default)}\``,
      ].join(' '),
    )
    expect(rows).toEqual(actual)
  })
})
