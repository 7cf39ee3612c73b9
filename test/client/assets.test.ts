/**
 * @module The browser build of `parley/client` as /assets/client/ serves it: every module found,
 * types stripped, `./x.ts` rewritten to `./x.js`, and nothing imported from outside src/client
 * (no node:*, no server code), so the SDK runs in a browser as it is.
 */
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadClientModules, rewriteSpecifiers } from '../../src/server/web/client-assets.ts'

describe('client assets', () => {
  it('serves every module of src/client, as JavaScript with sibling .js imports only', () => {
    const modules = loadClientModules()
    expect([...modules.keys()]).toEqual(
      expect.arrayContaining([
        'index',
        'client',
        'refresh',
        'token-state',
        'events',
        'http',
        'protocol-codec',
        'protocol-schema',
        'core-session',
      ]),
    )
    for (const [name, code] of modules) {
      const specifiers = [...code.matchAll(/from\s*'([^']+)'/g)].map((m) => m[1])
      for (const s of specifiers) expect(s, name).toMatch(/^\.\/[a-z0-9-]+\.js$/)
      expect(code, name).not.toMatch(/\bimport type\b|^\s*(export )?interface /m)
    }
  })

  it('refuses an import from outside the client: a Node module, the server, a package', () => {
    const file = fileURLToPath(new URL('../../src/client/x.ts', import.meta.url))
    for (const spec of ['node:fs', '../core/clock.ts', '../server/app.ts', 'jose', './sub/x.ts']) {
      expect(() => rewriteSpecifiers(`import { x } from '${spec}'`, file)).toThrow(
        /may import only/,
      )
    }
    expect(
      rewriteSpecifiers(
        `export { a } from "./client.ts"\nimport('./http.ts')\nimport { c } from '../live/protocol/codec.ts'`,
        file,
      ),
    ).toBe(
      `export { a } from "./client.js"\nimport('./http.js')\nimport { c } from './protocol-codec.js'`,
    )
  })
})
