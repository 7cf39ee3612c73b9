import { afterEach, describe, expect, it } from 'vitest'
import { hashSecret, parseToken } from '../../src/core/token.ts'
import type { TokenService } from '../../src/tokens/service.ts'
import { decode, JKT, rejection, setup } from './helpers.ts'

let open: TokenService[] = []
afterEach(async () => {
  for (const s of open) await s.close()
  open = []
})

async function world(options: Parameters<typeof setup>[0] = {}) {
  const w = await setup(options)
  open.push(w.service)
  const pair = await w.service.issue(w.session, { clientId: 'web' }, { ip: '203.0.113.9' })
  return { ...w, pair }
}

const idOf = (token: string) => parseToken('refresh', token)!.id

describe('refresh tokens (SEC-43)', () => {
  it('SEC-43: refresh tokens are opaque, prefixed and stored only as a hash, bound to session and client', async () => {
    const { pair, tokens, session } = await world()
    expect(pair.refresh_token).toMatch(/^plyr_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/)
    const parsed = parseToken('refresh', pair.refresh_token)!
    const record = (await tokens.getRefresh(parsed.id))!
    expect(record).toMatchObject({
      secretHash: hashSecret(parsed.secret),
      sessionId: session.id,
      clientId: 'web',
      rotatedAt: null,
      jkt: null,
    })
    expect(JSON.stringify(record)).not.toContain(parsed.secret)
  })

  it('SEC-43: every use rotates: a new pair, the old token marked rotated into the new one', async () => {
    const { pair, tokens, service, clock, session } = await world()
    clock.advance(60_000)
    const next = await service.refresh(pair.refresh_token, { clientId: 'web' })
    expect(next.refresh_token).not.toBe(pair.refresh_token)
    expect(next.access_token).not.toBe(pair.access_token)
    expect(next).toMatchObject({ token_type: 'Bearer', expires_in: 300 })
    const old = (await tokens.getRefresh(idOf(pair.refresh_token)))!
    expect(old.rotatedAt).toBe(clock.now())
    expect(old.successorId).toBe(idOf(next.refresh_token))
    expect(old.successorAccess).toMatchObject({ jti: decode(next.access_token).claims.jti })
    expect((await service.verifier().verify(next.access_token)).sid).toBe(session.id)
    clock.advance(60_000)
    const third = await service.refresh(next.refresh_token, { clientId: 'web' })
    expect(idOf(third.refresh_token)).not.toBe(idOf(next.refresh_token))
  })

  it('SEC-43: a refresh token is refused for another client, and the session stays', async () => {
    const { pair, service, sessions, session } = await world()
    const err = await rejection(() => service.refresh(pair.refresh_token, { clientId: 'cli' }))
    expect(err.code).toBe('ERR_REFRESH_INVALID')
    expect((await sessions.get(session.id)).state).toBe('active')
    expect(
      (await rejection(() => service.refresh(pair.refresh_token, { clientId: 'nobody' }))).code,
    ).toBe('ERR_CLIENT_INVALID')
    await service.refresh(pair.refresh_token, { clientId: 'web' })
  })

  it('SEC-43: malformed, unknown, wrong-secret and expired refresh tokens are refused alike', async () => {
    const { pair, service, clock } = await world()
    const { id } = parseToken('refresh', pair.refresh_token)!
    const bad = [
      'garbage',
      42,
      null,
      `plyr_${id}.${'A'.repeat(43)}`,
      `plyr_${'B'.repeat(22)}.${'A'.repeat(43)}`,
      pair.refresh_token.replace('plyr_', 'plys_'),
    ]
    for (const token of bad) {
      const err = await rejection(() => service.refresh(token, { clientId: 'web' }))
      expect(err.code).toBe('ERR_REFRESH_INVALID')
      expect(err.message).not.toContain(pair.refresh_token.slice(28))
    }
    clock.advance(30 * 24 * 3_600_000)
    expect(
      (await rejection(() => service.refresh(pair.refresh_token, { clientId: 'web' }))).code,
    ).toBe('ERR_REFRESH_INVALID')
  })

  it('SEC-43: reuse after the grace window ends the session with refresh_reuse and is audited', async () => {
    const { pair, service, sessions, session, clock, store } = await world()
    await service.refresh(pair.refresh_token, { clientId: 'web' })
    clock.advance(10_001)
    const err = await rejection(() =>
      service.refresh(pair.refresh_token, { clientId: 'web' }, { ip: '198.51.100.66' }),
    )
    expect(err.code).toBe('ERR_REFRESH_INVALID')
    const ended = await sessions.get(session.id)
    expect(ended).toMatchObject({ state: 'ended', endReason: 'refresh_reuse' })
    const events = await store.events({ sessionId: session.id })
    expect(events.map((e) => e.type)).toEqual([
      'session.created',
      'token.issued',
      'token.refreshed',
      'session.ended',
      'token.reuse_detected',
    ])
    expect(events.at(-1)).toMatchObject({
      actor: 'system',
      reason: 'refresh_reuse',
      ip: '198.51.100.66',
      principal: 'user-42',
      detail: { clientId: 'web', refreshId: idOf(pair.refresh_token) },
    })
  })

  it('the session is touched at each refresh, so sliding idle expiry works', async () => {
    const { pair, service, sessions, session, clock } = await world({
      policy: { idleTimeoutMs: 10 * 60_000 },
    })
    let token = pair.refresh_token
    for (let i = 0; i < 5; i++) {
      clock.advance(8 * 60_000)
      token = (await service.refresh(token, { clientId: 'web' })).refresh_token
    }
    expect((await sessions.get(session.id)).state).toBe('active') // 40 minutes of a 10-minute idle timeout
  })

  it('a refresh token lives refreshTtlMs, never past the session absolute expiry', async () => {
    const { pair, tokens, session } = await world()
    const record = (await tokens.getRefresh(idOf(pair.refresh_token)))!
    expect(record.expiresAt).toBe(session.absoluteExpiresAt)
    const short = await world({ service: { refreshTtlMs: 3_600_000 } })
    const r2 = (await short.tokens.getRefresh(idOf(short.pair.refresh_token)))!
    expect(r2.expiresAt).toBe(r2.createdAt + 3_600_000)
  })

  it('a DPoP-bound refresh token needs the same key thumbprint', async () => {
    const { service, session } = await world()
    const pair = await service.issue(session, { clientId: 'mobile', jkt: JKT })
    expect(pair.token_type).toBe('DPoP')
    const other = `${'x'.repeat(42)}y`
    for (const jkt of [undefined, other]) {
      const err = await rejection(() =>
        service.refresh(pair.refresh_token, { clientId: 'mobile', jkt }),
      )
      expect(err.code).toBe('ERR_DPOP_INVALID')
    }
    const next = await service.refresh(pair.refresh_token, { clientId: 'mobile', jkt: JKT })
    expect(decode(next.access_token).claims.cnf).toEqual({ jkt: JKT })
  })
})

