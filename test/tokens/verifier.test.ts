import { createHmac, createPublicKey } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import type { ManualClock } from '../../src/core/clock.ts'
import type { TokenService } from '../../src/tokens/service.ts'
import { Verifier } from '../../src/tokens/verifier.ts'
import {
  AUDIENCE,
  compact,
  DAY,
  decode,
  ISSUER,
  rejection,
  type SetupOptions,
  setup,
  signWith,
} from './helpers.ts'

let open: TokenService[] = []
afterEach(async () => {
  for (const s of open) await s.close()
  open = []
})

/** A fake fetch serving the service's JWKS and recording every URL asked for. */
function jwksFetchOf(service: TokenService, fetched: string[]) {
  return async (url: string) => {
    fetched.push(url)
    return new Response(JSON.stringify(await service.jwks()), {
      headers: { 'content-type': 'application/json' },
    })
  }
}

async function world(options: SetupOptions = {}) {
  const w = await setup(options)
  open.push(w.service)
  const pair = await w.service.issue(w.session, { clientId: 'web' })
  const { header, claims } = decode(pair.access_token)
  const fetched: string[] = []
  const jwksFetch = jwksFetchOf(w.service, fetched)
  const remote = (clock: ManualClock = w.clock) =>
    new Verifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: { jwksUrl: 'https://auth.example/jwks', fetch: jwksFetch },
      clock,
    })
  const realKey = await w.service.keyRing.signingKey()
  return { ...w, pair, header, claims, fetched, remote, realKey }
}

/** An attacker's own Ed25519 key pair, its public JWK and kid. */
async function attackerKey() {
  const pair = await generateKeyPair('EdDSA', { extractable: true })
  const jwk = await exportJWK(pair.publicKey)
  return { privateKey: pair.privateKey, jwk, kid: await calculateJwkThumbprint(jwk) }
}

describe('Verifier: algorithms (SEC-38)', () => {
  it('SEC-38: a token with alg none is refused', async () => {
    const { service, claims, header } = await world()
    const token = compact({ alg: 'none', typ: 'at+jwt', kid: header.kid }, claims)
    expect((await rejection(() => service.verifier().verify(token))).code).toBe('ERR_TOKEN_INVALID')
  })

  it('SEC-38: HS256 signed with the public key as the HMAC secret is refused', async () => {
    const { service, claims, header } = await world()
    const jwks = await service.jwks()
    const jwk = jwks.keys[0]!
    const pem = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString()
    for (const secret of [pem, JSON.stringify(jwk), Buffer.from(jwk.x, 'base64url')]) {
      const h = { alg: 'HS256', typ: 'at+jwt', kid: header.kid }
      const unsigned = compact(h, claims).slice(0, -1)
      const sig = createHmac('sha256', secret).update(unsigned).digest('base64url')
      const err = await rejection(() => service.verifier().verify(`${unsigned}.${sig}`))
      expect(err.code).toBe('ERR_TOKEN_INVALID')
    }
  })

  it('SEC-38: an ES256 token whose kid names an EdDSA key is refused', async () => {
    const { service, claims, header } = await world()
    const es = await generateKeyPair('ES256')
    const token = await signWith(
      es,
      { alg: 'ES256', typ: 'at+jwt', kid: header.kid! },
      { ...claims },
    )
    const err = await rejection(() => service.verifier().verify(token))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
    expect(err.message).toMatch(/algorithm does not match/)
  })

  it('SEC-38: a token with its signature stripped is refused', async () => {
    const { service, pair } = await world()
    const [h, p] = pair.access_token.split('.')
    for (const token of [`${h}.${p}.`, `${h}.${p}`, `${h}.${p}.AAAA`]) {
      const err = await rejection(() => service.verifier().verify(token))
      expect(err.code).toBe('ERR_TOKEN_INVALID')
    }
  })

  it('SEC-38: a verifier cannot be configured with an HMAC or unknown algorithm', () => {
    for (const alg of ['HS256', 'none', 'RS256']) {
      expect(
        () =>
          new Verifier({
            issuer: ISSUER,
            audience: AUDIENCE,
            keys: { jwksUrl: 'https://auth.example/jwks' },
            algorithms: [alg as 'EdDSA'],
          }),
      ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }))
    }
  })

  it('SEC-38: ES256 keys sign and verify when configured, and the JWKS says so', async () => {
    const { service, session } = await setup({ service: { alg: 'ES256' } })
    open.push(service)
    const pair = await service.issue(session, { clientId: 'web' })
    expect(decode(pair.access_token).header.alg).toBe('ES256')
    expect((await service.verifier().verify(pair.access_token)).sid).toBe(session.id)
    const [key] = (await service.jwks()).keys
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
  })
})

