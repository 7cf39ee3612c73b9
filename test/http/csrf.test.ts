/** @module CSRF: the Origin / Sec-Fetch-Site decision, origin normalisation, and the config checks. */
import { describe, expect, it } from 'vitest'
import {
  checkCsrf,
  checkOrigin,
  isSafeMethod,
  normalizeOrigin,
  originSet,
} from '../../src/http/csrf.ts'

const allowed = originSet(['https://app.example', 'http://localhost:3000'])

describe('csrf', () => {
  it('GET, HEAD and OPTIONS are safe; every other method is not', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS']) expect(isSafeMethod(m)).toBe(true)
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'PROPFIND', 'get', ''])
      expect(isSafeMethod(m), m).toBe(false)
  })

  it('normalises origins: lower case, default port dropped, http(s) only', () => {
    expect(normalizeOrigin('HTTPS://App.Example:443')).toBe('https://app.example')
    expect(normalizeOrigin('http://app.example:80')).toBe('http://app.example')
    expect(normalizeOrigin('https://app.example:8443')).toBe('https://app.example:8443')
    expect(normalizeOrigin('http://[::1]:3000')).toBe('http://[::1]:3000')
    for (const bad of ['null', '', 'app.example', 'ftp://app.example', 'https://u:p@app.example'])
      expect(normalizeOrigin(bad), bad).toBeNull()
  })

  it('configured origins must be scheme://host[:port] with no path', () => {
    expect([...originSet(['https://App.example/', 'https://app.example:443'])]).toEqual([
      'https://app.example',
    ])
    for (const bad of [
      'https://app.example/app',
      'app.example',
      '*',
      'null',
      'https://a.example?x',
    ])
      expect(() => originSet([bad]), bad).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
      )
  })

  it('SEC-24: the Origin matrix', () => {
    expect(checkCsrf(allowed, 'https://app.example', undefined)).toBeNull()
    expect(checkCsrf(allowed, 'https://APP.example:443', 'cross-site')).toBeNull()
    expect(checkCsrf(allowed, 'http://localhost:3000', undefined)).toBeNull()
    expect(checkCsrf(allowed, 'https://evil.example', 'same-origin')).toBe('origin-not-allowed')
    expect(checkCsrf(allowed, 'https://app.example:8443', undefined)).toBe('origin-not-allowed')
    expect(checkCsrf(allowed, 'http://app.example', undefined)).toBe('origin-not-allowed')
    expect(checkCsrf(allowed, 'http://localhost:3001', undefined)).toBe('origin-not-allowed')
    expect(checkCsrf(allowed, 'https://app.example, https://evil.example', undefined)).toBe(
      'origin-not-allowed',
    )
    expect(checkCsrf(allowed, 'null', 'same-origin')).toBe('origin-null')
    expect(checkCsrf(allowed, '', undefined)).toBe('origin-not-allowed')
  })

  it('SEC-24: without Origin, only Sec-Fetch-Site same-origin or none passes', () => {
    expect(checkCsrf(allowed, undefined, 'same-origin')).toBeNull()
    expect(checkCsrf(allowed, undefined, 'none')).toBeNull()
    for (const site of ['cross-site', 'same-site', 'SAME-ORIGIN', '', undefined])
      expect(checkCsrf(allowed, undefined, site), String(site)).toBe('no-origin-cross-site')
  })

  it('SEC-24: with no origins configured, every unsafe cookie request is refused', () => {
    const none = originSet(undefined)
    expect(checkCsrf(none, 'https://app.example', 'same-origin')).toBe('no-origins-configured')
    expect(checkCsrf(none, undefined, 'same-origin')).toBe('no-origins-configured')
  })

  it('SEC-24: checkOrigin (for routes with no session yet) throws ERR_CSRF on unsafe requests only', () => {
    const origins = ['https://app.example']
    expect(() => checkOrigin('GET', { origin: 'https://evil.example' }, origins)).not.toThrow()
    expect(() => checkOrigin('POST', { origin: 'https://app.example' }, origins)).not.toThrow()
    expect(() => checkOrigin('POST', { 'sec-fetch-site': 'same-origin' }, origins)).not.toThrow()
    for (const headers of [{ origin: 'https://evil.example' }, { origin: 'null' }, {}]) {
      expect(() => checkOrigin('POST', headers, origins)).toThrow(
        expect.objectContaining({ code: 'ERR_CSRF', status: 403 }),
      )
    }
    expect(() => checkOrigin('DELETE', {}, allowed)).toThrow(
      expect.objectContaining({ code: 'ERR_CSRF' }),
    )
  })
})
