#!/usr/bin/env node
/** @module The `parley` command: serve, sessions, audit, keys, users, token. */
import { Command, CommanderError } from 'commander'
import { isParleyError } from '../core/errors.ts'
import { ConfigError } from '../server/config.ts'
import { registerAdminCommands } from './admin.ts'
import { registerServe } from './serve.ts'
import { registerTokenCommands } from './token.ts'
import { registerUserCommands } from './users.ts'

// node:sqlite announces itself as experimental on every start; the embedded store is tested here.
const emitWarning = process.emitWarning.bind(process)
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning.message
  if (/SQLite is an experimental feature/.test(text)) return
  return (emitWarning as (...a: unknown[]) => void)(warning, ...rest)
}) as typeof process.emitWarning

const program = new Command()
  .name('parley')
  .description(
    'Parley: the session layer. Run the server, inspect and end sessions, read the audit trail.',
  )
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride()

registerServe(program)
registerAdminCommands(program)
registerUserCommands(program)
registerTokenCommands(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2
  } else if (err instanceof ConfigError) {
    process.stderr.write(`parley: invalid configuration: ${err.message}\n`)
    process.exitCode = 2
  } else if (isParleyError(err)) {
    process.stderr.write(`parley: ${err.code}: ${err.message}\n`)
    process.exitCode = err.code === 'ERR_STORE_UNAVAILABLE' ? 3 : 1
  } else {
    process.stderr.write(`parley: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exitCode = 1
  }
}
