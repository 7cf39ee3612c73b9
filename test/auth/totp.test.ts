import { readFileSync } from 'node:fs'
import { Secret, TOTP } from 'otpauth'
import { describe, expect, it } from 'vitest'
import {
  newTotpSecret,
  TOTP_SETTINGS,
  totpQrSvg,
  totpStep,
  totpUri,
  verifyTotp,
} from '../../src/auth/totp.ts'
import { ManualClock } from '../../src/core/clock.ts'
import { totpCode } from './helpers.ts'

describe('TOTP', () => {
  it('SEC-01, SEC-32: secrets are 160 bits from the CSPRNG, all different', () => {
    const secrets = Array.from({ length: 200 }, () => newTotpSecret())
    expect(new Set(secrets).size).toBe(200)
    for (const s of secrets) {
      expect(s).toMatch(/^[A-Z2-7]{32}$/)
      expect(Secret.fromBase32(s).bytes).toHaveLength(20)
    }
    const source = readFileSync(new URL('../../src/auth/totp.ts', import.meta.url), 'utf8')
    expect(source).toMatch(/from 'node:crypto'/)
    expect(source).toMatch(/randomFillSync\(bytes\)/)
    expect(source).not.toMatch(/Math\.random|Date\.now/)
  })

  it('SEC-32: a code is accepted one step either side of the clock, not two; the step is returned', () => {
    const clock = new ManualClock(1_700_000_010_000)
    const secret = newTotpSecret()
    const step = totpStep(clock)
    const at = (k: number) => (step + k) * 30_000 + 5_000
    expect(verifyTotp(secret, totpCode(secret, clock.now()), clock)).toBe(step)
    expect(verifyTotp(secret, totpCode(secret, at(-1)), clock)).toBe(step - 1)
    expect(verifyTotp(secret, totpCode(secret, at(1)), clock)).toBe(step + 1)
    expect(verifyTotp(secret, totpCode(secret, at(-2)), clock)).toBeNull()
    expect(verifyTotp(secret, totpCode(secret, at(2)), clock)).toBeNull()
    expect(verifyTotp(newTotpSecret(), totpCode(secret, clock.now()), clock)).toBeNull()
    expect(verifyTotp(secret, '12345', clock)).toBeNull()
    expect(verifyTotp(secret, 123456, clock)).toBeNull()
    const spaced = totpCode(secret, clock.now()).replace(/^(\d{3})/, '$1 ')
    expect(verifyTotp(secret, spaced, clock)).toBe(step)
    // codes follow the injected clock, not the machine's
    clock.advance(90_000)
    expect(verifyTotp(secret, totpCode(secret, at(0)), clock)).toBeNull()
    expect(TOTP_SETTINGS).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30, window: 1 })
  })

  it('builds the otpauth:// URI with issuer and username, and an SVG QR code of it', async () => {
    const secret = newTotpSecret()
    const uri = totpUri({ secret, issuer: 'Parley', username: 'ada' })
    const parsed = new URL(uri)
    expect(parsed.protocol).toBe('otpauth:')
    expect(uri.startsWith('otpauth://totp/')).toBe(true)
    expect(decodeURIComponent(parsed.pathname)).toBe('/Parley:ada')
    expect(parsed.searchParams.get('issuer')).toBe('Parley')
    expect(parsed.searchParams.get('secret')).toBe(secret)
    expect(parsed.searchParams.get('digits')).toBe('6')
    expect(parsed.searchParams.get('period')).toBe('30')
    const svg = await totpQrSvg(uri)
    expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/)
    // what the app will compute from the URI is what we verify
    const app = TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: 1_700_000_000_000 })
    expect(verifyTotp(secret, app, new ManualClock(1_700_000_000_000))).not.toBeNull()
  })
})