describe('the grace window (SEC-44)', () => {
  it('SEC-44: 5 concurrent refreshes of one token get the identical pair; one successor; the session lives', async () => {
    const { pair, service, tokens, sessions, session } = await world()
    const results = await Promise.all(
      Array.from({ length: 5 }, () => service.refresh(pair.refresh_token, { clientId: 'web' })),
    )
    for (const r of results) {
      expect(r.access_token).toBe(results[0]!.access_token)
      expect(r.refresh_token).toBe(results[0]!.refresh_token)
    }
    expect(tokens.rotations.filter((s) => s === 'rotated')).toHaveLength(1)
    expect((await tokens.getRefresh(idOf(pair.refresh_token)))!.successorId).toBe(
      idOf(results[0]!.refresh_token),
    )
    expect((await sessions.get(session.id)).state).toBe('active')
    expect((await service.verifier().verify(results[0]!.access_token)).sid).toBe(session.id)
    // the shared successor is an ordinary refresh token
    await service.refresh(results[0]!.refresh_token, { clientId: 'web' })
  })

  it('SEC-44: a late racer within the window gets the same pair; just after it, reuse is detected', async () => {
    const { pair, service, sessions, session, clock } = await world()
    const first = await service.refresh(pair.refresh_token, { clientId: 'web' })
    clock.advance(10_000)
    const again = await service.refresh(pair.refresh_token, { clientId: 'web' })
    expect(again.access_token).toBe(first.access_token)
    expect(again.refresh_token).toBe(first.refresh_token)
    expect(again.expires_in).toBe(first.expires_in - 10)
    clock.advance(1)
    expect(
      (await rejection(() => service.refresh(pair.refresh_token, { clientId: 'web' }))).code,
    ).toBe('ERR_REFRESH_INVALID')
    expect((await sessions.get(session.id)).endReason).toBe('refresh_reuse')
  })

  it('SEC-44: the grace window is configurable and never mints a second successor', async () => {
    const { pair, service, tokens, clock } = await world({ service: { graceMs: 2000 } })
    const first = await service.refresh(pair.refresh_token, { clientId: 'web' })
    clock.advance(2000)
    expect((await service.refresh(pair.refresh_token, { clientId: 'web' })).refresh_token).toBe(
      first.refresh_token,
    )
    expect(tokens.rotations).toEqual(['rotated'])
  })
})

