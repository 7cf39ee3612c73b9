/**
 * End to end: the `parley` command on a temporary SQLite data directory, next to a running
 * `parley serve` on the same directory: keys, sessions, audit, help, bad configuration and SEC-55.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  Api,
  BOGUS_TOKEN,
  killAll,
  makeTempDir,
  removeTempDirs,
  runCli,
  startServer,
} from '../helpers/parley-process.ts'

afterEach(async () => {
  await killAll()
  await removeTempDirs()
})

const KEY = /^plyk_([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z'

async function newKey(dataDir: string, name: string, scope = 'manage') {
  const r = await runCli([
    'keys',
    'create',
    '--name',
    name,
    '--scope',
    scope,
    '--data-dir',
    dataDir,
  ])
  expect(r.code, r.stderr).toBe(0)
  return r
}

describe('parley CLI', () => {
  it('keys, serve, sessions list/show/end and audit work together on one data directory', async () => {
    const dir = await makeTempDir()

    // keys create: the token once on stdout (one line, nothing else), a note on stderr.
    const created = await newKey(dir, 'e2e-backend')
    expect(created.stdout).toMatch(/^plyk_\S+\n$/)
    const key = created.stdout.trim()
    const [, keyId, keySecret] = KEY.exec(key) ?? []
    expect(keyId, `not a key: ${key}`).toBeDefined()
    expect(created.stderr).toContain(`created plyk_${keyId} (manage)`)
    expect(created.stderr).toMatch(/not shown again/)
    expect(created.stderr).not.toContain(keySecret!)

    // keys list: the id, never the secret (nor its hash).
    const listed = await runCli(['keys', 'list', '--data-dir', dir])
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toMatch(
      new RegExp(`^plyk_${keyId}\\s+manage\\s+active\\s+e2e-backend$`, 'm'),
    )
    expect(listed.stdout + listed.stderr).not.toContain(keySecret!)
    const listedJson = await runCli(['keys', 'list', '--json', '--data-dir', dir])
    const keys = JSON.parse(listedJson.stdout) as Record<string, unknown>[]
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatchObject({
      id: keyId,
      name: 'e2e-backend',
      scope: 'manage',
      revokedAt: null,
    })
    expect(keys[0]).not.toHaveProperty('secretHash')
    expect(listedJson.stdout).not.toContain(keySecret!)

    // serve + HTTP: a session for alice.
    const server = await startServer(['--port', '0', '--data-dir', dir, '--log-level', 'warn'])
    const api = new Api(server.url, key)
    const res = await api.create('alice')
    expect(res.status).toBe(201)
    const id = res.body.session.id as string
    const token = res.body.token as string
    expect((await api.validate(token)).status).toBe(200)

    // sessions list shows it (the CLI reads the file the server writes).
    const list = await runCli(['sessions', 'list', '--principal', 'alice', '--data-dir', dir])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+active\\s+${ISO}`, 'm'))
    expect(list.stdout).not.toContain(token.split('.')[1]!)
    const listJson = await runCli([
      'sessions',
      'list',
      '--principal',
      'alice',
      '--json',
      '--data-dir',
      dir,
    ])
    expect((JSON.parse(listJson.stdout) as { id: string }[]).map((s) => s.id)).toEqual([id])

    const shownActive = await runCli(['sessions', 'show', id, '--data-dir', dir])
    expect(shownActive.code, shownActive.stderr).toBe(0)
    expect(shownActive.stdout).toMatch(/^principal\s+alice$/m)
    expect(shownActive.stdout).toMatch(/^state\s+active$/m)

    // sessions end <id> --reason revoked.
    const ended = await runCli(['sessions', 'end', id, '--reason', 'revoked', '--data-dir', dir])
    expect(ended.code, ended.stderr).toBe(0)
    expect(ended.stdout.trim()).toBe(`ended ${id} (revoked)`)
    const again = await runCli(['sessions', 'end', id, '--reason', 'logout', '--data-dir', dir])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout.trim()).toBe(`${id} had already ended (revoked)`)

    // audit <id>: the timeline and the plain-English answer to "why was I logged out?".
    const audit = await runCli(['audit', id, '--data-dir', dir])
    expect(audit.code, audit.stderr).toBe(0)
    expect(audit.stdout).toContain(`timeline of session "${id}" (oldest first)`)
    expect(audit.stdout).toMatch(
      new RegExp(`^${ISO}\\s+session\\.created\\s+session=${id}\\s+principal="alice"`, 'm'),
    )
    expect(audit.stdout).toMatch(
      new RegExp(`^${ISO}\\s+session\\.ended\\s+session=${id}.*reason=revoked.*by=cli`, 'm'),
    )
    expect(audit.stdout).toMatch(
      new RegExp(
        `^ended ${ISO}: revoked: it was ended by an administrator, a back end, or the user from another session$`,
        'm',
      ),
    )
    expect(audit.stdout.indexOf('session.created')).toBeLessThan(
      audit.stdout.indexOf('session.ended'),
    )
    expect(audit.stdout).not.toContain(token.split('.')[1]!)

    // audit <principal>.
    const byPrincipal = await runCli(['audit', 'alice', '--data-dir', dir])
    expect(byPrincipal.code, byPrincipal.stderr).toBe(0)
    expect(byPrincipal.stdout).toContain('timeline of principal "alice" (oldest first)')
    expect(byPrincipal.stdout).toContain(`session.created   session=${id}`)
    expect(byPrincipal.stdout).toMatch(/session\.ended .*reason=revoked/)
    const nobody = await runCli(['audit', 'nobody', '--data-dir', dir])
    expect(nobody.stdout.trim()).toBe('no events for "nobody"')

    // sessions show: ended, with the reason.
    const shown = await runCli(['sessions', 'show', id, '--data-dir', dir])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toMatch(/^state\s+ended \(revoked: it was ended by an administrator/m)
    expect(shown.stdout).toMatch(new RegExp(`^ended\\s+${ISO}$`, 'm'))
    const shownJson = await runCli(['sessions', 'show', id, '--json', '--data-dir', dir])
    expect(JSON.parse(shownJson.stdout)).toMatchObject({ id, state: 'ended', endReason: 'revoked' })

    const none = await runCli(['sessions', 'list', '--principal', 'alice', '--data-dir', dir])
    expect(none.stdout.trim()).toBe('no active sessions for "alice"')

    // Errors: an unknown session is ERR_SESSION_NOT_FOUND (exit 1), not a crash.
    const missing = await runCli(['sessions', 'show', 'A'.repeat(22), '--data-dir', dir])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('ERR_SESSION_NOT_FOUND')
    const ambiguous = await runCli(['sessions', 'end', id, '--everyone', '--data-dir', dir])
    expect(ambiguous.code).toBe(1)
    expect(ambiguous.stderr).toContain('ERR_VALIDATION')
    expect(server.alive()).toBe(true)
  }, 60_000)

  it('SEC-17: a session ended from the CLI stops validating at once on the running server, and ending a principal ends all its sessions', async () => {
    const dir = await makeTempDir()
    const key = (await newKey(dir, 'e2e-sec17')).stdout.trim()
    const server = await startServer(['--port', '0', '--data-dir', dir, '--log-level', 'warn'])
    const api = new Api(server.url, key)
    const a = await api.create('bob')
    const b = await api.create('bob')
    const c = await api.create('bob')
    const other = await api.create('carol')
    for (const r of [a, b, c, other]) expect((await api.validate(r.body.token)).status).toBe(200)

    const end = await runCli(['sessions', 'end', a.body.session.id, '--data-dir', dir])
    expect(end.code, end.stderr).toBe(0)
    const v = await api.validate(a.body.token)
    expect(v.status).toBe(401)
    expect(v.contentType).toMatch(/^application\/problem\+json/)
    expect(v.body).toMatchObject({ code: 'ERR_SESSION_ENDED', reason: 'revoked' })

    const all = await runCli([
      'sessions',
      'end',
      '--principal',
      'bob',
      '--except',
      c.body.session.id,
      '--data-dir',
      dir,
    ])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout.trim()).toBe('ended 1 session(s) of "bob"')
    expect((await api.validate(b.body.token)).body).toMatchObject({
      code: 'ERR_SESSION_ENDED',
      reason: 'revoked_all',
    })
    expect((await api.validate(c.body.token)).status).toBe(200)

    const everyone = await runCli(['sessions', 'end', '--everyone', '--data-dir', dir])
    expect(everyone.code, everyone.stderr).toBe(0)
    expect(everyone.stdout.trim()).toBe('ended 2 session(s)')
    for (const r of [c, other]) {
      const res = await api.validate(r.body.token)
      expect(res.status).toBe(401)
      expect(res.body.code).toBe('ERR_SESSION_ENDED')
    }
  }, 60_000)

  it('keys revoke and keys rotate: the server refuses a revoked key and accepts the rotated one', async () => {
    const dir = await makeTempDir()
    const main = (await newKey(dir, 'main')).stdout.trim()
    const doomed = (await newKey(dir, 'doomed')).stdout.trim()
    const old = (await newKey(dir, 'reader', 'read')).stdout.trim()
    const doomedId = KEY.exec(doomed)![1]!
    const oldId = KEY.exec(old)![1]!

    const revoked = await runCli(['keys', 'revoke', `plyk_${doomedId}`, '--data-dir', dir])
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(revoked.stdout.trim()).toBe(`revoked plyk_${doomedId}`)
    const twice = await runCli(['keys', 'revoke', doomedId, '--data-dir', dir])
    expect(twice.code).toBe(1)
    expect(twice.stderr).toContain('ERR_NOT_FOUND')

    const rotated = await runCli(['keys', 'rotate', oldId, '--data-dir', dir])
    expect(rotated.code, rotated.stderr).toBe(0)
    const fresh = rotated.stdout.trim()
    expect(fresh).toMatch(KEY)
    expect(rotated.stderr).toContain(`revoked plyk_${oldId}`)
    const list = await runCli(['keys', 'list', '--data-dir', dir])
    expect(list.stdout).toMatch(
      new RegExp(`^plyk_${doomedId}\\s+manage\\s+revoked\\s+doomed$`, 'm'),
    )
    expect(list.stdout).toMatch(new RegExp(`^plyk_${oldId}\\s+read\\s+revoked\\s+reader$`, 'm'))
    expect(list.stdout).toMatch(
      new RegExp(`^plyk_${KEY.exec(fresh)![1]}\\s+read\\s+active\\s+reader$`, 'm'),
    )

    const server = await startServer(['--port', '0', '--data-dir', dir, '--log-level', 'warn'])
    const api = new Api(server.url, main)
    const s = await api.create('dave')
    expect(s.status).toBe(201)
    for (const k of [doomed, old]) {
      const r = await api.validate(s.body.token, { key: k })
      expect(r.status).toBe(401)
      expect(r.body.code).toBe('ERR_API_KEY_INVALID')
    }
    expect((await api.validate(s.body.token, { key: fresh })).status).toBe(200)
    // The rotated key keeps the read scope: it may validate but not create.
    const forbidden = await new Api(server.url, fresh).create('dave')
    expect(forbidden.status).toBe(403)
    expect(forbidden.body.code).toBe('ERR_API_KEY_SCOPE')
    expect((await api.validate(BOGUS_TOKEN)).status).toBe(401)
  }, 60_000)

  it('--help on every command exits 0 and describes it; --version prints the version', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Parley: the session layer/],
      [['serve'], /Run the Parley server/],
      [['sessions'], /List, show and end sessions/],
      [['sessions', 'list'], /List the active sessions of a principal/],
      [['sessions', 'show'], /Show one session, active or ended/],
      [['sessions', 'end'], /End one session, every session of a principal, or every session/],
      [['audit'], /Print the timeline of a session or a principal/],
      [['keys'], /API keys for the service API/],
      [['keys', 'create'], /Create an API key; prints it once/],
      [['keys', 'list'], /List API keys \(id and prefix only, never the secret\)/],
      [['keys', 'revoke'], /Revoke an API key/],
      [['keys', 'rotate'], /Create a new key with the same name and scope/],
      [['users'], /Accounts for the sign-in pages/],
      [['users', 'create'], /Create an account; the password is read from standard input/],
    ]
    // Three at a time: a dozen Node processes at once on two busy cores can take longer than the
    // timeout, which would say nothing about the CLI.
    const results: Awaited<ReturnType<typeof runCli>>[] = []
    for (let i = 0; i < cases.length; i += 3) {
      const batch = cases
        .slice(i, i + 3)
        .map(([args]) => runCli([...args, '--help'], { timeoutMs: 30_000 }))
      results.push(...(await Promise.all(batch)))
    }
    cases.forEach(([args, description], i) => {
      const r = results[i]!
      expect(r.code, `parley ${args.join(' ')} --help: ${r.stderr}`).toBe(0)
      expect(r.stdout).toContain(`Usage: parley${args.length ? ` ${args.join(' ')}` : ''}`)
      expect(r.stdout).toMatch(description)
    })
    // Settings are documented with their environment variables.
    const serve = results[1]!.stdout
    for (const s of ['--port', 'PARLEY_PORT', '--store', 'PARLEY_STORE', '--data-dir', '--host']) {
      expect(serve).toContain(s)
    }
    expect(serve).not.toContain('--secret') // SEC-55: never a secret on the command line
    const version = await runCli(['--version'])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toBe('0.1.0')
  }, 60_000)

  it('a bad configuration value exits with code 2 and names the setting', async () => {
    const dir = await makeTempDir()
    const cases: { args: string[]; env?: Record<string, string>; names: string }[] = [
      { args: ['serve', '--port', '99999'], names: '--port' },
      {
        args: ['serve', '--port', '0'],
        env: { PARLEY_IDLE_TIMEOUT: 'banana' },
        names: 'PARLEY_IDLE_TIMEOUT',
      },
      { args: ['serve', '--port', '0', '--store', 'mysql://localhost/x'], names: '--store' },
      { args: ['serve', '--port', '0', '--log-level', 'loud'], names: '--log-level' },
      {
        args: ['serve', '--port', '0'],
        env: { PARLEY_MAX_SESSIONS: '-1' },
        names: 'PARLEY_MAX_SESSIONS',
      },
      {
        args: ['sessions', 'list', '--principal', 'x', '--store', 'nope'],
        names: '--store',
      },
    ]
    const results = await Promise.all(
      cases.map((c) => runCli([...c.args, '--data-dir', dir], { env: c.env })),
    )
    cases.forEach((c, i) => {
      const r = results[i]!
      expect(r.code, `${c.args.join(' ')}: ${r.stdout} ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(new RegExp(`^parley: invalid configuration: ${c.names}: `, 'm'))
      expect(r.stdout).not.toContain('parley listening')
    })
    const unknown = await runCli(['serve', '--no-such-flag'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown option '--no-such-flag'/)
  }, 60_000)

  it('SEC-55: the generated secret.key has mode 0600 in a 0700 data dir, is kept across restarts, and the server listens on 127.0.0.1 by default', async () => {
    const dir = join(await makeTempDir(), 'data')
    const server = await startServer(['--port', '0', '--data-dir', dir, '--log-level', 'warn'])
    expect(new URL(server.url).hostname).toBe('127.0.0.1')
    expect(server.stdout()).toMatch(
      /^parley listening on http:\/\/127\.0\.0\.1:\d+ \(store: sqlite\)$/m,
    )
    const secretPath = join(dir, 'secret.key')
    expect(statSync(secretPath).mode & 0o777).toBe(0o600)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir, 'parley.db')).mode & 0o777).toBe(0o600)
    const secret = readFileSync(secretPath, 'utf8').trim()
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43,}$/)
    expect((await new Api(server.url, '').healthz()).status).toBe(200)
    await server.kill('SIGTERM')

    const again = await startServer(['--port', '0', '--data-dir', dir, '--log-level', 'warn'])
    expect(readFileSync(secretPath, 'utf8').trim()).toBe(secret)
    expect(statSync(secretPath).mode & 0o777).toBe(0o600)
    expect(new URL(again.url).hostname).toBe('127.0.0.1')
  }, 60_000)

  it('SEC-55: an existing secret.key readable by others is narrowed to 0600 and kept; a weak one is refused (exit 2, naming the file)', async () => {
    const dir = await makeTempDir()
    const secret = randomBytes(32).toString('base64url')
    writeFileSync(join(dir, 'secret.key'), `${secret}\n`, { mode: 0o644 })
    chmodSync(join(dir, 'secret.key'), 0o644)
    const server = await startServer(['--port', '0', '--data-dir', dir, '--log-level', 'warn'])
    expect(statSync(join(dir, 'secret.key')).mode & 0o777).toBe(0o600)
    expect(readFileSync(join(dir, 'secret.key'), 'utf8').trim()).toBe(secret)
    await server.kill('SIGTERM')

    const weakDir = await makeTempDir()
    writeFileSync(join(weakDir, 'secret.key'), 'changeme\n', { mode: 0o600 })
    const weak = await runCli(['serve', '--port', '0', '--data-dir', weakDir])
    expect(weak.code, weak.stdout + weak.stderr).toBe(2)
    expect(weak.stderr).toContain(`${join(weakDir, 'secret.key')}: holds a weak secret`)
    expect(weak.stdout).not.toContain('parley listening')
    expect(readFileSync(join(weakDir, 'secret.key'), 'utf8')).toBe('changeme\n')
  }, 60_000)

  it('SEC-55: with PARLEY_PRODUCTION=true (or NODE_ENV=production) and no PARLEY_SECRET the server refuses to start, naming PARLEY_SECRET', async () => {
    const dir = join(await makeTempDir(), 'data')
    const runs = await Promise.all([
      runCli(['serve', '--port', '0', '--data-dir', dir], { env: { PARLEY_PRODUCTION: 'true' } }),
      runCli(['serve', '--port', '0', '--data-dir', dir], { env: { NODE_ENV: 'production' } }),
    ])
    for (const r of runs) {
      expect(r.code, r.stdout + r.stderr).toBe(2)
      expect(r.stderr).toMatch(/^parley: invalid configuration: PARLEY_SECRET: .*required/m)
      expect(r.stdout).not.toContain('parley listening')
    }
    expect(existsSync(join(dir, 'secret.key'))).toBe(false)
  }, 60_000)

  it('SEC-55: a weak PARLEY_SECRET=changeme is refused (exit 2) in production and outside it; a strong one starts without writing secret.key', async () => {
    const dir = join(await makeTempDir(), 'data')
    const runs = await Promise.all([
      runCli(['serve', '--port', '0', '--data-dir', dir], {
        env: { PARLEY_PRODUCTION: 'true', PARLEY_SECRET: 'changeme' },
      }),
      runCli(['serve', '--port', '0', '--data-dir', dir], { env: { PARLEY_SECRET: 'changeme' } }),
      runCli(['serve', '--port', '0', '--data-dir', dir], {
        env: { PARLEY_PRODUCTION: 'true', PARLEY_SECRET: 'a'.repeat(64) },
      }),
    ])
    for (const r of runs) {
      expect(r.code, r.stdout + r.stderr).toBe(2)
      expect(r.stderr).toMatch(/^parley: invalid configuration: PARLEY_SECRET: .*weak/m)
      expect(r.stdout).not.toContain('parley listening')
    }
    const strong = await startServer(['--port', '0', '--data-dir', dir, '--log-level', 'warn'], {
      env: { PARLEY_PRODUCTION: 'true', PARLEY_SECRET: randomBytes(32).toString('base64url') },
    })
    expect((await new Api(strong.url, '').healthz()).status).toBe(200)
    expect(existsSync(join(dir, 'secret.key'))).toBe(false)
  }, 60_000)
})

describe('parley users', () => {
  it('SEC-15: create (password on stdin), show, set privileges, disable (ends every session, refuses sign-in) and enable', async () => {
    const dir = await makeTempDir()
    const password = 'a long and secret passphrase'
    const created = await runCli(
      [
        'users',
        'create',
        'Grace',
        '--roles',
        'admin',
        '--permissions',
        'billing:read',
        '--json',
        '--data-dir',
        dir,
      ],
      { input: `${password}\n` },
    )
    expect(created.code, created.stderr).toBe(0)
    const user = JSON.parse(created.stdout)
    expect(user).toMatchObject({
      username: 'grace',
      roles: ['admin'],
      permissions: ['billing:read'],
    })
    expect(created.stdout + created.stderr).not.toContain(password)

    const taken = await runCli(['users', 'create', 'grace', '--data-dir', dir], { input: password })
    expect(taken.code).toBe(1)
    expect(taken.stderr).toContain('ERR_USER_EXISTS')
    const short = await runCli(['users', 'create', 'bob', '--data-dir', dir], { input: 'short' })
    expect(short.stderr).toContain('ERR_PASSWORD_POLICY')

    // two sessions through the pages' API on a running server
    const server = await startServer([
      '--port',
      '0',
      '--data-dir',
      dir,
      '--origins',
      'http://localhost:1',
    ])
    const signIn = () =>
      fetch(`${server.url}/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://localhost:1' },
        body: JSON.stringify({ username: 'grace', password }),
      })
    const first = await signIn()
    expect(first.status).toBe(200)
    expect((await signIn()).status).toBe(200)
    const cookie = /__Host-parley=([^;]+)/.exec(first.headers.get('set-cookie')!)![1]!
    const me = async () =>
      fetch(`${server.url}/auth/me`, { headers: { cookie: `__Host-parley=${cookie}` } })
    expect(((await (await me()).json()) as { user: { roles: string[] } }).user.roles).toEqual([
      'admin',
    ])

    const privileges = await runCli([
      'users',
      'set-privileges',
      'grace',
      '--roles',
      '',
      '--json',
      '--data-dir',
      dir,
    ])
    expect(privileges.code, privileges.stderr).toBe(0)
    expect(JSON.parse(privileges.stdout)).toMatchObject({
      roles: [],
      permissions: ['billing:read'],
    })

    const disabled = await runCli(['users', 'disable', 'grace', '--data-dir', dir])
    expect(disabled.code, disabled.stderr).toBe(0)
    expect(disabled.stdout).toContain('ended 2 session(s) (principal_disabled)')
    const after = await me()
    expect(after.status).toBe(401)
    expect(await after.json()).toMatchObject({
      code: 'ERR_SESSION_ENDED',
      reason: 'principal_disabled',
    })
    expect(((await (await signIn()).json()) as { code: string }).code).toBe('ERR_SIGN_IN_FAILED')

    const enabled = await runCli(['users', 'enable', 'grace', '--data-dir', dir])
    expect(enabled.code, enabled.stderr).toBe(0)
    expect((await signIn()).status).toBe(200)
    const shown = await runCli(['users', 'show', 'grace', '--data-dir', dir])
    expect(shown.stdout).toMatch(/^username\s+grace$/m)
    expect(shown.stdout).not.toContain('argon2')
  }, 90_000)
})
