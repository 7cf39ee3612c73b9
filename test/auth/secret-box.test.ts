import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { SecretBox } from '../../src/auth/secret-box.ts'

const key = randomBytes(32).toString('base64url')

describe('SecretBox', () => {
  it('seals as v1.<iv>.<ciphertext+tag> in base64url and opens it again', () => {
    const box = new SecretBox(key)
    const sealed = box.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'user-1')
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/)
    expect(sealed).not.toContain('JBSWY3DP')
    expect(box.open(sealed, 'user-1')).toBe('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')
    // a fresh IV each time
    expect(box.seal('same', 'user-1')).not.toBe(box.seal('same', 'user-1'))
  })

  it('SEC-32: tampering, another key or another record throws; nothing secret is in the message', () => {
    const box = new SecretBox(key)
    const sealed = box.seal('TOPSECRETTOPSECRET', 'user-1')
    const [v, iv, body] = sealed.split('.') as [string, string, string]
    const flip = (s: string, i: number) =>
      s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
    for (const bad of [
      `${v}.${flip(iv, 3)}.${body}`,
      `${v}.${iv}.${flip(body, 2)}`,
      `${v}.${iv}.${flip(body, body.length - 3)}`,
      `${v}.${iv}.${body.slice(0, 10)}`,
      `v2.${iv}.${body}`,
      'garbage',
    ]) {
      expect(() => box.open(bad, 'user-1')).toThrow(/could not be opened/)
    }
    expect(() => box.open(sealed, 'user-2')).toThrow(/could not be opened/)
    expect(() =>
      new SecretBox(randomBytes(32).toString('base64url')).open(sealed, 'user-1'),
    ).toThrow()
    try {
      box.open(`${v}.${iv}.${flip(body, 2)}`, 'user-1')
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('TOPSECRET')
    }
  })

  it('refuses a short server secret', () => {
    expect(() => new SecretBox('short')).toThrow(/at least 32/)
  })
})
