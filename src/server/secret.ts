/**
 * @module The server secret (SEC-55): from configuration, or generated once from the CSPRNG and kept
 * in the data directory with mode 0600. Production mode refuses a missing or weak one.
 * Later features (encryption of TOTP secrets and signing keys at rest) derive their keys from it.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from './config.ts'

export const SECRET_FILE = 'secret.key'
/** At least 32 bytes of base64url (or hex, or any text of 43+ characters with enough variety). */
const MIN_LENGTH = 43

/** True when `secret` is long and varied enough to be a key (not `changeme`, not `aaaa...`). */
export function isStrongSecret(secret: string): boolean {
  return secret.length >= MIN_LENGTH && new Set(secret).size >= 16
}

/**
 * Returns the secret to use. With `configured`, checks it. Without, in production, refuses;
 * otherwise reads `<dataDir>/secret.key`, creating it (0600) on first start.
 */
export function loadSecret(options: {
  configured: string | null
  dataDir: string
  production: boolean
}): string {
  if (options.configured !== null) {
    if (!isStrongSecret(options.configured)) {
      throw new ConfigError(
        'PARLEY_SECRET',
        'is too weak: use at least 32 random bytes, e.g. `openssl rand -base64 32`',
      )
    }
    return options.configured
  }
  if (options.production) {
    throw new ConfigError(
      'PARLEY_SECRET',
      'is required in production mode (at least 32 random bytes)',
    )
  }
  const path = join(options.dataDir, SECRET_FILE)
  try {
    const existing = readFileSync(path, 'utf8').trim()
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
    if (!isStrongSecret(existing))
      throw new ConfigError(path, 'holds a weak secret; delete it to generate a new one')
    return existing
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
  const secret = randomBytes(32).toString('base64url')
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  return secret
}
