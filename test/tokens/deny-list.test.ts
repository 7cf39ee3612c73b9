import { afterEach, describe, expect, it, vi } from 'vitest'
import type { StoreChange } from '../../src/core/cache.ts'
import { ManualClock } from '../../src/core/clock.ts'
import { storeUnavailable } from '../../src/core/errors.ts'
import { DenyList, type EndedFeed } from '../../src/tokens/deny-list.ts'
import type { TokenService } from '../../src/tokens/service.ts'
import { Verifier } from '../../src/tokens/verifier.ts'
import { AUDIENCE, ISSUER, MINUTE, rejection, setup } from './helpers.ts'

let open: { close(): Promise<void> }[] = []
afterEach(async () => {
  vi.useRealTimers()
  for (const s of open) await s.close()
  open = []
})

async function world() {
  const w = await setup()
  open.push(w.service)
  const pair = await w.service.issue(w.session, { clientId: 'web' })
  return { ...w, pair }
}

/** A verifier in "another process": its own deny list, fed only by the store's feed. */
function remoteVerifier(service: TokenService, source: EndedFeed, clock: ManualClock) {
  const denyList = new DenyList({ source, clock, pollMs: 1000 })
  open.push(denyList)
  const verifier = new Verifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: service.keyRing,
    denyList,
    clock,
  })
  return { denyList, verifier }
}

describe('revocation of access tokens (SEC-41)', () => {
  it('SEC-41: an end-all of more sessions than a page, all in one millisecond, reaches the deny list whole', async () => {
    const clock = new ManualClock(1_800_000_000_000)
    const ended = Array.from({ length: 2500 }, (_, i) => ({
      id: `s${String(i).padStart(5, '0')}`,
      endedAt: clock.now(),
    }))
    const source: EndedFeed = {
      async endedSince(since: number, limit: number) {
        return ended.filter((e) => e.endedAt >= since).slice(0, limit)
      },
    }
    const denyList = new DenyList({ source, clock, pollMs: 1000, pageLimit: 1000 })
    open.push(denyList)
    await denyList.poll()
    for (const e of ended) expect(denyList.has(e.id), e.id).toBe(true)
  })

  it('SEC-41: in-process, a token of a session the service ended is refused at once', async () => {
    const { service, pair } = await world()
    await service.verifier().verify(pair.access_token)
    expect(await service.revoke(pair.refresh_token)).toBe(true)
    const err = await rejection(() => service.verifier().verify(pair.access_token))
    expect(err.code).toBe('ERR_TOKEN_REVOKED')
    expect(err.details).toEqual({ reason: 'revoked' })
  })

  it('SEC-41: a session ended elsewhere is refused after the next poll (a manual trigger)', async () => {
    const { service, pair, sessions, session, store, clock } = await world()
    const { denyList, verifier } = remoteVerifier(service, store, clock)
    await denyList.start()
    await verifier.verify(pair.access_token)
    await sessions.end(session.id, 'logout')
    await denyList.poll()
    expect((await rejection(() => verifier.verify(pair.access_token))).code).toBe(
      'ERR_TOKEN_REVOKED',
    )
    // and the service's own list learns it the same way
    await service.denyList.poll()
    expect((await rejection(() => service.verifier().verify(pair.access_token))).code).toBe(
      'ERR_TOKEN_REVOKED',
    )
  })

  it('SEC-41: through the timer, a session ended elsewhere is refused within pollMs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const { service, pair, sessions, session, store, clock } = await world()
    const { denyList, verifier } = remoteVerifier(service, store, clock)
    await denyList.start()
    await sessions.end(session.id, 'logout')
    await vi.advanceTimersByTimeAsync(999)
    expect(denyList.has(session.id)).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(denyList.has(session.id)).toBe(true)
    expect((await rejection(() => verifier.verify(pair.access_token))).code).toBe(
      'ERR_TOKEN_REVOKED',
    )
  })

  it('SEC-41: a push notification (store.watch) triggers an immediate read of the feed', async () => {
    const { service, pair, sessions, session, store, clock } = await world()
    let listener: ((change: StoreChange) => void) | undefined
    const source: EndedFeed = {
      endedSince: (since, limit) => store.endedSince(since, limit),
      watch: async (l) => {
        listener = l
        return async () => {}
      },
    }
    const { denyList, verifier } = remoteVerifier(service, source, clock)
    await denyList.start()
    await sessions.end(session.id, 'logout')
    listener!({ type: 'invalidate', id: session.id })
    await vi.waitFor(() => expect(denyList.has(session.id)).toBe(true))
    expect((await rejection(() => verifier.verify(pair.access_token))).code).toBe(
      'ERR_TOKEN_REVOKED',
    )
  })

  it('SEC-41: an id is kept until every token of its session has expired, then dropped', async () => {
    const clock = new ManualClock()
    const list = new DenyList({ clock })
    list.add('sid-1', 'logout')
    clock.advance(5 * MINUTE + 30_000 - 1)
    expect(list.has('sid-1')).toBe(true)
    expect((await rejection(() => list.check('sid-1'))).details).toEqual({ reason: 'logout' })
    clock.advance(1)
    expect(list.has('sid-1')).toBe(false)
    await list.check('sid-1')
  })

  it('SEC-41: SEC-56: with the feed failing, a stale list fails closed with ERR_STORE_UNAVAILABLE, and recovers', async () => {
    const { service, pair, store, clock, session } = await world()
    const { denyList, verifier } = remoteVerifier(service, store, clock)
    await denyList.start()
    store.down = true
    clock.advance(5000) // = maxStalenessMs: still fresh enough
    await verifier.verify(pair.access_token)
    clock.advance(1)
    const err = await rejection(() => verifier.verify(pair.access_token))
    expect(err.code).toBe('ERR_STORE_UNAVAILABLE')
    expect(err.status).toBe(503)
    store.down = false
    clock.advance(1000) // the next attempt may read the feed again
    expect((await verifier.verify(pair.access_token)).sid).toBe(session.id)
  })

  it('a poll reads pages of ended sessions and keeps a cursor with an overlap', async () => {
    const clock = new ManualClock()
    const ended: { id: string; endedAt: number }[] = []
    const calls: number[] = []
    const source: EndedFeed = {
      endedSince: async (since, limit) => {
        calls.push(since)
        return ended.filter((e) => e.endedAt >= since).slice(0, limit)
      },
    }
    const list = new DenyList({ source, clock, pageLimit: 2, overlapMs: 2000 })
    open.push(list)
    const t = clock.now()
    for (let i = 0; i < 5; i++) ended.push({ id: `s${i}`, endedAt: t + i })
    await list.poll()
    expect([0, 1, 2, 3, 4].every((i) => list.has(`s${i}`))).toBe(true)
    expect(calls[0]).toBe(t - (5 * MINUTE + 30_000))
    calls.length = 0
    clock.advance(1000)
    await list.poll()
    // re-reads the overlap, then page by page from each full page's last end (inclusive)
    expect(calls).toEqual([t + 4 - 2000, t + 1, t + 2, t + 3, t + 4])
  })

  it('a failing source rejects poll(), and start() reports it', async () => {
    const clock = new ManualClock()
    const source: EndedFeed = {
      endedSince: async () => {
        throw storeUnavailable(new Error('down'))
      },
    }
    const list = new DenyList({ source, clock })
    open.push(list)
    expect((await rejection(() => list.start())).code).toBe('ERR_STORE_UNAVAILABLE')
  })
})
