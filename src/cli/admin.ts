/** @module Administration commands that work on the store directly: sessions, audit, keys. */
import { type Command, Option } from 'commander'
import { systemClock } from '../core/clock.ts'
import { ParleyError } from '../core/errors.ts'
import { END_REASONS, type EndReason } from '../core/session.ts'
import { Sessions } from '../core/sessions.ts'
import type { SessionStore } from '../core/store.ts'
import { isWellFormedId } from '../core/token.ts'
import { createApiKey, keyLabel } from '../server/api-keys.ts'
import { openStore } from '../server/open-store.ts'
import { formatEvent, formatSession, formatSessionRow, REASON_TEXT } from './format.ts'
import { addConfigOptions, configFrom, STORE_SETTINGS } from './options.ts'

type Opts = Record<string, unknown>

function out(line: string): void {
  process.stdout.write(`${line}\n`)
}

/** Opens the configured store, runs `fn` with a Sessions manager, always closes the store. */
async function withSessions<T>(
  opts: Opts,
  fn: (sessions: Sessions, store: SessionStore) => Promise<T>,
): Promise<T> {
  const config = configFrom(opts)
  const store = await openStore(config)
  try {
    return await fn(new Sessions({ store, policy: config.policy }), store)
  } finally {
    await store.close()
  }
}

const reasonOption = (def: EndReason) =>
  new Option('--reason <reason>', 'why the session ends').choices([...END_REASONS]).default(def)

function storeCommand(parent: Command, name: string, description: string): Command {
  const cmd = parent.command(name).description(description).option('--json', 'print JSON')
  return addConfigOptions(cmd, STORE_SETTINGS)
}

