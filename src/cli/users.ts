/**
 * @module `parley users`: accounts for the sign-in pages, managed by an administrator: create (the
 * password read from standard input, never from the command line), show, disable, enable, and
 * set roles and permissions (SEC-15, SEC-36).
 */
import type { Command } from 'commander'
import { Auth } from '../auth/auth.ts'
import type { PublicUser } from '../auth/public-user.ts'
import { ParleyError } from '../core/errors.ts'
import { Sessions } from '../core/sessions.ts'
import { openStore, usersOf } from '../server/open-store.ts'
import { loadSecret } from '../server/secret.ts'
import { addConfigOptions, configFrom, STORE_SETTINGS } from './options.ts'

type Opts = Record<string, unknown>

function out(line: string): void {
  process.stdout.write(`${line}\n`)
}

/** Opens the configured store and its users, runs `fn` with an Auth, always closes the store. */
async function withAuth<T>(opts: Opts, fn: (auth: Auth) => Promise<T>): Promise<T> {
  const config = configFrom(opts)
  const secret = loadSecret({
    configured: config.secret,
    dataDir: config.dataDir,
    production: config.production,
  })
  const store = await openStore(config)
  try {
    const users = usersOf(store)
    await users.init()
    const sessions = new Sessions({ store, policy: config.policy })
    return await fn(new Auth({ users, sessions, secret }))
  } finally {
    await store.close()
  }
}

function list(raw: unknown): string[] | undefined {
  if (raw === undefined) return undefined
  return String(raw)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/** The password, from standard input (first line): never an argument, which `ps` would show. */
async function passwordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new ParleyError(
      'ERR_VALIDATION',
      'pipe the password on standard input, e.g. `printf %s "$PASSWORD" | parley users create ann`',
    )
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer)
    size += (chunk as Buffer).length
    if (size > 4096) throw new ParleyError('ERR_VALIDATION', 'the password is too long')
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? ''
}

function show(user: PublicUser, json: boolean): void {
  if (json) {
    out(JSON.stringify(user, null, 2))
    return
  }
  out(`id           ${user.id}`)
  out(`username     ${user.username}`)
  out(`disabled     ${user.disabled ? 'yes' : 'no'}`)
  out(`roles        ${user.roles.join(', ') || '-'}`)
  out(`permissions  ${user.permissions.join(', ') || '-'}`)
  out(
    `totp         ${user.totpEnabled ? `on (${user.recoveryCodesLeft} recovery codes left)` : 'off'}`,
  )
  out(`created      ${new Date(user.createdAt).toISOString()}`)
}

function userCommand(parent: Command, name: string, description: string): Command {
  const cmd = parent
    .command(name)
    .description(description)
    .argument('<username>')
    .option('--json', 'print JSON')
  return addConfigOptions(cmd, [...STORE_SETTINGS, 'production'])
}

export function registerUserCommands(program: Command): void {
  const users = program
    .command('users')
    .description('Accounts for the sign-in pages: create, show, disable, enable, privileges')

  userCommand(users, 'create', 'Create an account; the password is read from standard input')
    .option('--roles <list>', 'comma-separated roles')
    .option('--permissions <list>', 'comma-separated permissions')
    .action((username: string, opts: Opts) =>
      withAuth(opts, async (auth) => {
        const password = await passwordFromStdin()
        const roles = list(opts.roles)
        const permissions = list(opts.permissions)
        const user = await auth.createUser(
          {
            username,
            password,
            ...(roles ? { roles } : {}),
            ...(permissions ? { permissions } : {}),
          },
          'cli',
        )
        show(user, Boolean(opts.json))
      }),
    )

  userCommand(users, 'show', 'Show an account (never its password hash or factors)').action(
    (username: string, opts: Opts) =>
      withAuth(opts, async (auth) => show(await auth.getUserByName(username), Boolean(opts.json))),
  )

  userCommand(users, 'disable', 'Refuse sign-in and end every session of the account').action(
    (username: string, opts: Opts) =>
      withAuth(opts, async (auth) => {
        const { id } = await auth.getUserByName(username)
        const { user, sessionsEnded } = await auth.disableUser(id, 'cli')
        if (opts.json) return out(JSON.stringify({ user, sessionsEnded }, null, 2))
        out(`disabled ${user.username}; ended ${sessionsEnded} session(s) (principal_disabled)`)
      }),
  )

  userCommand(users, 'enable', 'Let a disabled account sign in again').action(
    (username: string, opts: Opts) =>
      withAuth(opts, async (auth) => {
        const { id } = await auth.getUserByName(username)
        show(await auth.enableUser(id, 'cli'), Boolean(opts.json))
      }),
  )

  userCommand(
    users,
    'set-privileges',
    'Replace roles and permissions; active sessions are refreshed at once',
  )
    .option('--roles <list>', 'comma-separated roles (empty: none)')
    .option('--permissions <list>', 'comma-separated permissions (empty: none)')
    .action((username: string, opts: Opts) =>
      withAuth(opts, async (auth) => {
        const user = await auth.getUserByName(username)
        const updated = await auth.setPrivileges(
          user.id,
          {
            roles: list(opts.roles) ?? user.roles,
            permissions: list(opts.permissions) ?? user.permissions,
          },
          'cli',
        )
        show(updated, Boolean(opts.json))
      }),
    )
}
