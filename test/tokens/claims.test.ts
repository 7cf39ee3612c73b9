import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import type { TokenService } from '../../src/tokens/service.ts'
import { Verifier } from '../../src/tokens/verifier.ts'
import { AUDIENCE, compact, decode, ISSUER, MINUTE, rejection, setup, signWith } from './helpers.ts'

let open: TokenService[] = []
afterEach(async () => {
  for (const s of open) await s.close()
  open = []
})

async function world() {
  const w = await setup()
  open.push(w.service)
  const pair = await w.service.issue(w.session, { clientId: 'web' })
  const { header, claims } = decode(pair.access_token)
  const key = await w.service.keyRing.signingKey()
  const sign = (payload: Record<string, unknown>, typ = 'at+jwt') =>
    signWith(key, { alg: key.alg, kid: key.kid, typ }, payload)
  return {
    ...w,
    pair,
    header,
    claims,
    key,
    sign,
    verify: (t: string) => w.service.verifier().verify(t),
  }
}

describe('Verifier: claims and type (SEC-40)', () => {
  it('SEC-40: a token for another audience is refused', async () => {
    const { claims, sign, verify, service, clock, pair } = await world()
    const err = await rejection(async () =>
      verify(await sign({ ...claims, aud: 'https://other.example' })),
    )
    expect(err.code).toBe('ERR_TOKEN_CLAIMS')
    const other = new Verifier({
      issuer: ISSUER,
      audience: 'https://other.example',
      keys: service.keyRing,
      clock,
    })
    expect((await rejection(() => other.verify(pair.access_token))).code).toBe('ERR_TOKEN_CLAIMS')
  })

  it('SEC-40: a token from another issuer is refused', async () => {
    const { claims, sign, verify } = await world()
    const err = await rejection(async () =>
      verify(await sign({ ...claims, iss: 'https://evil.example' })),
    )
    expect(err.code).toBe('ERR_TOKEN_CLAIMS')
  })

  it('SEC-40: a token of another type (typ JWT, none, id token) is refused', async () => {
    const { claims, key, verify } = await world()
    for (const typ of ['JWT', 'jwt', 'dpop+jwt', undefined]) {
      const header = { alg: key.alg, kid: key.kid, ...(typ === undefined ? {} : { typ }) }
      const err = await rejection(async () => verify(await signWith(key, header, { ...claims })))
      expect(err.code).toBe('ERR_TOKEN_INVALID')
    }
  })

  it('SEC-40: exp is checked with the bounded skew: valid within it, expired beyond it', async () => {
    const { pair, verify, clock } = await world()
    clock.advance(5 * MINUTE + 29_000)
    expect((await verify(pair.access_token)).client_id).toBe('web')
    clock.advance(1000)
    expect((await rejection(() => verify(pair.access_token))).code).toBe('ERR_TOKEN_EXPIRED')
  })

  it('SEC-40: nbf in the future beyond the skew is refused; within it, accepted', async () => {
    const { claims, sign, verify } = await world()
    const err = await rejection(async () => verify(await sign({ ...claims, nbf: claims.iat + 60 })))
    expect(err.code).toBe('ERR_TOKEN_NOT_YET_VALID')
    expect((await verify(await sign({ ...claims, nbf: claims.iat + 20 }))).sid).toBe(claims.sid)
  })

  it('SEC-40: iat in the future beyond the skew is refused', async () => {
    const { claims, sign, verify } = await world()
    const err = await rejection(async () =>
      verify(await sign({ ...claims, iat: claims.iat + 60, exp: claims.exp + 60 })),
    )
    expect(err.code).toBe('ERR_TOKEN_NOT_YET_VALID')
  })

  it('SEC-40: a token missing sid, exp or jti is refused', async () => {
    const { claims, sign, verify } = await world()
    for (const name of ['sid', 'exp', 'jti', 'sub']) {
      const { [name as 'sid']: _gone, ...rest } = claims
      const err = await rejection(async () => verify(await sign(rest)))
      expect(err.code).toBe('ERR_TOKEN_CLAIMS')
    }
  })

  it('an access token carries iss, aud, sub, sid, iat, exp, jti, auth_level and client_id with typ at+jwt', async () => {
    const { header, claims, session, clock } = await world()
    expect(header).toEqual({ alg: 'EdDSA', kid: expect.any(String), typ: 'at+jwt' })
    const iat = Math.floor(clock.now() / 1000)
    expect(claims).toEqual({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'user-42',
      sid: session.id,
      iat,
      exp: iat + 300,
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      auth_level: 2,
      client_id: 'web',
    })
  })
})