describe('store outage during refresh', () => {
  for (const step of ['getRefresh', 'rotateRefresh', 'touch'] as const) {
    it(`SEC-56: a store failure at ${step} answers ERR_STORE_UNAVAILABLE and never ends the session`, async () => {
      const { pair, service, tokens, store, sessions, session, clock } = await world()
      clock.advance(1000)
      if (step === 'touch') store.failing.add(step)
      else tokens.down.add(step)
      const err = await rejection(() => service.refresh(pair.refresh_token, { clientId: 'web' }))
      expect(err.code).toBe('ERR_STORE_UNAVAILABLE')
      expect(err.status).toBe(503)
      store.failing.clear()
      tokens.down.clear()
      expect((await sessions.get(session.id)).state).toBe('active')
      // the client retries with the same token and succeeds
      const next = await service.refresh(pair.refresh_token, { clientId: 'web' })
      expect((await service.verifier().verify(next.access_token)).sid).toBe(session.id)
      expect((await sessions.get(session.id)).state).toBe('active')
    })
  }

  it('SEC-56: once the rotation is saved, a failing audit line does not fail the refresh (a later retry would look like theft)', async () => {
    const { pair, service, store, sessions, session, clock } = await world()
    store.failing.add('appendEvent')
    const next = await service.refresh(pair.refresh_token, { clientId: 'web' })
    store.failing.clear()
    expect((await service.verifier().verify(next.access_token)).sid).toBe(session.id)
    clock.advance(60_000) // well past the grace window: the client simply uses its new pair
    await service.refresh(next.refresh_token, { clientId: 'web' })
    expect((await sessions.get(session.id)).state).toBe('active')
  })

  it('SEC-44: SEC-56: a rotation whose reply was lost is retried within the window and gets the same pair', async () => {
    const { pair, service, tokens, sessions, session } = await world()
    tokens.loseRotateReply = true
    expect(
      (await rejection(() => service.refresh(pair.refresh_token, { clientId: 'web' }))).code,
    ).toBe('ERR_STORE_UNAVAILABLE')
    tokens.loseRotateReply = false
    const retried = await service.refresh(pair.refresh_token, { clientId: 'web' })
    expect(idOf(retried.refresh_token)).toBe(
      (await tokens.getRefresh(idOf(pair.refresh_token)))!.successorId,
    )
    await service.refresh(retried.refresh_token, { clientId: 'web' })
    expect((await sessions.get(session.id)).state).toBe('active')
  })

  it('SEC-56: with the store down during reuse detection, the answer is 503, not a silent success', async () => {
    const { pair, service, store, clock } = await world()
    await service.refresh(pair.refresh_token, { clientId: 'web' })
    clock.advance(60_000)
    store.down = true
    const err = await rejection(() => service.refresh(pair.refresh_token, { clientId: 'web' }))
    expect(err.code).toBe('ERR_STORE_UNAVAILABLE')
  })
})

describe('refresh token theft', () => {
  it('SEC-43: attack scenario 5: an attacker uses a refresh token after the client rotated it: the session ends with refresh_reuse, both lose access, audited', async () => {
    const { pair: stolen, service, sessions, session, clock, store } = await world()
    const verifier = service.verifier()
    // the legitimate client keeps refreshing
    clock.advance(4 * 60_000)
    const client = await service.refresh(stolen.refresh_token, { clientId: 'web' })
    clock.advance(60_000)
    // the attacker replays the copy it took earlier
    const err = await rejection(() =>
      service.refresh(stolen.refresh_token, { clientId: 'web' }, { ip: '198.51.100.66' }),
    )
    expect(err.code).toBe('ERR_REFRESH_INVALID')
    expect(await sessions.get(session.id)).toMatchObject({
      state: 'ended',
      endReason: 'refresh_reuse',
    })
    // both lose access: the client's refresh token and both access tokens
    expect(
      (await rejection(() => service.refresh(client.refresh_token, { clientId: 'web' }))).code,
    ).toBe('ERR_REFRESH_INVALID')
    for (const token of [client.access_token, stolen.access_token]) {
      const e = await rejection(() => verifier.verify(token))
      expect(['ERR_TOKEN_REVOKED', 'ERR_TOKEN_EXPIRED']).toContain(e.code)
    }
    const denied = await rejection(() => verifier.verify(client.access_token))
    expect(denied).toMatchObject({
      code: 'ERR_TOKEN_REVOKED',
      details: { reason: 'refresh_reuse' },
    })
    expect(await service.introspect(client.refresh_token)).toEqual({ active: false })
    // audited, without any secret
    const events = await store.events({ sessionId: session.id })
    expect(events.filter((e) => e.type === 'token.reuse_detected')).toHaveLength(1)
    const text = JSON.stringify(store.appended)
    for (const secret of [stolen.refresh_token, client.refresh_token]) {
      expect(text).not.toContain(secret.split('.')[1])
    }
    expect(text).not.toContain(client.access_token)
  })
})