describe('Verifier: where keys come from (SEC-39)', () => {
  it('SEC-39: jku, x5u, x5c and embedded jwk headers never introduce a key', async () => {
    const { claims, remote, fetched, header } = await world()
    const attacker = await attackerKey()
    const verifier = remote()
    const base = { alg: 'EdDSA', typ: 'at+jwt' }
    const headers = [
      { ...base, kid: attacker.kid, jwk: attacker.jwk },
      { ...base, kid: header.kid!, jwk: attacker.jwk },
      { ...base, kid: attacker.kid, jku: 'https://attacker.example/jwks' },
      { ...base, kid: header.kid!, jku: 'https://attacker.example/jwks' },
      { ...base, kid: attacker.kid, x5u: 'https://attacker.example/cert.pem' },
      { ...base, kid: attacker.kid, x5c: ['MIIB'] },
    ]
    for (const h of headers) {
      const token = await signWith(attacker, h, { ...claims })
      const err = await rejection(() => verifier.verify(token))
      expect(err.code).toBe('ERR_TOKEN_INVALID')
    }
    expect(fetched.every((url) => url === 'https://auth.example/jwks')).toBe(true)
  })

  it('SEC-39: an unknown kid causes one refetch of the JWKS, then is refused', async () => {
    const { claims, remote, fetched, clock, pair } = await world()
    const verifier = remote()
    await verifier.verify(pair.access_token)
    expect(fetched).toHaveLength(1)
    clock.advance(30_000)
    const attacker = await attackerKey()
    const token = await signWith(
      attacker,
      { alg: 'EdDSA', typ: 'at+jwt', kid: attacker.kid },
      {
        ...claims,
      },
    )
    const err = await rejection(() => verifier.verify(token))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
    expect(fetched).toHaveLength(2)
  })

  it('SEC-39: 50 unknown-kid tokens cause at most one JWKS fetch per minRefetchMs', async () => {
    const { claims, remote, fetched, clock, pair } = await world()
    const verifier = remote()
    await verifier.verify(pair.access_token)
    const attacker = await attackerKey()
    const forged = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        signWith(attacker, { alg: 'EdDSA', typ: 'at+jwt', kid: `unknown-${i}` }, { ...claims }),
      ),
    )
    const burst = async () => {
      const errors = await Promise.all(forged.map((t) => rejection(() => verifier.verify(t))))
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERR_TOKEN_INVALID']))
    }
    await burst() // within minRefetchMs of the first fetch: none
    expect(fetched).toHaveLength(1)
    clock.advance(29_999)
    await burst()
    expect(fetched).toHaveLength(1)
    clock.advance(1)
    await burst() // one concurrent burst after the interval: exactly one
    expect(fetched).toHaveLength(2)
    await burst()
    expect(fetched).toHaveLength(2)
  })

  it('SEC-39: a key published since the last fetch is found by the rate-limited refetch', async () => {
    const { service, session, fetched, clock, pair } = await world({
      policy: { idleTimeoutMs: 60 * DAY, absoluteTimeoutMs: 60 * DAY },
    })
    const verifier = new Verifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: {
        jwksUrl: 'https://auth.example/jwks',
        fetch: jwksFetchOf(service, fetched),
        cacheMs: 90 * DAY,
      },
      clock,
    })
    await verifier.verify(pair.access_token)
    clock.advance(30 * DAY) // the next issue rotates the signing key
    const next = await service.issue(session, { clientId: 'web' })
    expect(decode(next.access_token).header.kid).not.toBe(decode(pair.access_token).header.kid)
    expect((await verifier.verify(next.access_token)).sid).toBe(session.id)
    expect(fetched).toHaveLength(2)
  })

  it('SEC-39: with the JWKS unreachable and no key known, verification fails closed with 503', async () => {
    const { pair, clock } = await world()
    const verifier = new Verifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: {
        jwksUrl: 'https://auth.example/jwks',
        fetch: async () => {
          throw new Error('ECONNREFUSED')
        },
      },
      clock,
    })
    const err = await rejection(() => verifier.verify(pair.access_token))
    expect(err.code).toBe('ERR_STORE_UNAVAILABLE')
    expect((await rejection(() => verifier.verify(pair.access_token))).code).toBe(
      'ERR_STORE_UNAVAILABLE',
    )
  })
})
