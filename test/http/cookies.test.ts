/** @module The session cookie: exact Set-Cookie values, the size limit, and a Cookie reader that never throws. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { issueToken } from '../../src/core/token.ts'
import {
  MAX_COOKIE_BYTES,
  readCookie,
  readSessionToken,
  resolveCookie,
  serializeCookie,
  sessionCookie,
} from '../../src/http/cookies.ts'

const token = issueToken('session').token

describe('cookies: Set-Cookie', () => {
  it('SEC-20: the default cookie is __Host-parley; Path=/; Secure; HttpOnly; SameSite=Lax, no Domain, no Max-Age', () => {
    expect(sessionCookie(resolveCookie(), token)).toBe(
      `__Host-parley=${token}; Path=/; Secure; HttpOnly; SameSite=Lax`,
    )
  })

  it('SEC-20: SameSite=Strict and a Max-Age are available', () => {
    expect(sessionCookie(resolveCookie({ sameSite: 'Strict', maxAge: 3600 }), token)).toBe(
      `__Host-parley=${token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600`,
    )
  })

  it('SEC-21: the clearing cookie has the same name, path and attributes, and Max-Age=0', () => {
    expect(resolveCookie().clearHeader).toBe(
      '__Host-parley=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0',
    )
    expect(resolveCookie({ sameSite: 'Strict', maxAge: 60 }).clearHeader).toBe(
      '__Host-parley=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0',
    )
  })

  it('insecure (development over plain http) drops Secure and the prefix, nothing else', () => {
    const config = resolveCookie({ insecure: true })
    expect(sessionCookie(config, token)).toBe(`parley=${token}; Path=/; HttpOnly; SameSite=Lax`)
    expect(config.clearHeader).toBe('parley=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0')
  })

  it('SEC-20: name plus value must stay under 4096 bytes', () => {
    const config = resolveCookie({ name: '__Host-p' })
    const fits = 'a'.repeat(MAX_COOKIE_BYTES - 1 - config.name.length)
    expect(serializeCookie(config, fits)).toContain(fits)
    expect(() => serializeCookie(config, `${fits}a`)).toThrow(/4096/)
  })

  it('SEC-20: the value is only a session token: anything else is refused', () => {
    const config = resolveCookie()
    for (const value of ['', 'plys_short', '{"user":"alice"}', issueToken('refresh').token]) {
      expect(() => sessionCookie(config, value)).toThrow(/session token/)
    }
    for (const value of ['a;b', 'a b', 'a,b', 'é', 'a\r\nSet-Cookie: x=y']) {
      expect(() => serializeCookie(config, value)).toThrow(/cookie-octets/)
    }
  })

  it('refuses settings that would weaken or break the cookie', () => {
    const bad = [
      { name: 'session' }, // no __Host- prefix while Secure
      { name: '__Secure-parley' },
      { name: '__Host-parley', insecure: true },
      { name: 'bad name' },
      { name: '' },
      { sameSite: 'None' as 'Lax' },
      { maxAge: 0 },
      { maxAge: 1.5 },
    ]
    for (const options of bad) {
      expect(() => resolveCookie(options), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
      )
    }
  })
})

describe('cookies: reading the Cookie header', () => {
  const name = '__Host-parley'

  it('finds the cookie among others, with or without spaces', () => {
    expect(readCookie(`a=1; ${name}=v; b=2`, name)).toBe('v')
    expect(readCookie(`a=1;${name}=v;b=2`, name)).toBe('v')
    expect(readCookie(`${name}=v`, name)).toBe('v')
    expect(readCookie(`  ${name} = v ;`, name)).toBe('v')
    expect(readCookie(`${name}="v"`, name)).toBe('v')
  })

  it('uses the first of duplicate names', () => {
    expect(readCookie(`${name}=first; ${name}=second`, name)).toBe('first')
    expect(readCookie(`x=1; ${name}=; ${name}=second`, name)).toBe('')
    expect(readSessionToken(`x=1; ${name}=; ${name}=second`)).toBeNull()
  })

  it('does not match the name inside another cookie or as a prefix of a longer name', () => {
    expect(readCookie(`x${name}=evil`, name)).toBeNull()
    expect(readCookie(`${name}2=evil`, name)).toBeNull()
    expect(readCookie(`other=${name}=evil`, name)).toBeNull()
    expect(readCookie(`other=a${name}=evil; ${name}=good`, name)).toBe('good')
    expect(readCookie(`${name}`, name)).toBeNull()
    expect(readCookie('', name)).toBeNull()
  })

  it('readSessionToken reads the configured name', () => {
    expect(readSessionToken(`${name}=${token}`)).toBe(token)
    expect(readSessionToken(`parley=${token}`, { insecure: true })).toBe(token)
    expect(readSessionToken(`parley=${token}`)).toBeNull()
    expect(readSessionToken(undefined)).toBeNull()
  })

  it('never throws, whatever the header (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.string(), (header, n) => {
        const a = readCookie(header, name)
        const b = readCookie(header, n.length > 0 ? n : 'x')
        return (a === null || typeof a === 'string') && (b === null || typeof b === 'string')
      }),
      { numRuns: 2000 },
    )
  })

  it('agrees with a split-based reference parser on well-formed headers (fuzz)', () => {
    const cookieName = fc.constantFrom(name, 'a', 'b', '__Host-parley2', 'x__Host-parley')
    const value = fc.stringMatching(/^[A-Za-z0-9._=-]{0,20}$/)
    const pair = fc.tuple(cookieName, value)
    const sep = fc.constantFrom(';', '; ', ' ;  ', ';\t')
    const reference = (pairs: [string, string][]) => pairs.find(([k]) => k === name)?.[1] ?? null
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 8 }), sep, (pairs, s) => {
        const header = pairs.map(([k, v]) => `${k}=${v}`).join(s)
        expect(readCookie(header, name)).toBe(reference(pairs))
      }),
      { numRuns: 2000 },
    )
  })

  it('stays linear on hostile headers', () => {
    const hostile = `${`${name.slice(0, -1)} `.repeat(20_000)};${' '.repeat(50_000)}`
    expect(readCookie(hostile, name)).toBeNull()
    expect(readCookie(`${hostile}; ${name}=v`, name)).toBe('v')
  })
})
