/**
 * @module The SessionStore contract suite. Every store adapter runs it through a three-line test file:
 * `runStoreContract({ name, create })`. It drives the store through the Sessions manager with a
 * manual clock, and through direct calls where atomicity is the point.
 */
import { createHash } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { isParleyError } from '../../src/core/errors.ts'
import type { SessionPolicy } from '../../src/core/policy.ts'
import { Sessions } from '../../src/core/sessions.ts'
import type { SessionStore } from '../../src/core/store.ts'
import { issueToken, newId, parseToken } from '../../src/core/token.ts'

export interface StoreOutage {
  /** Makes the store unreachable (as a network cut or a locked database would). */
  cut(): Promise<void>
  /** Makes it reachable again. */
  restore(): Promise<void>
}

export interface StoreContractOptions {
  name: string
  /** A fresh, empty, initialised store with its own key prefix or schema. */
  create(): Promise<SessionStore>
  /** Removes what `create` made (drop the schema, delete the keys). */
  destroy?(store: SessionStore): Promise<void>
  /** How to make the store unreachable, for the outage test (absent for the memory store, which
   * cannot be unreachable). */
  outage?: () => Promise<{ store: SessionStore; outage: StoreOutage; dispose(): Promise<void> }>
}

const MIN = 60_000
const POLICY: Partial<SessionPolicy> = {
  idleTimeoutMs: 30 * MIN,
  absoluteTimeoutMs: 12 * 60 * MIN,
  touchIntervalMs: MIN,
  maxSessionsPerPrincipal: 0,
  onLimit: 'evict_lru',
  retentionMs: 24 * 60 * MIN,
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (isParleyError(err)) return err.code
    throw err
  }
}

async function reasonOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (isParleyError(err, 'ERR_SESSION_ENDED')) return err.details?.reason
    throw err
  }
}

