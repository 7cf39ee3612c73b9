import { afterEach, describe, expect, it, vi } from 'vitest'
import { ParleyError } from '../../src/core/errors.ts'
import type { TokenService } from '../../src/tokens/service.ts'
import { TokenService as Service } from '../../src/tokens/service.ts'
import { AUDIENCE, decode, ISSUER, JKT, MINUTE, rejection, setup } from './helpers.ts'

let open: TokenService[] = []
afterEach(async () => {
  for (const s of open) await s.close()
  open = []
})

async function world(options: Parameters<typeof setup>[0] = {}) {
  const w = await setup(options)
  open.push(w.service)
  const pair = await w.service.issue(w.session, { clientId: 'web' })
  return { ...w, pair }
}

const ACCESS_FIELDS = [
  'active',
  'aud',
  'auth_level',
  'client_id',
  'exp',
  'iat',
  'iss',
  'sid',
  'sub',
  'token_type',
]

describe('issue', () => {
  it('answers with the RFC 6749 field names and records token.issued without secrets', async () => {
    const { pair, store, session } = await world()
    expect(Object.keys(pair).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_token',
      'token_type',
    ])
    expect(pair).toMatchObject({ token_type: 'Bearer', expires_in: 300 })
    const issued = store.appended.filter((e) => e.type === 'token.issued')
    expect(issued).toEqual([
      expect.objectContaining({
        sessionId: session.id,
        principal: 'user-42',
        actor: 'client:web',
        detail: expect.objectContaining({ clientId: 'web' }),
      }),
    ])
    expect(JSON.stringify(issued)).not.toContain(pair.refresh_token.split('.')[1])
  })

  it('refuses an unknown client, and a DPoP client without a key thumbprint', async () => {
    const { service, session } = await world()
    expect((await rejection(() => service.issue(session, { clientId: 'evil' }))).code).toBe(
      'ERR_CLIENT_INVALID',
    )
    expect((await rejection(() => service.issue(session, { clientId: 'mobile' }))).code).toBe(
      'ERR_DPOP_INVALID',
    )
    expect(
      (await rejection(() => service.issue(session, { clientId: 'web', jkt: 'short' }))).code,
    ).toBe('ERR_DPOP_INVALID')
    const bound = await service.issue(session, { clientId: 'mobile', jkt: JKT })
    expect(bound.token_type).toBe('DPoP')
    expect(decode(bound.access_token).claims.cnf).toEqual({ jkt: JKT })
  })

  it('refuses to issue for an ended session', async () => {
    const { service, session, sessions } = await world()
    await sessions.end(session.id, 'logout')
    const err = await rejection(() => service.issue(session, { clientId: 'web' }))
    expect(err).toMatchObject({ code: 'ERR_SESSION_ENDED', details: { reason: 'logout' } })
  })

  it('SEC-41: a token of a session that times out expires by itself: exp is capped by the session expiry', async () => {
    const { service, session, clock, sessions } = await world({
      policy: { idleTimeoutMs: 2 * MINUTE, absoluteTimeoutMs: 10 * MINUTE },
    })
    const pair = await service.issue(session, { clientId: 'web' })
    const { claims } = decode(pair.access_token)
    expect(claims.exp).toBe(Math.floor(session.idleExpiresAt / 1000))
    expect(pair.expires_in).toBe(120)
    clock.advance(2 * MINUTE + 30_000) // idle expiry plus the skew: nothing revoked it
    const err = await rejection(() => service.verifier().verify(pair.access_token))
    expect(err.code).toBe('ERR_TOKEN_EXPIRED')
    expect((await sessions.get(session.id)).endReason).toBe('idle_timeout')
  })

  it('SEC-41: the absolute expiry caps exp too', async () => {
    const { service, session, clock } = await world({
      policy: { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 12 * MINUTE },
    })
    clock.advance(9 * MINUTE)
    await service.refresh((await service.issue(session, { clientId: 'web' })).refresh_token, {
      clientId: 'web',
    })
    const pair = await service.issue(session, { clientId: 'web' })
    expect(decode(pair.access_token).claims.exp).toBe(Math.floor(session.absoluteExpiresAt / 1000))
  })

  it('rejects a weak secret, a long grace window and duplicate clients', () => {
    const base = {
      sessions: { store: {} } as never,
      tokens: {} as never,
      secret: 'x'.repeat(43),
      issuer: ISSUER,
      audience: AUDIENCE,
      clients: [{ id: 'web' }],
    }
    const bad = [
      { secret: 'short' },
      { graceMs: 120_000 },
      { clients: [{ id: 'a' }, { id: 'a' }] },
      { issuer: '' },
      { accessTtlMs: 10 },
    ]
    expect(new Service(base)).toBeInstanceOf(Service)
    for (const patch of bad) {
      expect(() => new Service({ ...base, ...patch } as never)).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
      )
    }
  })
})

describe('DPoP binding at verification', () => {
  it('SEC-46: a DPoP-bound token without a proof check is refused; with one, the check runs each time', async () => {
    const { service, session } = await world()
    const bound = await service.issue(session, { clientId: 'mobile', jkt: JKT })
    const verifier = service.verifier()
    expect((await rejection(() => verifier.verify(bound.access_token))).code).toBe(
      'ERR_DPOP_INVALID',
    )
    const proof = vi.fn(async () => {})
    await verifier.verify(bound.access_token, proof)
    await verifier.verify(bound.access_token, proof)
    expect(proof).toHaveBeenCalledTimes(2)
    expect(proof).toHaveBeenCalledWith(expect.objectContaining({ cnf: { jkt: JKT } }))
    const failing = async () => {
      throw new ParleyError('ERR_DPOP_INVALID')
    }
    expect((await rejection(() => verifier.verify(bound.access_token, failing))).code).toBe(
      'ERR_DPOP_INVALID',
    )
  })
})

