/**
 * @module The server secret (SEC-55): from configuration, or generated once from the CSPRNG and kept
 * in the data directory with mode 0600. Production mode refuses a missing or weak one.
 * Later features (encryption of TOTP secrets and signing keys at rest) derive their keys from it.
 */
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
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
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
  // Two servers starting on a new data dir at once must agree on one secret: write a private temp
  // file, then link it into place, which fails if another process got there first; then read the
  // winner's (complete) file.
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
    writeFileSync(tmp, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' })
    try {
      linkSync(tmp, path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    } finally {
      unlinkSync(tmp)
    }
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
  const secret = readFileSync(path, 'utf8').trim()
  if (!isStrongSecret(secret)) {
    throw new ConfigError(path, 'holds a weak secret: replace it with 32 random bytes (base64url)')
  }
  return secret
}
