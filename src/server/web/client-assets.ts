/**
 * @module `parley/client` for browsers: the SDK's modules (src/client/) served as JavaScript at
 * `/assets/client/<name>.js`. From the sources, types are stripped at start (`stripTypeScriptTypes`,
 * mode 'strip') and `./x.ts` specifiers become `./x.js`; from a build, the emitted files are served.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { stripTypeScriptTypes } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { problemOf, sendProblem } from '../problem.ts'

/** The URL prefix of the client modules. */
export const CLIENT_ASSETS_PATH = '/assets/client/'

const CLIENT_DIR = fileURLToPath(new URL('../../client/', import.meta.url))
const NAME = /^[a-z0-9-]+$/
/** A static import or export specifier, or a dynamic import with a literal. */
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g

/** `./x.ts` -> `./x.js`; anything that is not a sibling module is refused (the SDK stands alone). */
export function rewriteSpecifiers(code: string, file: string): string {
  return code.replace(SPECIFIER, (_all, head: string, quote: string, spec: string) => {
    const sibling = /^\.\/([a-z0-9-]+)\.(?:ts|js)$/.exec(spec)
    if (sibling === null)
      throw new Error(`${file}: the client may import only ./<module>.ts, not ${spec}`)
    return `${head}${quote}./${sibling[1]}.js${quote}`
  })
}

/** Module name (without extension) -> JavaScript, read and transformed once. */
export function loadClientModules(dir = CLIENT_DIR): Map<string, string> {
  const modules = new Map<string, string>()
  for (const file of readdirSync(dir).sort()) {
    const ts = /^([a-z0-9-]+)\.ts$/.exec(file)
    const js = /^([a-z0-9-]+)\.js$/.exec(file)
    const name = ts?.[1] ?? js?.[1]
    if (name === undefined || file.endsWith('.d.ts') || modules.has(name)) continue
    const source = readFileSync(`${dir}${file}`, 'utf8')
    const code =
      ts !== null
        ? stripTypeScriptTypes(source, { mode: 'strip' })
        : source.replace(/^\/\/# sourceMappingURL=.*$/m, '') // the map is not served
    modules.set(name, rewriteSpecifiers(code, file))
  }
  return modules
}

/**
 * Registers `GET /assets/client/:file` on `scope` (the pages' scope, so their headers apply).
 *
 * @example
 * registerClientAssets(scope) // then: import { ParleyClient } from '/assets/client/index.js'
 */
export function registerClientAssets(scope: FastifyInstance, modules = loadClientModules()): void {
  scope.get(`${CLIENT_ASSETS_PATH}:file`, async (request, reply) => {
    const { file } = request.params as { file: string }
    const name = file.endsWith('.js') ? file.slice(0, -3) : ''
    const code = NAME.test(name) ? modules.get(name) : undefined
    if (code === undefined) return sendProblem(reply, problemOf('ERR_NOT_FOUND'))
    return reply.type('text/javascript; charset=utf-8').send(code)
  })
}