describe('introspection (SEC-45)', () => {
  it('SEC-45: an active access token shows only the listed fields', async () => {
    const { service, pair, session } = await world()
    const answer = await service.introspect(pair.access_token)
    expect(Object.keys(answer).sort()).toEqual(ACCESS_FIELDS)
    expect(answer).toMatchObject({
      active: true,
      token_type: 'access_token',
      sub: 'user-42',
      sid: session.id,
      client_id: 'web',
      iss: ISSUER,
      aud: AUDIENCE,
      auth_level: 2,
    })
    const bound = await service.issue(session, { clientId: 'mobile', jkt: JKT })
    expect(await service.introspect(bound.access_token)).toMatchObject({ cnf: { jkt: JKT } })
  })

  it('SEC-45: an active refresh token shows only the listed fields', async () => {
    const { service, pair, session } = await world()
    const answer = await service.introspect(pair.refresh_token)
    expect(Object.keys(answer).sort()).toEqual(ACCESS_FIELDS)
    expect(answer).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      sid: session.id,
      exp: Math.floor(session.absoluteExpiresAt / 1000),
    })
  })

  it('SEC-45: unknown, malformed, expired, rotated, revoked and foreign tokens are all just inactive', async () => {
    const { service, pair, session, clock } = await world()
    const foreign = await world() // another Parley, other keys and secret
    const inactive = async (token: unknown) =>
      expect(await service.introspect(token)).toEqual({ active: false })
    for (const token of [
      undefined,
      42,
      '',
      'garbage',
      'a.b.c',
      `plyr_${'A'.repeat(22)}.${'B'.repeat(43)}`,
      pair.refresh_token.slice(0, -1),
      foreign.pair.access_token,
      foreign.pair.refresh_token,
      'x'.repeat(100_000),
    ]) {
      await inactive(token)
    }
    // rotated
    const next = await service.refresh(pair.refresh_token, { clientId: 'web' })
    await inactive(pair.refresh_token)
    // expired
    clock.advance(5 * MINUTE + 31_000)
    await inactive(pair.access_token)
    // revoked
    const fresh = await service.issue(session, { clientId: 'web' })
    expect((await service.introspect(fresh.access_token)).active).toBe(true)
    await service.revoke(next.refresh_token)
    await inactive(fresh.access_token)
    await inactive(fresh.refresh_token)
  })
})

describe('revocation (RFC 7009)', () => {
  it('SEC-45: revoking a refresh token ends its session with revoked and records token.revoked', async () => {
    const { service, pair, sessions, session, store } = await world()
    expect(
      await service.revoke(pair.refresh_token, { clientId: 'web' }, { ip: '203.0.113.9' }),
    ).toBe(true)
    expect(await sessions.get(session.id)).toMatchObject({ state: 'ended', endReason: 'revoked' })
    const events = await store.events({ sessionId: session.id })
    expect(events.at(-1)).toMatchObject({
      type: 'token.revoked',
      actor: 'client:web',
      ip: '203.0.113.9',
      detail: { clientId: 'web', tokenType: 'refresh_token' },
    })
    expect(
      (await rejection(() => service.refresh(pair.refresh_token, { clientId: 'web' }))).code,
    ).toBe('ERR_REFRESH_INVALID')
  })

  it('SEC-45: revoking an access token ends its session too', async () => {
    const { service, pair, sessions, session } = await world()
    expect(await service.revoke(pair.access_token)).toBe(true)
    expect((await sessions.get(session.id)).endReason).toBe('revoked')
    expect((await rejection(() => service.verifier().verify(pair.access_token))).code).toBe(
      'ERR_TOKEN_REVOKED',
    )
  })

  it('SEC-45: unknown tokens and tokens of another client are no error and change nothing', async () => {
    const { service, pair, sessions, session } = await world()
    for (const token of ['nope', 42, `plyr_${'A'.repeat(22)}.${'B'.repeat(43)}`, 'a.b.c']) {
      expect(await service.revoke(token)).toBe(false)
    }
    expect(await service.revoke(pair.refresh_token, { clientId: 'cli' })).toBe(false)
    expect(await service.revoke(pair.access_token, { clientId: 'cli' })).toBe(false)
    expect((await sessions.get(session.id)).state).toBe('active')
    expect(await service.revoke(pair.refresh_token, { clientId: 'web' })).toBe(true)
    expect(await service.revoke(pair.refresh_token, { clientId: 'web' })).toBe(false) // already
  })
})

describe('sweep', () => {
  it('purges expired refresh tokens', async () => {
    const { service, pair, tokens, clock } = await world({
      service: { refreshTtlMs: 60 * MINUTE },
    })
    expect(await service.sweep()).toBe(0)
    clock.advance(60 * MINUTE)
    expect(await service.sweep()).toBe(1)
    expect(await tokens.getRefresh(pair.refresh_token.slice(5, 27))).toBeNull()
  })
})
