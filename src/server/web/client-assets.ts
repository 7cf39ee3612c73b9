/**
 * @module `parley/client` for browsers: the SDK's modules (src/client/) and the live code it shares
 * with the server (src/live/protocol/, src/live/engine/, the end reasons of src/core/session.ts)
 * served as JavaScript at `/assets/client/<name>.js`, flat: `../live/engine/peer.ts` becomes
 * `./engine-peer.js`. From the sources, types are stripped at start (`stripTypeScriptTypes`, mode
 * 'strip'); from a build, the emitted files are served.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { stripTypeScriptTypes } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { problemOf, sendProblem } from '../problem.ts'

/** The URL prefix of the client modules. */
export const CLIENT_ASSETS_PATH = '/assets/client/'

const SRC_DIR = fileURLToPath(new URL('../../', import.meta.url))
const NAME = /^[a-z0-9-]+$/
/** A static import or export specifier, or a dynamic import with a literal. */
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g

/**
 * The folders served, each under a flat name prefix: the SDK itself, and the browser-safe code it
 * shares with the server (the `parley.v1` codec and engine, and the end reasons of the core).
 */
const ROOTS: readonly { dir: string; prefix: string; only?: readonly string[] }[] = [
  { dir: 'client/', prefix: '' },
  { dir: 'live/protocol/', prefix: 'protocol-' },
  { dir: 'live/engine/', prefix: 'engine-' },
  { dir: 'core/', prefix: 'core-', only: ['session'] },
]

/** Absolute path of a module without extension -> the flat name it is served under. */
type NameMap = ReadonlyMap<string, string>

/**
 * Rewrites every import of `file` to the flat name of the served module it resolves to
 * (`../live/engine/peer.ts` -> `./engine-peer.js`); anything else is refused (the SDK stands
 * alone: no Node module, no server code, no package).
 */
export function rewriteSpecifiers(code: string, file: string, names?: NameMap): string {
  const map = names ?? defaultNames()
  const dir = file.slice(0, file.lastIndexOf('/') + 1)
  return code.replace(SPECIFIER, (_all, head: string, quote: string, spec: string) => {
    const relative = /^\.{1,2}\/[a-z0-9./-]*?\.(?:ts|js)$/.test(spec)
    const target = relative
      ? map.get(resolvePath(dir, spec.replace(/\.(?:ts|js)$/, '')))
      : undefined
    if (target === undefined)
      throw new Error(
        `${file}: the client may import only the SDK and the shared live code, not ${spec}`,
      )
    return `${head}${quote}./${target}.js${quote}`
  })
}

function resolvePath(dir: string, spec: string): string {
  const parts = `${dir}${spec}`.split('/')
  const out: string[] = []
  for (const part of parts) {
    if (part === '..') out.pop()
    else if (part !== '.') out.push(part)
  }
  return out.join('/')
}

function listModules(root = SRC_DIR): { file: string; name: string }[] {
  const found: { file: string; name: string }[] = []
  const seen = new Set<string>()
  for (const { dir, prefix, only } of ROOTS) {
    for (const entry of readdirSync(`${root}${dir}`).sort()) {
      const m = /^([a-z0-9-]+)\.(ts|js)$/.exec(entry)
      if (m === null || entry.endsWith('.d.ts')) continue
      if (only !== undefined && !only.includes(m[1] as string)) continue
      const name = `${prefix}${m[1]}`
      if (seen.has(name)) continue // a source and its build: the first found wins
      seen.add(name)
      found.push({ file: `${root}${dir}${entry}`, name })
    }
  }
  return found
}

let cachedNames: NameMap | null = null
function defaultNames(): NameMap {
  cachedNames ??= namesOf(listModules())
  return cachedNames
}

function namesOf(modules: { file: string; name: string }[]): NameMap {
  return new Map(modules.map((m) => [m.file.replace(/\.(?:ts|js)$/, ''), m.name]))
}

/** Module name (without extension) -> JavaScript, read and transformed once. */
export function loadClientModules(root = SRC_DIR): Map<string, string> {
  const list = listModules(root)
  const names = namesOf(list)
  const modules = new Map<string, string>()
  for (const { file, name } of list) {
    if (!NAME.test(name)) continue
    const source = readFileSync(file, 'utf8')
    const code = file.endsWith('.ts')
      ? stripTypeScriptTypes(source, { mode: 'strip' })
      : source.replace(/^\/\/# sourceMappingURL=.*$/m, '') // the map is not served
    modules.set(name, rewriteSpecifiers(code, file, names))
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
