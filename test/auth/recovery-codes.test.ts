import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  generateRecoveryCodes,
  hashRecoveryCode,
  normalizeRecoveryCode,
  RECOVERY_CODE_CHARS,
} from '../../src/auth/recovery-codes.ts'
import { hashSecret } from '../../src/core/token.ts'

describe('recovery codes', () => {
  it('SEC-01, SEC-33: ten codes from the CSPRNG, at least 128 bits each, formatted in groups', () => {
    const { codes, hashes } = generateRecoveryCodes()
    expect(codes).toHaveLength(10)
    expect(hashes).toHaveLength(10)
    for (const code of codes) {
      expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{5}(-[0-9a-hjkmnp-tv-z]{5}){5}$/)
    }
    // 30 characters of a 32-letter alphabet: 5 bits each
    expect(RECOVERY_CODE_CHARS * Math.log2(32)).toBeGreaterThanOrEqual(128)
    const many = Array.from({ length: 100 }, () => generateRecoveryCodes().codes).flat()
    expect(new Set(many).size).toBe(1000)
    // every letter of the alphabet turns up, roughly evenly (no modulo bias)
    const counts = new Map<string, number>()
    for (const c of many.join('').replaceAll('-', '')) counts.set(c, (counts.get(c) ?? 0) + 1)
    expect(counts.size).toBe(32)
    const expected = (1000 * 30) / 32
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.2)
    const source = readFileSync(
      new URL('../../src/auth/recovery-codes.ts', import.meta.url),
      'utf8',
    )
    expect(source).toMatch(/randomBytes\(RECOVERY_CODE_CHARS\)/)
    expect(source).not.toMatch(/Math\.random|Date\.now/)
  })

  it('SEC-33: only a SHA-256 of the normalised code is stored; typing variants hash the same', () => {
    const { codes, hashes } = generateRecoveryCodes(1)
    const code = codes[0]!
    const plain = code.replaceAll('-', '')
    expect(hashes[0]).toBe(hashSecret(plain))
    expect(hashes[0]).not.toContain(plain)
    expect(hashRecoveryCode(code.toUpperCase())).toBe(hashes[0])
    expect(hashRecoveryCode(` ${plain} `)).toBe(hashes[0])
    expect(hashRecoveryCode(code.replaceAll('0', 'O').replaceAll('1', 'l'))).toBe(hashes[0])
    expect(hashRecoveryCode('too-short')).toBeNull()
    expect(normalizeRecoveryCode(42)).toBeNull()
  })
})
