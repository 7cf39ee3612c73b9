/** @module TOTP (RFC 6238): CSPRNG secrets, otpauth:// URIs and QR codes, codes checked on the injected clock. */
import { randomFillSync } from 'node:crypto'
import { Secret, TOTP } from 'otpauth'
import QRCode from 'qrcode'
import type { Clock } from '../core/clock.ts'

/** What every authenticator app understands: SHA-1, 6 digits, 30 s, one step either side. */
export const TOTP_SETTINGS = Object.freeze({
  algorithm: 'SHA1',
  digits: 6,
  period: 30,
  /** Steps accepted either side of the current one (SEC-32: at most one). */
  window: 1,
  /** 160 bits, as RFC 4226 recommends. */
  secretBytes: 20,
})

const CODE = /^\d{6}$/

/**
 * A new TOTP secret: 160 bits from the CSPRNG, base32 (32 characters) for manual entry.
 *
 * @example
 * const secret = newTotpSecret() // 'JBSWY3DPEHPK3PXP...'
 */
export function newTotpSecret(): string {
  const bytes = new Uint8Array(TOTP_SETTINGS.secretBytes)
  randomFillSync(bytes)
  return new Secret({ buffer: bytes.buffer }).base32
}

function totpFor(secret: string, issuer = '', label = ''): TOTP {
  return new TOTP({
    issuer,
    label,
    secret: Secret.fromBase32(secret),
    algorithm: TOTP_SETTINGS.algorithm,
    digits: TOTP_SETTINGS.digits,
    period: TOTP_SETTINGS.period,
  })
}

/**
 * The `otpauth://totp/...` URI an authenticator app scans.
 *
 * @example
 * totpUri({ secret, issuer: 'Parley', username: 'ada' })
 * // 'otpauth://totp/Parley:ada?issuer=Parley&secret=...&algorithm=SHA1&digits=6&period=30'
 */
export function totpUri(input: { secret: string; issuer: string; username: string }): string {
  return totpFor(input.secret, input.issuer, input.username).toString()
}

/**
 * The URI as a QR code, an SVG document to show on the enrolment page.
 *
 * @example
 * const svg = await totpQrSvg(totpUri({ secret, issuer: 'Parley', username: 'ada' }))
 */
export function totpQrSvg(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M' })
}

/**
 * The 30-second step that `clock` is in now.
 *
 * @example
 * totpStep(new ManualClock(60_000)) // 2
 */
export function totpStep(clock: Clock): number {
  return TOTP.counter({ period: TOTP_SETTINGS.period, timestamp: clock.now() })
}

/**
 * Checks a code against the step of `clock` and one step either side (compared in constant time
 * by otpauth). Returns the step the code belongs to, or null. The caller must then record the step
 * with `users.useTotpStep(id, step)`, which refuses a step already used (SEC-32).
 *
 * @example
 * const step = verifyTotp(secret, '492039', clock)
 * if (step === null || !(await users.useTotpStep(user.id, step))) throw new ParleyError('ERR_TOTP_INVALID')
 */
export function verifyTotp(secret: string, code: unknown, clock: Clock): number | null {
  if (typeof code !== 'string') return null
  const token = code.replace(/\s+/g, '')
  if (!CODE.test(token)) return null
  const timestamp = clock.now()
  const delta = totpFor(secret).validate({ token, timestamp, window: TOTP_SETTINGS.window })
  if (delta === null) return null
  return TOTP.counter({ period: TOTP_SETTINGS.period, timestamp }) + delta
}
