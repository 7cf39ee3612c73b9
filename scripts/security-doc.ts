/**
 * @module Keeps docs/security.md truthful: fills each requirement's "proved by" cell from the test
 * titles that name its id. `node scripts/security-doc.ts` rewrites the file;
 * test/meta/security-doc.test.ts fails when the committed file differs from what this produces.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('../', import.meta.url).pathname
export const DOC = join(root, 'docs/security.md')

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory()
      ? testFiles(path)
      : /\.(test|case)\.ts$/.test(name)
        ? [path]
        : []
  })
}

/** Every SEC id named in a test title, with the files that hold such titles. */
export function provedBy(): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>()
  for (const file of testFiles(join(root, 'test'))) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/\bit\(\s*(['"`])((?:SEC-\d\d[ ,:]*)+)/g)) {
      for (const id of m[2]!.match(/SEC-\d\d/g) ?? []) {
        if (!map.has(id)) map.set(id, new Set())
        map.get(id)!.add(relative(root, file))
      }
    }
  }
  return map
}

/** The document with every requirement row's last cell regenerated. */
export function render(doc: string): string {
  const proved = provedBy()
  return doc.replace(
    /^\| (SEC-\d\d) \| ([^|]+) \| ([^|]+) \|[^\n]*$/gm,
    (_row, id: string, requirement: string, status: string) => {
      const files = [...(proved.get(id) ?? [])].sort()
      const cell = files.length ? files.map((f) => `\`${f}\``).join(', ') : '-'
      return `| ${id} | ${requirement.trim()} | ${status.trim()} | ${cell} |`
    },
  )
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(DOC, render(readFileSync(DOC, 'utf8')))
  process.stdout.write('docs/security.md updated\n')
}
