import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { SecretBox } from '../../src/auth/secret-box.ts'
import { newId } from '../../src/core/token.ts'
import { accessClaims, signAccessToken } from '../../src/tokens/access.ts'
import { KeyRing } from '../../src/tokens/key-ring.ts'
import {
  createSigningKey,
  openSigningKey,
  SIGNING_BOX_INFO,
  signingBox,
} from '../../src/tokens/keys.ts'
import { TokenService } from '../../src/tokens/service.ts'
import { AUDIENCE, DAY, decode, ISSUER, MINUTE, rejection, setup } from './helpers.ts'

let open: TokenService[] = []
afterEach(async () => {
  for (const s of open) await s.close()
  open = []
})

const LONG = { idleTimeoutMs: 90 * DAY, absoluteTimeoutMs: 90 * DAY }

describe('signing keys (SEC-42)', () => {
  it('SEC-42: rotation with overlap: a token signed by the old key verifies after the rotation', async () => {
    const { service, session, clock, store } = await setup({ policy: LONG })
    open.push(service)
    const verifier = service.verifier()
    clock.advance(30 * DAY - MINUTE)
    const before = await service.issue(session, { clientId: 'web' })
    clock.advance(2 * MINUTE)
    const after = await service.issue(session, { clientId: 'web' })
    const oldKid = decode(before.access_token).header.kid
    const newKid = decode(after.access_token).header.kid
    expect(newKid).not.toBe(oldKid)
    expect((await verifier.verify(before.access_token)).jti).toBe(
      decode(before.access_token).claims.jti,
    )
    expect((await verifier.verify(after.access_token)).sid).toBe(session.id)
    expect((await service.jwks()).keys.map((k) => k.kid)).toEqual([newKid, oldKid])
    const created = store.appended.filter((e) => e.type === 'signing_key.created')
    expect(created.map((e) => e.detail?.kid)).toEqual([oldKid, newKid])
    expect(JSON.stringify(created)).not.toMatch(/privateKey|"d"/)
  })

  it('SEC-42: a retired key verifies until its expiresAt, after every token it signed has expired, then not at all', async () => {
    const { service, session, clock, tokens, secret } = await setup({ policy: LONG })
    open.push(service)
    const [oldRecord] = await tokens.listSigningKeys()
    clock.advance(30 * DAY)
    await service.issue(session, { clientId: 'web' }) // rotates
    const [newRecord] = await tokens.listSigningKeys()
    expect(newRecord!.kid).not.toBe(oldRecord!.kid)
    // the old key stopped signing at the new key's creation; it verifies for every token it signed
    expect(oldRecord!.expiresAt).toBeGreaterThanOrEqual(newRecord!.createdAt + 5 * MINUTE + 30_000)
    const oldKey = await openSigningKey(new SecretBox(secret, SIGNING_BOX_INFO), oldRecord!)
    const forge = () =>
      signAccessToken(
        oldKey,
        accessClaims({
          issuer: ISSUER,
          audience: AUDIENCE,
          session: {
            ...session,
            id: newId(),
            absoluteExpiresAt: Infinity,
            idleExpiresAt: Infinity,
          },
          clientId: 'web',
          now: clock.now(),
          ttlMs: 5 * MINUTE,
        }),
      )
    clock.set(oldRecord!.expiresAt - 1000)
    expect((await service.verifier().verify(await forge())).client_id).toBe('web')
    clock.set(oldRecord!.expiresAt)
    const err = await rejection(async () => service.verifier().verify(await forge()))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
    expect((await service.jwks()).keys.map((k) => k.kid)).not.toContain(oldRecord!.kid)
  })

  it('SEC-42: private keys are sealed in the store: no private member in the clear', async () => {
    const { service, tokens, secret } = await setup()
    open.push(service)
    const [record] = await tokens.listSigningKeys()
    const box = new SecretBox(secret, SIGNING_BOX_INFO)
    const privateJwk = JSON.parse(box.open(record!.privateKeyEnc, record!.kid)) as { d: string }
    expect(privateJwk.d).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Object.keys(record!.publicJwk).sort()).toEqual(['crv', 'kty', 'x'])
    expect(record!.privateKeyEnc).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    expect(JSON.stringify(record)).not.toContain(privateJwk.d)
    expect(JSON.stringify(record)).not.toContain('"d"')
    // sealed to its kid and to the server secret
    expect(() => box.open(record!.privateKeyEnc, 'another-kid')).toThrow()
    const other = new SecretBox(randomBytes(32).toString('base64url'), SIGNING_BOX_INFO)
    expect(() => other.open(record!.privateKeyEnc, record!.kid)).toThrow()
    // the JWKS publishes only public members
    expect(Object.keys((await service.jwks()).keys[0]!).sort()).toEqual([
      'alg',
      'crv',
      'kid',
      'kty',
      'use',
      'x',
    ])
  })

  it('the kid is the RFC 7638 thumbprint of the public key', async () => {
    const { calculateJwkThumbprint } = await import('jose')
    const { service, tokens } = await setup()
    open.push(service)
    const [record] = await tokens.listSigningKeys()
    expect(record!.kid).toBe(await calculateJwkThumbprint(record!.publicJwk))
  })

  it('nodes rotating at once add one key, not several (compare-and-set on the newest kid)', async () => {
    const { service, sessions, tokens, secret, clock } = await setup()
    open.push(service)
    const others = [1, 2, 3].map(
      () =>
        new TokenService({
          sessions,
          tokens,
          secret,
          issuer: ISSUER,
          audience: AUDIENCE,
          clients: [{ id: 'web' }],
          clock,
        }),
    )
    open.push(...others)
    await Promise.all(others.map((o) => o.init()))
    expect(await tokens.listSigningKeys()).toHaveLength(1)
    clock.advance(30 * DAY)
    await Promise.all([service, ...others].map((s) => s.keyRing.ensureCurrent()))
    const keys = await tokens.listSigningKeys()
    expect(keys).toHaveLength(2)
    for (const s of [service, ...others]) expect(s.keyRing.records[0]!.kid).toBe(keys[0]!.kid)
  })

  it('a key created by another node verifies here: the ring re-reads the store for it', async () => {
    const { service, tokens, secret, clock, session } = await setup({ policy: LONG })
    open.push(service)
    const other = new KeyRing({ tokens, secret, clock })
    await service.keyRing.load()
    clock.advance(30 * DAY)
    await other.ensureCurrent() // another node rotates
    const key = await other.signingKey()
    const token = await signAccessToken(
      key,
      accessClaims({
        issuer: ISSUER,
        audience: AUDIENCE,
        session,
        clientId: 'web',
        now: clock.now(),
        ttlMs: 5 * MINUTE,
      }),
    )
    expect(service.keyRing.records.map((r) => r.kid)).not.toContain(key.kid)
    expect((await service.verifier().verify(token)).sid).toBe(session.id)
  })

  it('an unknown kid re-reads the store at most once per minReloadMs', async () => {
    const { service, tokens, secret, clock } = await setup()
    open.push(service)
    const ring = new KeyRing({ tokens, secret, clock, reloadMs: 3_600_000 })
    await ring.load()
    const current = ring.records[0]!.kid
    const record = await createSigningKey(signingBox(secret), 'EdDSA', clock.now(), {
      rotationMs: 30 * DAY,
      accessTtlMs: 5 * MINUTE,
      clockSkewMs: 30_000,
    })
    expect(await tokens.addSigningKey(record, current)).toBe(true)
    expect(await ring.key(record.kid)).toBeNull() // loaded less than minReloadMs ago
    clock.advance(1000)
    expect((await ring.key(record.kid))?.alg).toBe('EdDSA')
    expect(await ring.key('no-such-kid')).toBeNull()
  })
})
