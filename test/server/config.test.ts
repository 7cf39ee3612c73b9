import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/server/config.ts'
import { formatDuration, parseDuration } from '../../src/server/duration.ts'
import { isStrongSecret, loadSecret } from '../../src/server/secret.ts'

const dir = mkdtempSync(join(tmpdir(), 'parley-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function settingOf(fn: () => unknown): string {
  try {
    fn()
    return 'OK'
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).setting
  }
}

describe('configuration', () => {
  it('SEC-55 SEC-10: defaults: loopback only, embedded SQLite, idle 30 min, absolute 12 h', () => {
    const c = loadConfig()
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 7411,
      store: 'sqlite',
      production: false,
      secret: null,
    })
    expect(c.policy).toMatchObject({
      idleTimeoutMs: 30 * 60_000,
      absoluteTimeoutMs: 12 * 3_600_000,
      onLimit: 'evict_lru',
    })
  })

  it('reads flags over environment over file over defaults', () => {
    const file = join(dir, 'parley.json')
    writeFileSync(file, JSON.stringify({ port: 1000, idleTimeout: '10m', logLevel: 'warn' }))
    const c = loadConfig(
      { port: '3000' },
      { PARLEY_PORT: '2000', PARLEY_IDLE_TIMEOUT: '20m' },
      file,
    )
    expect(c.port).toBe(3000)
    expect(c.policy.idleTimeoutMs).toBe(20 * 60_000)
    expect(c.logLevel).toBe('warn')
    expect(loadConfig({}, { NODE_ENV: 'production' }).production).toBe(true)
  })

  it('names the setting at fault for every bad value', () => {
    expect(settingOf(() => loadConfig({ port: '99999' }))).toBe('--port')
    expect(settingOf(() => loadConfig({}, { PARLEY_IDLE_TIMEOUT: 'banana' }))).toBe(
      'PARLEY_IDLE_TIMEOUT',
    )
    expect(settingOf(() => loadConfig({}, { PARLEY_STORE: 'mysql://x' }))).toBe('PARLEY_STORE')
    expect(settingOf(() => loadConfig({}, { PARLEY_ON_LIMIT: 'maybe' }))).toBe('PARLEY_ON_LIMIT')
    expect(settingOf(() => loadConfig({}, { PARLEY_HOST: 'a b' }))).toBe('PARLEY_HOST')
    expect(settingOf(() => loadConfig({}, { PARLEY_LOG_REQUESTS: 'perhaps' }))).toBe(
      'PARLEY_LOG_REQUESTS',
    )
    expect(settingOf(() => loadConfig({}, { PARLEY_IDLE_TIMEOUT: '13h' }))).toBe('policy')
    const file = join(dir, 'bad.json')
    writeFileSync(file, JSON.stringify({ prot: 1 }))
    expect(settingOf(() => loadConfig({}, {}, file))).toBe('prot')
    writeFileSync(file, '{not json')
    expect(settingOf(() => loadConfig({}, {}, file))).toBe('config')
  })

  it('parses and formats durations', () => {
    expect([
      parseDuration('90s'),
      parseDuration('30m'),
      parseDuration('12h'),
      parseDuration('2d'),
      parseDuration('250'),
      parseDuration(5),
    ]).toEqual([90_000, 1_800_000, 43_200_000, 172_800_000, 250, 5])
    expect([
      parseDuration('1.5h'),
      parseDuration('-1s'),
      parseDuration('m'),
      parseDuration(null),
      parseDuration(-1),
    ]).toEqual([null, null, null, null, null])
    expect([formatDuration(1_800_000), formatDuration(90_000), formatDuration(1500)]).toEqual([
      '30m',
      '90s',
      '1500ms',
    ])
  })
})

describe('SEC-55: the server secret', () => {
  it('SEC-55: is generated from the CSPRNG once and kept with mode 0600 in the data directory', () => {
    const data = join(dir, 'data')
    const first = loadSecret({ configured: null, dataDir: data, production: false })
    expect(isStrongSecret(first)).toBe(true)
    expect(statSync(join(data, 'secret.key')).mode & 0o777).toBe(0o600)
    expect(loadSecret({ configured: null, dataDir: data, production: false })).toBe(first)
    expect(readFileSync(join(data, 'secret.key'), 'utf8').trim()).toBe(first)
  })

  it('SEC-55: production mode refuses a missing or weak secret; a strong one is accepted', () => {
    expect(settingOf(() => loadSecret({ configured: null, dataDir: dir, production: true }))).toBe(
      'PARLEY_SECRET',
    )
    expect(
      settingOf(() => loadSecret({ configured: 'changeme', dataDir: dir, production: true })),
    ).toBe('PARLEY_SECRET')
    expect(
      settingOf(() => loadSecret({ configured: 'a'.repeat(64), dataDir: dir, production: true })),
    ).toBe('PARLEY_SECRET')
    const strong = 'Xq3v9LwP0aZt7RkE2mN5bY8cH1dJ4sF6gU0iO3pA9qW'
    expect(loadSecret({ configured: strong, dataDir: dir, production: true })).toBe(strong)
  })
})

describe('SEC-55: concurrent first starts', () => {
  it('SEC-55: processes starting at once on a new data dir all get the same secret', async () => {
    const { execFile } = await import('node:child_process')
    const data = join(dir, 'race')
    const script = `import { loadSecret } from ${JSON.stringify(new URL('../../src/server/secret.ts', import.meta.url).pathname)}; process.stdout.write(loadSecret({ configured: null, dataDir: ${JSON.stringify(data)}, production: false }))`
    const outputs = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<string>((resolve, reject) => {
            execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout) =>
              err ? reject(err) : resolve(stdout),
            )
          }),
      ),
    )
    expect(new Set(outputs).size).toBe(1)
    expect(isStrongSecret(outputs[0]!)).toBe(true)
    expect(statSync(join(data, 'secret.key')).mode & 0o777).toBe(0o600)
  })
})