describe('Verifier: the verified-token cache', () => {
  it('a second verify of the same token costs no signature check', async () => {
    const { pair, service } = await world()
    const verifier = service.verifier()
    const first = await verifier.verify(pair.access_token)
    const second = await verifier.verify(pair.access_token)
    expect(second).toEqual(first)
    expect(verifier.stats).toMatchObject({ signatureChecks: 1, cacheHits: 1, cached: 1 })
    expect(Object.isFrozen(second)).toBe(true)
  })

  it('a cached token is still refused once its session ends, and once it expires', async () => {
    const { pair, service, clock, session } = await world()
    const verifier = service.verifier()
    await verifier.verify(pair.access_token)
    const other = await service.issue(session, { clientId: 'cli' })
    await verifier.verify(other.access_token)
    clock.advance(5 * MINUTE + 30_000)
    expect((await rejection(() => verifier.verify(pair.access_token))).code).toBe(
      'ERR_TOKEN_EXPIRED',
    )
    const fresh = await service.issue(session, { clientId: 'web' })
    await verifier.verify(fresh.access_token)
    await service.revoke(fresh.refresh_token)
    const err = await rejection(() => verifier.verify(fresh.access_token))
    expect(err.code).toBe('ERR_TOKEN_REVOKED')
    expect(verifier.stats.cacheHits).toBe(1)
  })

  it('the cache is bounded: the least recently used token goes first', async () => {
    const w = await setup()
    open.push(w.service)
    const verifier = new Verifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: w.service.keyRing,
      clock: w.clock,
      cache: { maxEntries: 2 },
    })
    const tokens = await Promise.all(
      [1, 2, 3].map(
        async () => (await w.service.issue(w.session, { clientId: 'web' })).access_token,
      ),
    )
    for (const t of tokens) await verifier.verify(t)
    expect(verifier.stats.cached).toBe(2)
    await verifier.verify(tokens[2]!) // hit
    await verifier.verify(tokens[0]!) // evicted: checked again
    expect(verifier.stats).toMatchObject({ signatureChecks: 4, cacheHits: 1, cached: 2 })
  })

  it('with the cache off, every verify checks the signature', async () => {
    const w = await setup()
    open.push(w.service)
    const verifier = new Verifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: w.service.keyRing,
      clock: w.clock,
      cache: false,
    })
    const { access_token } = await w.service.issue(w.session, { clientId: 'web' })
    await verifier.verify(access_token)
    await verifier.verify(access_token)
    expect(verifier.stats).toMatchObject({ signatureChecks: 2, cacheHits: 0 })
  })
})

describe('JWT forgery', () => {
  it('SEC-38: SEC-39: SEC-40: attack scenario 6: alg none, HS256 with the public key, jku/jwk headers, another audience, a stripped signature: all refused', async () => {
    const { claims, header, pair, service, key } = await world()
    const verifier = service.verifier()
    const attacker = await generateKeyPair('EdDSA', { extractable: true })
    const attackerJwk = await exportJWK(attacker.publicKey)
    const attackerKid = await calculateJwkThumbprint(attackerJwk)
    const jwk = (await service.jwks()).keys[0]!
    const { createHmac } = await import('node:crypto')
    const hsUnsigned = compact({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }, claims).slice(
      0,
      -1,
    )
    const [h, p] = pair.access_token.split('.')
    const forgeries: Record<string, string> = {
      none: compact({ alg: 'none', typ: 'at+jwt', kid: header.kid }, claims),
      hs256: `${hsUnsigned}.${createHmac('sha256', JSON.stringify(jwk)).update(hsUnsigned).digest('base64url')}`,
      jwk: await signWith(
        attacker,
        { alg: 'EdDSA', typ: 'at+jwt', kid: attackerKid, jwk: attackerJwk },
        { ...claims },
      ),
      jku: await signWith(
        attacker,
        { alg: 'EdDSA', typ: 'at+jwt', kid: attackerKid, jku: 'https://attacker.example/jwks' },
        { ...claims },
      ),
      audience: await signWith(
        key,
        { alg: key.alg, kid: key.kid, typ: 'at+jwt' },
        { ...claims, aud: 'https://other.example' },
      ),
      stripped: `${h}.${p}.`,
      tampered: `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${pair.access_token.split('.')[2]}`,
    }
    const codes: Record<string, string> = {}
    for (const [name, token] of Object.entries(forgeries)) {
      codes[name] = (await rejection(() => verifier.verify(token))).code
    }
    expect(codes).toEqual({
      none: 'ERR_TOKEN_INVALID',
      hs256: 'ERR_TOKEN_INVALID',
      jwk: 'ERR_TOKEN_INVALID',
      jku: 'ERR_TOKEN_INVALID',
      audience: 'ERR_TOKEN_CLAIMS',
      stripped: 'ERR_TOKEN_INVALID',
      tampered: 'ERR_TOKEN_INVALID',
    })
    // the genuine token still passes
    expect((await verifier.verify(pair.access_token)).sub).toBe('user-42')
  })
})
