/** @module Shared command-line options: every setting of the configuration table as a flag. */
import { type Command, Option } from 'commander'
import {
  kebab,
  loadConfig,
  SETTINGS,
  type ServerConfig,
  type SettingKey,
} from '../server/config.ts'

/** Adds `--config <file>` and one flag per setting (with its environment variable in the help). */
export function addConfigOptions(cmd: Command, only?: readonly SettingKey[]): Command {
  cmd.addOption(
    new Option('--config <file>', 'JSON file with settings (flags and environment win)'),
  )
  for (const s of SETTINGS) {
    if (only && !only.includes(s.key)) continue
    if (s.key === 'secret') continue // a secret on the command line would end up in `ps` and shell history
    const def = s.default === null ? '' : ` (default ${String(s.default)})`
    cmd.addOption(new Option(`--${kebab(s.key)} <value>`, `${s.help}${def} [${s.env}]`))
  }
  return cmd
}

/** Reads the configuration from a command's parsed options and the process environment. */
export function configFrom(opts: Record<string, unknown>): ServerConfig {
  const flags: Partial<Record<SettingKey, unknown>> = {}
  for (const s of SETTINGS) if (opts[s.key] !== undefined) flags[s.key] = opts[s.key]
  return loadConfig(
    flags,
    process.env,
    (opts.config as string | undefined) ?? process.env.PARLEY_CONFIG,
  )
}

export const STORE_SETTINGS: readonly SettingKey[] = [
  'store',
  'dataDir',
  'redisPrefix',
  'postgresSchema',
]
