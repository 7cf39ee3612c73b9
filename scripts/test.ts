/**
 * @module `npm test`: type-check, lint, then every test (vitest), ending with one plain summary line
 * `N passed, N failed`. Exits non-zero when anything failed.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'

const bin = (name: string) => `node_modules/.bin/${name}`
const run = (label: string, cmd: string, args: string[]) => {
  process.stdout.write(`\n== ${label}: ${cmd} ${args.join(' ')}\n`)
  return spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1
}

const failures: string[] = []
if (run('typecheck', bin('tsc'), ['-p', 'tsconfig.json']) !== 0) failures.push('typecheck')
if (run('lint', bin('biome'), ['check', '.']) !== 0) failures.push('lint')

mkdirSync('.vitest', { recursive: true })
const report = '.vitest/report.json'
rmSync(report, { force: true })
const extra = process.argv.slice(2)
const vitestStatus = run('tests', bin('vitest'), [
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...extra,
])

let passed = 0
let failed = 0
let skipped = 0
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8')) as {
    numPassedTests: number
    numFailedTests: number
    numPendingTests: number
    numTodoTests: number
    numTotalTestSuites: number
    testResults: { status: string }[]
  }
  passed = r.numPassedTests
  failed = r.numFailedTests
  skipped = r.numPendingTests + r.numTodoTests
  if (r.testResults.some((f) => f.status === 'failed') && failed === 0)
    failures.push('a test file failed to load')
} else failures.push('no test report')
if (vitestStatus !== 0 && failed === 0 && !failures.length)
  failures.push('vitest exited with an error')
if (passed === 0) failures.push('no test ran')
failed += failures.length

if (failures.length) process.stdout.write(`\nfailed checks: ${failures.join(', ')}\n`)
process.stdout.write(
  `\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
)
process.exit(failed === 0 && vitestStatus === 0 ? 0 : 1)
