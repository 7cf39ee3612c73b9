import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = new URL('../../', import.meta.url).pathname
// inside the project, so that the built files resolve the project's node_modules
mkdirSync(join(root, '.vitest'), { recursive: true })
const out = mkdtempSync(join(root, '.vitest', 'build-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe('npm run build', () => {
  it('emits JavaScript and declarations for every exported entry, and the built CLI runs', async () => {
    await run(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', out], {
      cwd: root,
    })
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    for (const target of Object.values(
      pkg.exports as Record<string, { default: string; types: string }>,
    )) {
      expect(existsSync(join(out, target.default.replace('./dist/', '')))).toBe(true)
      expect(existsSync(join(out, target.types.replace('./dist/', '')))).toBe(true)
    }
    const lib = await import(join(out, 'index.js'))
    expect(typeof lib.Sessions).toBe('function')
    expect(typeof lib.MemoryStore).toBe('function')
    const { stdout } = await run(process.execPath, [
      join(out, 'cli/main.js'),
      'keys',
      'list',
      '--store',
      'memory',
      '--json',
    ])
    expect(JSON.parse(stdout)).toEqual([])
  }, 120_000)
})