export function runStoreContract(options: StoreContractOptions): void {
  describe(`SessionStore contract: ${options.name}`, () => {
    let store: SessionStore
    let clock: ManualClock
    let sessions: Sessions
    const make = (policy: Partial<SessionPolicy> = {}) =>
      new Sessions({ store, clock, policy: { ...POLICY, ...policy } })

    beforeEach(async () => {
      store = await options.create()
      clock = new ManualClock(1_700_000_000_000)
      sessions = make()
    })
    afterEach(async () => {
      await options.destroy?.(store)
      await store.close()
    })

    it('SEC-01 SEC-02: creates a session whose token validates, storing only the SHA-256 of its secret', async () => {
      const { session, token } = await sessions.create({
        principal: 'alice',
        ip: '203.0.113.7',
        userAgent: 'Test/1.0',
        auth: { factors: ['password'], level: 1 },
        data: { theme: 'dark', n: 1 },
      })
      expect(session.state).toBe('active')
      expect(session).not.toHaveProperty('secretHash')
      const parsed = parseToken('session', token)!
      expect(parsed.id).toBe(session.id)
      const record = (await store.get(session.id))!
      expect(record.secretHash).toBe(createHash('sha256').update(parsed.secret).digest('base64url'))
      expect(JSON.stringify(record)).not.toContain(parsed.secret)
      const valid = await sessions.validate(token)
      expect(valid).toMatchObject({
        id: session.id,
        principal: 'alice',
        client: { ip: '203.0.113.7', userAgent: 'Test/1.0' },
        auth: { factors: ['password'], level: 1, authenticatedAt: clock.now() },
        data: { theme: 'dark', n: 1 },
        version: 1,
      })
      expect(await sessions.get(session.id)).toEqual(valid)
      expect(await store.get(newId())).toBeNull()
    })

    it('SEC-03: a wrong secret, an unknown id and a malformed token give the same error code', async () => {
      const { session, token } = await sessions.create({ principal: 'alice' })
      const wrongSecret = issueToken('session', session.id).token
      const unknownId = issueToken('session').token
      for (const bad of [
        wrongSecret,
        unknownId,
        `${token}x`,
        token.slice(1),
        '',
        'plys_..',
        null,
        42,
      ]) {
        expect(await codeOf(sessions.validate(bad))).toBe('ERR_SESSION_INVALID')
      }
      expect(await codeOf(sessions.validate(token))).toBe('OK')
    })

    it('SEC-06: a token of another kind is refused where a session token is expected', async () => {
      const { token } = await sessions.create({ principal: 'alice' })
      const asApiKey = token.replace(/^plys_/, 'plyk_')
      expect(await codeOf(sessions.validate(asApiKey))).toBe('ERR_SESSION_INVALID')
    })

    it('throttles touches: no write within the touch interval, a sliding idle expiry after it', async () => {
      const { session, token } = await sessions.create({ principal: 'alice' })
      clock.advance(30_000)
      await sessions.validate(token)
      expect((await store.get(session.id))!.lastSeenAt).toBe(session.createdAt)
      clock.advance(31_000)
      const touched = await sessions.validate(token)
      expect(touched.lastSeenAt).toBe(clock.now())
      expect(touched.idleExpiresAt).toBe(clock.now() + 30 * MIN)
      expect((await store.get(session.id))!.lastSeenAt).toBe(clock.now())
      clock.advance(5_000)
      await sessions.validate(token, { touch: false })
      expect((await store.get(session.id))!.lastSeenAt).toBe(touched.lastSeenAt)
    })

    it('SEC-10 SEC-13: an idle session is refused at once, ended with idle_timeout, even before any sweep', async () => {
      const { session, token } = await sessions.create({ principal: 'alice' })
      clock.advance(30 * MIN - 1)
      expect(await codeOf(sessions.validate(token, { touch: false }))).toBe('OK')
      clock.advance(1)
      expect(await reasonOf(sessions.validate(token))).toBe('idle_timeout')
      const record = (await store.get(session.id))!
      expect(record).toMatchObject({
        state: 'ended',
        endReason: 'idle_timeout',
        endedAt: session.idleExpiresAt,
      })
      expect(await reasonOf(sessions.validate(token))).toBe('idle_timeout')
      const ends = (await store.events({ sessionId: session.id })).filter(
        (e) => e.type === 'session.ended',
      )
      expect(ends).toHaveLength(1)
      expect(ends[0]).toMatchObject({ reason: 'idle_timeout', actor: 'system' })
    })

    it('SEC-10 SEC-11: sliding renewal never extends a session past its absolute expiry', async () => {
      const { session, token } = await sessions.create({ principal: 'alice' })
      for (let t = 0; t < 12 * 60 - 10; t += 10) {
        clock.advance(10 * MIN)
        const s = await sessions.validate(token)
        expect(s.idleExpiresAt).toBeLessThanOrEqual(session.absoluteExpiresAt)
      }
      clock.set(session.absoluteExpiresAt - 1)
      const last = await sessions.validate(token)
      expect(last.idleExpiresAt).toBe(session.absoluteExpiresAt)
      clock.advance(1)
      expect(await reasonOf(sessions.validate(token))).toBe('absolute_timeout')
      expect((await store.get(session.id))!.endReason).toBe('absolute_timeout')
    })

    it('a touch never revives an ended or expired session', async () => {
      const { session } = await sessions.create({ principal: 'alice' })
      expect(
        await store.touch(session.id, {
          at: clock.now() + 31 * MIN,
          idleExpiresAt: clock.now() + 61 * MIN,
        }),
      ).toBeNull()
      await sessions.end(session.id, 'logout')
      expect(
        await store.touch(session.id, {
          at: clock.now() + 1,
          idleExpiresAt: clock.now() + 30 * MIN,
        }),
      ).toBeNull()
      expect((await store.get(session.id))!.state).toBe('ended')
      expect(
        await store.touch(newId(), { at: clock.now(), idleExpiresAt: clock.now() + MIN }),
      ).toBeNull()
    })

    it('SEC-14: ends a session with its reason; the old token is refused; the first reason stands', async () => {
      const { session, token } = await sessions.create({ principal: 'alice', ip: '198.51.100.1' })
      clock.advance(1000)
      const first = await sessions.end(session.id, 'logout', {
        actor: 'principal',
        ip: '198.51.100.2',
      })
      expect(first.ended).toBe(true)
      expect(first.session).toMatchObject({
        state: 'ended',
        endReason: 'logout',
        endedAt: clock.now(),
      })
      expect(await reasonOf(sessions.validate(token))).toBe('logout')
      const again = await sessions.end(session.id, 'revoked')
      expect(again.ended).toBe(false)
      expect(again.session.endReason).toBe('logout')
      expect(await store.end(session.id, 'revoked', { at: clock.now() })).toBeNull()
      const ended = (await store.events({ sessionId: session.id })).filter(
        (e) => e.type === 'session.ended',
      )
      expect(ended).toEqual([
        expect.objectContaining({ reason: 'logout', actor: 'principal', ip: '198.51.100.2' }),
      ])
      expect(await codeOf(sessions.end(newId(), 'logout'))).toBe('ERR_SESSION_NOT_FOUND')
    })

    it('an end asked for after the timeout passed records the timeout, the one true reason', async () => {
      const a = await sessions.create({ principal: 'late' })
      const b = await sessions.create({ principal: 'late' })
      const c = await sessions.create({ principal: 'late2' })
      clock.advance(31 * MIN)
      const logout = await sessions.end(a.session.id, 'logout')
      expect(logout).toMatchObject({
        ended: false,
        session: { endReason: 'idle_timeout', endedAt: a.session.idleExpiresAt },
      })
      expect(await sessions.endByPrincipal('late', 'password_changed')).toEqual([])
      expect((await store.get(b.session.id))!.endReason).toBe('idle_timeout')
      expect(await sessions.endAll('revoked_all')).toBe(0)
      expect((await store.get(c.session.id))!.endReason).toBe('idle_timeout')
    })

    it('SEC-17: lists a principal’s sessions, ends all but one, then all', async () => {
      const a = await sessions.create({ principal: 'bob' })
      clock.advance(1000)
      const b = await sessions.create({ principal: 'bob' })
      clock.advance(1000)
      const c = await sessions.create({ principal: 'bob' })
      await sessions.create({ principal: 'carol' })
      clock.advance(MIN)
      await sessions.validate(a.token)
      const listed = await sessions.list('bob')
      expect(listed.map((s) => s.id)).toEqual([a.session.id, c.session.id, b.session.id])
      const others = await sessions.endByPrincipal(
        'bob',
        'revoked_all',
        { actor: 'principal' },
        a.session.id,
      )
      expect(others.map((s) => s.id).sort()).toEqual([b.session.id, c.session.id].sort())
      expect(others.every((s) => s.endReason === 'revoked_all')).toBe(true)
      expect((await sessions.list('bob')).map((s) => s.id)).toEqual([a.session.id])
      expect(await reasonOf(sessions.validate(b.token))).toBe('revoked_all')
      await sessions.endByPrincipal('bob', 'revoked_all')
      expect(await sessions.list('bob')).toEqual([])
      expect(await sessions.list('carol')).toHaveLength(1)
      expect(await sessions.endAll('revoked_all', { actor: 'cli' })).toBe(1)
      expect(await sessions.list('carol')).toEqual([])
    })

    it('SEC-12: at the limit, evicts the least recently used session with evicted_by_limit', async () => {
      const limited = make({ maxSessionsPerPrincipal: 3 })
      const a = await limited.create({ principal: 'dave' })
      clock.advance(2 * MIN)
      const b = await limited.create({ principal: 'dave' })
      clock.advance(2 * MIN)
      const c = await limited.create({ principal: 'dave' })
      clock.advance(2 * MIN)
      await limited.validate(a.token) // a is now the most recently used; b the least
      const d = await limited.create({ principal: 'dave' })
      expect(d.ended.map((s) => s.id)).toEqual([b.session.id])
      expect(await reasonOf(limited.validate(b.token))).toBe('evicted_by_limit')
      expect((await limited.list('dave')).map((s) => s.id).sort()).toEqual(
        [a.session.id, c.session.id, d.session.id].sort(),
      )
      const ev = (await store.events({ sessionId: b.session.id })).find(
        (e) => e.type === 'session.ended',
      )
      expect(ev).toMatchObject({ reason: 'evicted_by_limit', actor: 'system' })
    })

    it('SEC-12: at the limit with onLimit=refuse, refuses the new session and keeps the old ones', async () => {
      const limited = make({ maxSessionsPerPrincipal: 2, onLimit: 'refuse' })
      const a = await limited.create({ principal: 'erin' })
      await limited.create({ principal: 'erin' })
      expect(await codeOf(limited.create({ principal: 'erin' }))).toBe('ERR_SESSION_LIMIT')
      expect(await limited.list('erin')).toHaveLength(2)
      await limited.end(a.session.id, 'logout')
      expect(await codeOf(limited.create({ principal: 'erin' }))).toBe('OK')
    })

    it('expired sessions never count toward the limit: they end with their timeout, not an eviction', async () => {
      const limited = make({ maxSessionsPerPrincipal: 1 })
      const a = await limited.create({ principal: 'fay' })
      clock.advance(31 * MIN)
      const b = await limited.create({ principal: 'fay' })
      expect(b.ended.map((s) => [s.id, s.endReason])).toEqual([[a.session.id, 'idle_timeout']])
    })

    it('two racing updates of one session: exactly one wins, by version', async () => {
      const { session } = await sessions.create({ principal: 'gus', data: { n: 0 } })
      for (let round = 0; round < 5; round++) {
        const current = (await store.get(session.id))!
        const results = await Promise.allSettled(
          [1, 2, 3].map((n) =>
            store.update(session.id, current.version, { data: { n, round } }, { at: clock.now() }),
          ),
        )
        const won = results.filter((r) => r.status === 'fulfilled')
        const lost = results.filter((r) => r.status === 'rejected')
        expect(won).toHaveLength(1)
        for (const l of lost)
          expect((l as PromiseRejectedResult).reason.code).toBe('ERR_VERSION_CONFLICT')
        const after = (await store.get(session.id))!
        expect(after.version).toBe(current.version + 1)
        expect(after.data).toEqual((won[0] as PromiseFulfilledResult<{ data: unknown }>).value.data)
      }
      expect(await codeOf(sessions.update(session.id, 1, { data: {} }))).toBe(
        'ERR_VERSION_CONFLICT',
      )
    })

    it('an end racing a touch or an update: the end always stands', async () => {
      for (let i = 0; i < 10; i++) {
        const { session } = await sessions.create({ principal: 'hal' })
        const at = clock.now() + 1000 * (i + 1)
        await Promise.allSettled([
          store.touch(session.id, { at, idleExpiresAt: at + 30 * MIN }),
          store.end(session.id, 'revoked', { at }),
          store.update(session.id, 1, { data: { i } }, { at }),
          store.touch(session.id, { at: at + 1, idleExpiresAt: at + 30 * MIN }),
        ])
        const r = (await store.get(session.id))!
        expect(r.state).toBe('ended')
        expect(r.endReason).toBe('revoked')
        expect(
          await store.touch(session.id, { at: at + 2, idleExpiresAt: at + 30 * MIN }),
        ).toBeNull()
        expect(await codeOf(store.update(session.id, r.version, { data: {} }, { at }))).toBe(
          'ERR_SESSION_ENDED',
        )
      }
      expect(await sessions.list('hal')).toEqual([])
    })

    it('SEC-12: many concurrent creations at the limit never leave more than the limit active', async () => {
      const limited = make({ maxSessionsPerPrincipal: 4 })
      const created = await Promise.all(
        Array.from({ length: 24 }, () => limited.create({ principal: 'ivy' })),
      )
      const records = await Promise.all(created.map((c) => store.get(c.session.id)))
      const active = records.filter((r) => r!.state === 'active').map((r) => r!.id)
      expect(active).toHaveLength(4)
      const indexed = (await store.listByPrincipal('ivy')).map((r) => r.id)
      expect(indexed.sort()).toEqual(active.sort())
      const ended = records.filter((r) => r!.state === 'ended')
      expect(ended).toHaveLength(20)
      expect(ended.every((r) => r!.endReason === 'evicted_by_limit')).toBe(true)
    })

    it('SEC-13: the sweep ends expired sessions with their reason even when no request ever came', async () => {
      const idle = await sessions.create({ principal: 'jo' })
      const shortLived = await sessions.create({
        principal: 'jo',
        idleTimeoutMs: 10 * MIN,
        absoluteTimeoutMs: 10 * MIN,
      })
      const fresh = await sessions.create({ principal: 'kim' })
      clock.advance(11 * MIN)
      await sessions.validate(fresh.token)
      expect(await store.sweep(clock.now(), 100)).toEqual([
        expect.objectContaining({
          id: shortLived.session.id,
          endReason: 'absolute_timeout',
          endedAt: shortLived.session.absoluteExpiresAt,
        }),
      ])
      clock.advance(20 * MIN)
      const swept = await sessions.sweep(1)
      expect(swept.ended).toBe(1)
      expect((await store.get(idle.session.id))!).toMatchObject({
        state: 'ended',
        endReason: 'idle_timeout',
      })
      expect((await store.get(fresh.session.id))!.state).toBe('active')
      expect(await store.sweep(clock.now(), 100)).toEqual([])
      expect(await sessions.list('jo')).toEqual([])
      const ends = (await sessions.events({ principal: 'jo' })).filter(
        (e) => e.type === 'session.ended',
      )
      expect(ends.map((e) => e.reason).sort()).toEqual(['absolute_timeout', 'idle_timeout'])
    })

    it('purges ended sessions and their events once retention has passed', async () => {
      const old = await sessions.create({ principal: 'lee' })
      await sessions.end(old.session.id, 'logout')
      clock.advance(10 * MIN)
      const live = await sessions.create({
        principal: 'lee',
        idleTimeoutMs: 48 * 60 * MIN,
        absoluteTimeoutMs: 48 * 60 * MIN,
      })
      clock.advance(24 * 60 * MIN)
      await sessions.validate(live.token)
      const result = await sessions.sweep()
      expect(result.purged).toBe(1)
      expect(await store.get(old.session.id)).toBeNull()
      expect(await store.events({ sessionId: old.session.id })).toEqual([])
      expect((await store.get(live.session.id))!.state).toBe('active')
    })

    it('endedSince lists every end (end, endByPrincipal, sweep) with its endedAt, oldest first, ties by id', async () => {
      const t0 = clock.now()
      const a = await sessions.create({ principal: 'ned' })
      const b = await sessions.create({ principal: 'ned' })
      const c = await sessions.create({ principal: 'ned' })
      const short = await sessions.create({
        principal: 'oz',
        idleTimeoutMs: 10 * MIN,
        absoluteTimeoutMs: 10 * MIN,
      })
      const live = await sessions.create({ principal: 'pia' })
      expect(await store.endedSince(0, 100)).toStrictEqual([])
      clock.advance(1000)
      await sessions.end(a.session.id, 'logout')
      clock.advance(1000)
      await sessions.endByPrincipal('ned', 'revoked_all')
      clock.advance(20 * MIN)
      expect(await store.sweep(clock.now(), 100)).toHaveLength(1)
      const tied = [b.session.id, c.session.id].sort().map((id) => ({ id, endedAt: t0 + 2000 }))
      const all = [
        { id: a.session.id, endedAt: t0 + 1000 },
        ...tied,
        { id: short.session.id, endedAt: t0 + 10 * MIN },
      ]
      expect(await store.endedSince(0, 100)).toStrictEqual(all)
      expect(await store.endedSince(t0 + 1000, 100)).toStrictEqual(all)
      expect(await store.endedSince(t0 + 1001, 100)).toStrictEqual(all.slice(1))
      expect(await store.endedSince(t0 + 2000, 100)).toStrictEqual(all.slice(1))
      expect(await store.endedSince(t0 + 2001, 100)).toStrictEqual(all.slice(3))
      expect(await store.endedSince(t0 + 10 * MIN + 1, 100)).toStrictEqual([])
      expect(await store.endedSince(0, 2)).toStrictEqual(all.slice(0, 2))
      expect(await store.endedSince(t0 + 2000, 1)).toStrictEqual(all.slice(1, 2))
      expect(await store.endedSince(0, 0)).toStrictEqual([])
      const ids = (await store.endedSince(0, 100)).map((e) => e.id)
      expect(ids).not.toContain(live.session.id)
      expect((await store.get(live.session.id))!.state).toBe('active')
    })

    it('endedSince never lists active sessions, and forgets purged ones', async () => {
      const t0 = clock.now()
      const old = await sessions.create({ principal: 'quinn' })
      const recent = await sessions.create({ principal: 'quinn' })
      await sessions.create({ principal: 'quinn' })
      clock.advance(MIN)
      await sessions.end(old.session.id, 'logout')
      clock.advance(MIN)
      await sessions.end(recent.session.id, 'revoked')
      expect(await store.endedSince(t0, 100)).toStrictEqual([
        { id: old.session.id, endedAt: t0 + MIN },
        { id: recent.session.id, endedAt: t0 + 2 * MIN },
      ])
      expect(await store.purge(t0 + MIN + 1, 100)).toBe(1)
      expect(await store.endedSince(t0, 100)).toStrictEqual([
        { id: recent.session.id, endedAt: t0 + 2 * MIN },
      ])
      expect(await store.purge(t0 + 3 * MIN, 100)).toBe(1)
      expect(await store.endedSince(0, 100)).toStrictEqual([])
    })

    it('SEC-57: records an audit trail by session and by principal, oldest first, without secrets', async () => {
      const { session, token } = await sessions.create({
        principal: 'max',
        ip: '192.0.2.1',
        userAgent: 'UA',
        actor: 'api_key:k1',
      })
      clock.advance(1000)
      await sessions.update(session.id, 1, { data: { step: 2 } }, { actor: 'api_key:k1' })
      clock.advance(1000)
      await sessions.end(session.id, 'logout', {
        actor: 'principal',
        ip: '192.0.2.2',
        userAgent: 'UA2',
      })
      const other = await sessions.create({ principal: 'max' })
      const bySession = await sessions.events({ sessionId: session.id })
      expect(bySession.map((e) => e.type)).toEqual([
        'session.created',
        'session.updated',
        'session.ended',
      ])
      expect(bySession[0]).toMatchObject({
        principal: 'max',
        ip: '192.0.2.1',
        userAgent: 'UA',
        actor: 'api_key:k1',
        at: session.createdAt,
      })
      expect(bySession[2]).toMatchObject({
        reason: 'logout',
        ip: '192.0.2.2',
        userAgent: 'UA2',
        at: session.createdAt + 2000,
      })
      const byPrincipal = await sessions.events({ principal: 'max' })
      expect(byPrincipal.map((e) => e.sessionId)).toEqual([
        session.id,
        session.id,
        session.id,
        other.session.id,
      ])
      expect((await sessions.events({ principal: 'max', limit: 2 })).map((e) => e.type)).toEqual([
        'session.ended',
        'session.created',
      ])
      const secret = parseToken('session', token)!.secret
      expect(JSON.stringify(byPrincipal)).not.toContain(secret)
      await store.appendEvent({
        at: clock.now(),
        type: 'session.updated',
        sessionId: other.session.id,
        principal: 'max',
        reason: null,
        actor: 'x',
        ip: null,
        userAgent: null,
        detail: { a: 1 },
      })
      expect((await sessions.events({ sessionId: other.session.id })).at(-1)).toMatchObject({
        actor: 'x',
        detail: { a: 1 },
      })
    })

    it('SEC-54: principals with key or query syntax in them stay separate', async () => {
      const odd = ['a:b', 'a:b*', '{a}', "' OR 1=1 --", 'a\\b', 'ünï cødé 🙂', 'x'.repeat(256)]
      for (const p of odd) await sessions.create({ principal: p })
      for (const p of odd) {
        const list = await sessions.list(p)
        expect(list).toHaveLength(1)
        expect(list[0]!.principal).toBe(p)
      }
      await sessions.endByPrincipal('a:b*', 'revoked_all')
      expect(await sessions.list('a:b')).toHaveLength(1)
    })

    it('SEC-52: keeps API keys hashed; lists, gets and revokes them', async () => {
      const issued = issueToken('apiKey')
      await store.createApiKey(
        {
          id: issued.id,
          secretHash: issued.secretHash,
          name: 'backend',
          scope: 'manage',
          createdAt: clock.now(),
          revokedAt: null,
        },
        { at: clock.now(), actor: 'cli' },
      )
      expect(await store.getApiKey(issued.id)).toMatchObject({
        name: 'backend',
        scope: 'manage',
        revokedAt: null,
        secretHash: issued.secretHash,
      })
      expect((await store.listApiKeys()).map((k) => k.id)).toEqual([issued.id])
      expect(await store.revokeApiKey(issued.id, { at: clock.now() + 1, actor: 'cli' })).toBe(true)
      expect(await store.revokeApiKey(issued.id, { at: clock.now() + 2, actor: 'cli' })).toBe(false)
      expect((await store.getApiKey(issued.id))!.revokedAt).toBe(clock.now() + 1)
      expect(await store.getApiKey(newId())).toBeNull()
    })

    it('validates input: bad principals, oversized data and bad timeouts are ERR_VALIDATION', async () => {
      expect(await codeOf(sessions.create({ principal: '' }))).toBe('ERR_VALIDATION')
      expect(await codeOf(sessions.create({ principal: 'a\nb' }))).toBe('ERR_VALIDATION')
      expect(await codeOf(sessions.create({ principal: 'a\uD800' }))).toBe('ERR_VALIDATION')
      expect(await codeOf(sessions.create({ principal: 'a', data: { s: 'x\u0000' } }))).toBe(
        'ERR_VALIDATION',
      )
      expect(await codeOf(sessions.create({ principal: 'a', data: { s: '\uDC00' } }))).toBe(
        'ERR_VALIDATION',
      )
      expect(await codeOf(sessions.create({ principal: 'a', userAgent: 'UA\u0000' }))).toBe(
        'ERR_VALIDATION',
      )
      expect(await codeOf(sessions.create({ principal: 'x'.repeat(257) }))).toBe('ERR_VALIDATION')
      expect(
        await codeOf(sessions.create({ principal: 'a', data: { big: 'x'.repeat(9000) } })),
      ).toBe('ERR_VALIDATION')
      expect(await codeOf(sessions.create({ principal: 'a', idleTimeoutMs: 10 }))).toBe(
        'ERR_VALIDATION',
      )
      expect(await sessions.list('a')).toEqual([])
    })

    if (options.outage) {
      const makeOutage = options.outage
      it('SEC-56: an unreachable store gives ERR_STORE_UNAVAILABLE, never a crash, and works again when back', async () => {
        const { store: s, outage, dispose } = await makeOutage()
        try {
          const m = new Sessions({ store: s, clock, policy: POLICY })
          const { token } = await m.create({ principal: 'net' })
          await outage.cut()
          expect(await codeOf(m.validate(token))).toBe('ERR_STORE_UNAVAILABLE')
          expect(await codeOf(m.create({ principal: 'net' }))).toBe('ERR_STORE_UNAVAILABLE')
          expect(await codeOf(s.ping())).toBe('ERR_STORE_UNAVAILABLE')
          await outage.restore()
          let ok = false
          for (let i = 0; i < 100 && !ok; i++) {
            ok = (await codeOf(s.ping())) === 'OK'
            if (!ok) await new Promise((r) => setTimeout(r, 100)) // waiting for a reconnect, not a timeout
          }
          expect(ok).toBe(true)
          expect(await codeOf(m.validate(token))).toBe('OK')
        } finally {
          await dispose()
        }
      })
    }
  })
}
