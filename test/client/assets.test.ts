/**
 * @module The browser build of `parley/client` as /assets/client/ serves it: every module found,
 * types stripped, `./x.ts` rewritten to `./x.js`, and nothing imported from outside src/client
 * (no node:*, no server code), so the SDK runs in a browser as it is.
 */
import { describe, expect, it } from 'vitest'
import { loadClientModules, rewriteSpecifiers } from '../../src/server/web/client-assets.ts'

describe('client assets', () => {
  it('serves every module of src/client, as JavaScript with sibling .js imports only', () => {
    const modules = loadClientModules()
    expect([...modules.keys()]).toEqual(
      expect.arrayContaining(['index', 'client', 'refresh', 'token-state', 'events', 'http']),
    )
    for (const [name, code] of modules) {
      const specifiers = [...code.matchAll(/from\s*'([^']+)'/g)].map((m) => m[1])
      for (const s of specifiers) expect(s, name).toMatch(/^\.\/[a-z0-9-]+\.js$/)
      expect(code, name).not.toMatch(/\bimport type\b|^\s*(export )?interface /m)
    }
  })

  it('refuses an import from outside the client: a Node module, the server, a package', () => {
    for (const spec of ['node:fs', '../core/clock.ts', 'jose', './sub/x.ts']) {
      expect(() => rewriteSpecifiers(`import { x } from '${spec}'`, 'x.ts')).toThrow(
        /may import only/,
      )
    }
    expect(rewriteSpecifiers(`export { a } from "./a.ts"\nimport('./b.ts')`, 'x.ts')).toBe(
      `export { a } from "./a.js"\nimport('./b.js')`,
    )
  })
})