export function registerAdminCommands(program: Command): void {
  const sessions = program.command('sessions').description('List, show and end sessions (SEC-17)')

  storeCommand(sessions, 'list', 'List the active sessions of a principal')
    .requiredOption('--principal <principal>', 'whose sessions')
    .action((opts: Opts) =>
      withSessions(opts, async (m) => {
        const list = await m.list(opts.principal as string)
        if (opts.json) return out(JSON.stringify(list, null, 2))
        if (list.length === 0)
          return out(`no active sessions for ${JSON.stringify(opts.principal)}`)
        out(
          'id                      state   created                   last seen                 ip  user agent',
        )
        for (const s of list) out(formatSessionRow(s))
      }),
    )

  storeCommand(sessions, 'show', 'Show one session, active or ended (with its end reason)')
    .argument('<session-id>')
    .action((id: string, opts: Opts) =>
      withSessions(opts, async (m) => {
        const s = await m.get(id)
        out(opts.json ? JSON.stringify(s, null, 2) : formatSession(s, systemClock.now()))
      }),
    )

  storeCommand(sessions, 'end', 'End one session, every session of a principal, or every session')
    .argument('[session-id]')
    .option('--principal <principal>', 'end every session of this principal')
    .option('--except <session-id>', 'with --principal: keep this one')
    .option('--everyone', 'end every active session in the store')
    .addOption(reasonOption('revoked'))
    .action((id: string | undefined, opts: Opts) =>
      withSessions(opts, async (m) => {
        const reason = opts.reason as EndReason
        const ctx = { actor: 'cli' }
        const modes = [
          id !== undefined,
          opts.principal !== undefined,
          opts.everyone === true,
        ].filter(Boolean).length
        if (modes !== 1)
          throw new ParleyError(
            'ERR_VALIDATION',
            'name exactly one of: a session id, --principal, --everyone',
          )
        if (id !== undefined) {
          const r = await m.end(id, reason, ctx)
          out(
            r.ended
              ? `ended ${id} (${reason})`
              : `${id} had already ended (${r.session.endReason})`,
          )
        } else if (opts.principal !== undefined) {
          const ended = await m.endByPrincipal(
            opts.principal as string,
            reason === 'revoked' ? 'revoked_all' : reason,
            ctx,
            opts.except as string | undefined,
          )
          out(`ended ${ended.length} session(s) of ${JSON.stringify(opts.principal)}`)
        } else {
          out(
            `ended ${await m.endAll(reason === 'revoked' ? 'revoked_all' : reason, ctx)} session(s)`,
          )
        }
      }),
    )

  storeCommand(
    program,
    'audit',
    'Print the timeline of a session or a principal: why was this user logged out?',
  )
    .argument('<session-id-or-principal>')
    .option('--principal', 'treat the argument as a principal even if it looks like a session id')
    .option('--limit <n>', 'most recent events', '100')
    .action((subject: string, opts: Opts) =>
      withSessions(opts, async (m) => {
        const limit = Number(opts.limit)
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
          throw new ParleyError('ERR_VALIDATION', '--limit must be 1 to 1000')
        let events =
          !opts.principal && isWellFormedId(subject)
            ? await m.events({ sessionId: subject, limit })
            : []
        const bySession = events.length > 0
        if (!bySession) events = await m.events({ principal: subject, limit })
        if (opts.json) return out(JSON.stringify(events, null, 2))
        if (events.length === 0) return out(`no events for ${JSON.stringify(subject)}`)
        out(
          `timeline of ${bySession ? 'session' : 'principal'} ${JSON.stringify(subject)} (oldest first)`,
        )
        for (const e of events) out(formatEvent(e))
        const last = [...events].reverse().find((e) => e.type === 'session.ended')
        if (bySession && last?.reason)
          out(
            `\nended ${new Date(last.at).toISOString()}: ${last.reason}: ${REASON_TEXT[last.reason]}`,
          )
      }),
    )

  const keys = program.command('keys').description('API keys for the service API (SEC-52)')
  storeCommand(keys, 'create', 'Create an API key; prints it once (Parley keeps only its hash)')
    .requiredOption('--name <name>', 'what uses it, e.g. my-backend')
    .addOption(
      new Option(
        '--scope <scope>',
        'read: validate, get, list, audit; manage: also create, update, end',
      )
        .choices(['read', 'manage'])
        .default('manage'),
    )
    .action((opts: Opts) =>
      withSessions(opts, async (_m, store) => {
        const { key, token } = await createApiKey(store, systemClock, {
          name: opts.name as string,
          scope: opts.scope as 'read' | 'manage',
          actor: 'cli',
        })
        if (opts.json) return out(JSON.stringify({ ...key, token }))
        out(token)
        process.stderr.write(
          `created ${keyLabel(key.id)} (${key.scope}); store it now, it is not shown again\n`,
        )
      }),
    )
  storeCommand(keys, 'list', 'List API keys (id and prefix only, never the secret)').action(
    (opts: Opts) =>
      withSessions(opts, async (_m, store) => {
        const list = (await store.listApiKeys()).map(({ secretHash: _s, ...k }) => k)
        if (opts.json) return out(JSON.stringify(list, null, 2))
        for (const k of list)
          out(
            `${keyLabel(k.id)}  ${k.scope.padEnd(6)}  ${k.revokedAt ? 'revoked' : 'active '}  ${k.name}`,
          )
      }),
  )
  storeCommand(
    keys,
    'revoke',
    'Revoke an API key (servers stop accepting it within their key cache time)',
  )
    .argument('<key-id>', 'the id, with or without its plyk_ prefix')
    .action((id: string, opts: Opts) =>
      withSessions(opts, async (_m, store) => {
        const ok = await store.revokeApiKey(id.replace(/^plyk_/, ''), {
          at: systemClock.now(),
          actor: 'cli',
        })
        if (!ok) throw new ParleyError('ERR_NOT_FOUND', 'no such active API key')
        out(`revoked ${keyLabel(id.replace(/^plyk_/, ''))}`)
      }),
    )
  storeCommand(
    keys,
    'rotate',
    'Create a new key with the same name and scope, then revoke the old one',
  )
    .argument('<key-id>')
    .action((id: string, opts: Opts) =>
      withSessions(opts, async (_m, store) => {
        const old = await store.getApiKey(id.replace(/^plyk_/, ''))
        if (old === null || old.revokedAt !== null)
          throw new ParleyError('ERR_NOT_FOUND', 'no such active API key')
        const { key, token } = await createApiKey(store, systemClock, {
          name: old.name,
          scope: old.scope,
          actor: 'cli',
        })
        await store.revokeApiKey(old.id, { at: systemClock.now(), actor: 'cli' })
        out(token)
        process.stderr.write(`created ${keyLabel(key.id)}, revoked ${keyLabel(old.id)}\n`)
      }),
    )
}
