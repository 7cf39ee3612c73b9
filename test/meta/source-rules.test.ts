import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = new URL('../../', import.meta.url).pathname
const srcFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? srcFiles(path) : path.endsWith('.ts') ? [path] : []
  })
const files = srcFiles(join(root, 'src')).map((path) => ({
  path: relative(root, path),
  text: readFileSync(path, 'utf8'),
}))

describe('source rules', () => {
  it('time is injected: only src/core/clock.ts (and its browser counterpart src/client/clock.ts) reads the system clock', () => {
    const clocks = ['src/core/clock.ts', 'src/client/clock.ts']
    const offenders = files.filter(
      (f) => /Date\.now\b|new Date\(\)|performance\.now\b/.test(f.text) && !clocks.includes(f.path),
    )
    expect(offenders.map((f) => f.path)).toEqual([])
  })

  it('SEC-01: no Math.random anywhere in src; ids and secrets come from node:crypto', () => {
    expect(files.filter((f) => f.text.includes('Math.random')).map((f) => f.path)).toEqual([])
    const token = files.find((f) => f.path === 'src/core/token.ts')!.text
    expect(token).toMatch(/randomBytes\(ID_BYTES\)/)
    expect(token).toMatch(/ID_BYTES = 16/)
  })

  it('drivers are imported only inside their own adapter folder', () => {
    const drivers: Record<string, string[]> = {
      redis: ['src/store/redis/'],
      pg: ['src/store/postgres/'],
      'node:sqlite': ['src/store/sqlite/'],
      fastify: ['src/server/', 'src/http/fastify/'],
      express: ['src/http/express/'],
      hono: ['src/http/hono/'],
      ws: ['src/live/'],
    }
    for (const f of files) {
      for (const [driver, folders] of Object.entries(drivers)) {
        const imports = new RegExp(`from '${driver}(/[^']*)?'`).test(f.text)
        if (imports) {
          expect(
            folders.some((folder) => f.path.startsWith(folder)),
            `${f.path} imports ${driver}`,
          ).toBe(true)
        }
      }
    }
  })

  it('the core imports nothing outside the core', () => {
    for (const f of files.filter((x) => x.path.startsWith('src/core/'))) {
      const bad = [...f.text.matchAll(/from '(\.\.\/[^']+)'/g)].map((m) => m[1])
      expect(bad, f.path).toEqual([])
    }
  })

  it('every file starts with a one-line @module comment', () => {
    const missing = files
      .filter((f) => !/^(#!.*\n)?\/\*\*[\s\S]*?@module/.test(f.text))
      .map((f) => f.path)
    expect(missing).toEqual([])
  })

  it('the package exports map names only entries that exist in src', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    for (const [subpath, target] of Object.entries(
      pkg.exports as Record<string, { default: string; types: string }>,
    )) {
      const source = target.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')
      expect(
        files.some((f) => f.path === source),
        `${subpath} -> ${source}`,
      ).toBe(true)
      expect(target.types).toBe(target.default.replace(/\.js$/, '.d.ts'))
    }
    expect(pkg.bin.parley).toBe('./dist/cli/main.js')
  })
})
