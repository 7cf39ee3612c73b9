/**
 * @module The TokenStore contract suite. Every store adapter runs it through a small test file:
 * `runTokenStoreContract({ name, create })`. Each test gets a fresh session store, takes its token
 * store with `tokens()` and initialises only that, so the suite also proves a token store works
 * whether or not its session store was initialised first.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { Sessions } from '../../src/core/sessions.ts'
import type { SessionStore } from '../../src/core/store.ts'
import { newId } from '../../src/core/token.ts'
import type {
  RefreshRecord,
  RotateResult,
  SigningKeyRecord,
  SuccessorAccess,
  TokenStore,
} from '../../src/tokens/token-store.ts'

/** A session store that hands out a token store on its own connection. */
export interface TokenStoreHost extends SessionStore {
  tokens(): TokenStore
}

export interface TokenStoreContractOptions {
  name: string
  /** A fresh, empty session store with its own key prefix, schema or file; not yet initialised. */
  create(): Promise<TokenStoreHost>
  /** Removes what `create` made (drop the schema, delete the keys); called before `close()`. */
  destroy?(store: TokenStoreHost): Promise<void>
  /**
   * A second store on the same data over its own connection, as another process would have: the
   * races then run half on each. Absent for the memory store, which has no shared data.
   */
  reopen?(store: TokenStoreHost): Promise<TokenStoreHost>
}

const T0 = 1_700_000_000_000
const MIN = 60_000
const DAY = 24 * 60 * MIN
const RACERS = 10

function signingKey(kid: string, createdAt: number, over: Partial<SigningKeyRecord> = {}) {
  const record: SigningKeyRecord = {
    kid,
    alg: 'EdDSA',
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: `x-of-${kid}` },
    privateKeyEnc: `v1.sealed.${kid}.${'A'.repeat(64)}`,
    createdAt,
    retiresAt: createdAt + DAY,
    expiresAt: createdAt + 3 * DAY,
    ...over,
  }
  return record
}

function refresh(over: Partial<RefreshRecord> = {}): RefreshRecord {
  return {
    id: newId(),
    secretHash: 'c2hhLTI1Ni1vZi10aGUtc2VjcmV0LWJhc2U2NHVybC0tLS0',
    sessionId: newId(),
    clientId: 'app-web',
    createdAt: T0,
    expiresAt: T0 + 30 * DAY,
    rotatedAt: null,
    successorId: null,
    successorAccess: null,
    jkt: null,
    ...over,
  }
}

const access = (n: number): SuccessorAccess => ({
  jti: `jti-${n}`,
  iat: T0 / 1000 + n,
  exp: T0 / 1000 + n + 300,
})

/** How many of the settled outcomes are each value. */
function tally<T>(values: T[]): Map<T, number> {
  const out = new Map<T, number>()
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1)
  return out
}

export function runTokenStoreContract(options: TokenStoreContractOptions): void {
  describe(`TokenStore contract: ${options.name}`, () => {
    let host: TokenStoreHost
    let tokens: TokenStore
    /** Where racer i runs: alternately this store and, when there is one, a second connection. */
    let peers: TokenStore[]
    let twin: TokenStoreHost | undefined

    beforeEach(async () => {
      host = await options.create()
      tokens = host.tokens()
      await tokens.init()
      peers = [tokens]
      twin = undefined
      if (options.reopen !== undefined) {
        twin = await options.reopen(host)
        const other = twin.tokens()
        await other.init()
        peers.push(other)
      }
    })
    afterEach(async () => {
      await twin?.tokens().close()
      await twin?.close()
      await options.destroy?.(host)
      await tokens.close()
      await host.close()
    })

    const racer = (i: number): TokenStore => peers[i % peers.length]!

    it('signing keys round-trip exactly and list newest first; of two with one createdAt, the later added first', async () => {
      expect(await tokens.listSigningKeys()).toStrictEqual([])
      const a = signingKey('kid-a', T0)
      const b = signingKey('kid-b', T0 + DAY, {
        alg: 'ES256',
        publicJwk: { kty: 'EC', crv: 'P-256', x: 'x-🙂', y: 'y-ʤ' },
      })
      const c = signingKey('kid-c', T0 + DAY, { retiresAt: T0 + 2 * DAY, expiresAt: T0 + 9 * DAY })
      expect(await tokens.addSigningKey(a, null)).toBe(true)
      expect(await tokens.addSigningKey(b, 'kid-a')).toBe(true)
      expect(await tokens.addSigningKey(c, 'kid-b')).toBe(true)
      expect(await tokens.listSigningKeys()).toStrictEqual([c, b, a])
      // The tie is broken for the next compare-and-set too: c is the newest.
      expect(await tokens.addSigningKey(signingKey('kid-d', T0 + 2 * DAY), 'kid-b')).toBe(false)
      const d = signingKey('kid-d', T0 + 2 * DAY)
      expect(await tokens.addSigningKey(d, 'kid-c')).toBe(true)
      // What a read returns is a copy: changing it changes nothing stored.
      const read = await tokens.listSigningKeys()
      read[0]!.publicJwk.x = 'changed'
      read.pop()
      expect(await tokens.listSigningKeys()).toStrictEqual([d, c, b, a])
    })

    it('addSigningKey is a compare-and-set on the newest kid: null only for the first, stale, unknown or taken kids refused', async () => {
      expect(await tokens.addSigningKey(signingKey('k1', T0), 'k0')).toBe(false)
      expect(await tokens.listSigningKeys()).toStrictEqual([])
      const k1 = signingKey('k1', T0)
      expect(await tokens.addSigningKey(k1, null)).toBe(true)
      expect(await tokens.addSigningKey(signingKey('k2', T0 + 1), null)).toBe(false)
      const k2 = signingKey('k2', T0 + DAY)
      expect(await tokens.addSigningKey(k2, 'k1')).toBe(true)
      expect(await tokens.addSigningKey(signingKey('k3', T0 + 2 * DAY), 'k1')).toBe(false)
      expect(await tokens.addSigningKey(signingKey('k3', T0 + 2 * DAY), 'nope')).toBe(false)
      expect(await tokens.addSigningKey(signingKey('k3', T0 + 2 * DAY), '')).toBe(false)
      // A kid already stored is never stored twice, whatever the expected kid.
      expect(await tokens.addSigningKey(signingKey('k1', T0 + 2 * DAY), 'k2')).toBe(false)
      expect(await tokens.listSigningKeys()).toStrictEqual([k2, k1])
    })

    it('lets exactly one of 10 concurrent addSigningKey calls with the same expected kid add its key', async () => {
      // The race for the very first key (expected null)...
      const firsts = Array.from({ length: RACERS }, (_, i) => signingKey(`first-${i}`, T0))
      const initial = await Promise.all(firsts.map((k, i) => racer(i).addSigningKey(k, null)))
      expect(initial.filter(Boolean)).toHaveLength(1)
      const first = firsts[initial.indexOf(true)]!
      expect(await tokens.listSigningKeys()).toStrictEqual([first])
      // ...and for its successor.
      const candidates = Array.from({ length: RACERS }, (_, i) =>
        signingKey(`candidate-${i}`, T0 + DAY + i),
      )
      const results = await Promise.all(
        candidates.map((k, i) => racer(i).addSigningKey(k, first.kid)),
      )
      expect(tally(results)).toStrictEqual(
        new Map([
          [true, 1],
          [false, RACERS - 1],
        ]),
      )
      const winner = candidates[results.indexOf(true)]!
      expect(await tokens.listSigningKeys()).toStrictEqual([winner, first])
    })

    it('purgeSigningKeys deletes the keys expired at or before now, and only those', async () => {
      const old = signingKey('old', T0, { expiresAt: T0 + DAY })
      const mid = signingKey('mid', T0 + 1, { expiresAt: T0 + 2 * DAY })
      const cur = signingKey('cur', T0 + 2, { expiresAt: T0 + 3 * DAY })
      await tokens.addSigningKey(old, null)
      await tokens.addSigningKey(mid, 'old')
      await tokens.addSigningKey(cur, 'mid')
      expect(await tokens.purgeSigningKeys(T0 + DAY - 1)).toBe(0)
      expect(await tokens.purgeSigningKeys(T0 + DAY)).toBe(1)
      expect(await tokens.listSigningKeys()).toStrictEqual([cur, mid])
      expect(await tokens.purgeSigningKeys(T0 + 2 * DAY + 5)).toBe(1)
      expect(await tokens.purgeSigningKeys(T0 + 2 * DAY + 5)).toBe(0)
      expect(await tokens.listSigningKeys()).toStrictEqual([cur])
      expect(await tokens.purgeSigningKeys(T0 + 10 * DAY)).toBe(1)
      expect(await tokens.listSigningKeys()).toStrictEqual([])
      // Once every key is gone, the next first key is added with null again.
      expect(await tokens.addSigningKey(signingKey('fresh', T0 + 10 * DAY), null)).toBe(true)
    })

    it('refresh tokens round-trip exactly: nulls, a rotated record, a DPoP binding', async () => {
      const plain = refresh()
      const full = refresh({
        clientId: 'cli-🙂',
        createdAt: T0 - 5,
        expiresAt: T0 + DAY,
        rotatedAt: T0 + 7,
        successorId: newId(),
        successorAccess: access(1),
        jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I',
      })
      const empty = refresh({ clientId: '', jkt: '' })
      for (const r of [plain, full, empty]) await tokens.createRefresh(r)
      expect(await tokens.getRefresh(plain.id)).toStrictEqual(plain)
      expect(await tokens.getRefresh(full.id)).toStrictEqual(full)
      expect(await tokens.getRefresh(empty.id)).toStrictEqual(empty)
      expect(await tokens.getRefresh(newId())).toBeNull()
      const read = (await tokens.getRefresh(full.id))!
      read.successorAccess!.jti = 'changed'
      read.jkt = null
      expect(await tokens.getRefresh(full.id)).toStrictEqual(full)
    })

    it('SEC-44: rotateRefresh rotates once and stores the successor; every later call is already, with the stored successor', async () => {
      const old = refresh({ jkt: 'thumbprint' })
      await tokens.createRefresh(old)
      const next = refresh({ sessionId: old.sessionId, createdAt: T0 + MIN, jkt: 'thumbprint' })
      const rotated = await tokens.rotateRefresh(old.id, next, access(1), T0 + MIN)
      const expected = {
        ...old,
        rotatedAt: T0 + MIN,
        successorId: next.id,
        successorAccess: access(1),
      }
      expect(rotated).toStrictEqual({ status: 'rotated', record: expected })
      expect(await tokens.getRefresh(old.id)).toStrictEqual(expected)
      expect(await tokens.getRefresh(next.id)).toStrictEqual(next)

      const other = refresh({ sessionId: old.sessionId, createdAt: T0 + 2 * MIN })
      const again = await tokens.rotateRefresh(old.id, other, access(2), T0 + 2 * MIN)
      expect(again).toStrictEqual({ status: 'already', record: expected })
      expect(await tokens.getRefresh(other.id)).toBeNull()
      expect(await tokens.getRefresh(old.id)).toStrictEqual(expected)

      // The successor rotates in its turn, on its own.
      const third = refresh({ sessionId: old.sessionId, createdAt: T0 + 3 * MIN })
      expect((await tokens.rotateRefresh(next.id, third, access(3), T0 + 3 * MIN)).status).toBe(
        'rotated',
      )
      expect(await tokens.rotateRefresh(newId(), refresh(), access(4), T0)).toStrictEqual({
        status: 'missing',
      })
    })

    it('SEC-44: concurrent rotations of one refresh token mint one successor', async () => {
      const old = refresh()
      await tokens.createRefresh(old)
      const candidates = Array.from({ length: 20 }, (_, i) =>
        refresh({ sessionId: old.sessionId, createdAt: T0 + i }),
      )
      const results: RotateResult[] = await Promise.all(
        candidates.map((s, i) => racer(i).rotateRefresh(old.id, s, access(i), T0 + i)),
      )
      expect(tally(results.map((r) => r.status))).toStrictEqual(
        new Map([
          ['rotated', 1],
          ['already', 19],
        ]),
      )
      const w = results.findIndex((r) => r.status === 'rotated')
      const winner = candidates[w]!
      const stored = {
        ...old,
        rotatedAt: T0 + w,
        successorId: winner.id,
        successorAccess: access(w),
      }
      for (const r of results) expect(r).toStrictEqual({ status: r.status, record: stored })
      expect(await tokens.getRefresh(old.id)).toStrictEqual(stored)
      expect(await tokens.getRefresh(winner.id)).toStrictEqual(winner)
      const minted = await Promise.all(candidates.map((c) => tokens.getRefresh(c.id)))
      expect(minted.filter((m) => m !== null)).toStrictEqual([winner])
    })

    it('purgeRefresh deletes the tokens expired at or before now, up to limit, and only those', async () => {
      const expired = Array.from({ length: 5 }, (_, i) => refresh({ expiresAt: T0 + i }))
      const live = [refresh({ expiresAt: T0 + DAY }), refresh({ expiresAt: T0 + 2 * DAY })]
      for (const r of [...expired, ...live]) await tokens.createRefresh(r)
      expect(await tokens.purgeRefresh(T0 - 1, 100)).toBe(0)
      expect(await tokens.purgeRefresh(T0 + 4, 2)).toBe(2)
      expect(await tokens.purgeRefresh(T0 + 4, 0)).toBe(0)
      expect(await tokens.purgeRefresh(T0 + 4, 100)).toBe(3)
      expect(await tokens.purgeRefresh(T0 + 4, 100)).toBe(0)
      for (const r of expired) expect(await tokens.getRefresh(r.id)).toBeNull()
      for (const r of live) expect(await tokens.getRefresh(r.id)).toStrictEqual(r)
      expect(await tokens.purgeRefresh(T0 + DAY, 100)).toBe(1)
      expect(await tokens.getRefresh(live[1]!.id)).toStrictEqual(live[1])
    })

    it('SEC-46: useOnce takes a value once; a replay is refused until it expires, then it is taken again', async () => {
      const until = T0 + MIN
      expect(await tokens.useOnce('jti-1', until, T0)).toBe(true)
      expect(await tokens.useOnce('jti-1', until, T0)).toBe(false)
      expect(await tokens.useOnce('jti-1', until + MIN, until - 1)).toBe(false)
      expect(await tokens.useOnce('jti-2', until, T0 + 1)).toBe(true)
      // Expired at `now` (the caller's clock): taken again, with its new expiry.
      expect(await tokens.useOnce('jti-1', until + MIN, until)).toBe(true)
      expect(await tokens.useOnce('jti-1', until + 5 * MIN, until + 1)).toBe(false)
      expect(await tokens.useOnce('jti-1', until + 5 * MIN, until + MIN - 1)).toBe(false)
      expect(await tokens.useOnce('jti-1', until + 5 * MIN, until + MIN)).toBe(true)
      expect(await tokens.useOnce('jti-2', until, until - 1)).toBe(false)
      // A value already expired when recorded never blocks.
      expect(await tokens.useOnce('jti-3', T0, T0)).toBe(true)
      expect(await tokens.useOnce('jti-3', T0, T0)).toBe(true)
    })

    it('SEC-46: exactly one of 20 concurrent useOnce calls for one value succeeds', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => racer(i).useOnce('hot-jti', T0 + MIN, T0 + i)),
      )
      expect(tally(results)).toStrictEqual(
        new Map([
          [true, 1],
          [false, 19],
        ]),
      )
      const later = await Promise.all(
        Array.from({ length: 20 }, (_, i) => racer(i).useOnce('hot-jti', T0 + 2 * MIN, T0 + MIN)),
      )
      expect(later.filter(Boolean)).toHaveLength(1)
    })

    it('SEC-54: single-use keys with key or query syntax in them stay apart', async () => {
      const keys = [
        'a:b*{x}🙂',
        'a:b*{x}',
        'a:b*',
        'a:b',
        'a',
        '*',
        '?',
        '[a-z]',
        '{x}',
        '%',
        '_',
        'a\\b',
        '',
        ' ',
        'nul\u0000byte',
        'nul',
        "x'); DELETE FROM single_use; --",
        'once:abc',
        'k'.repeat(1000),
        'k'.repeat(999),
      ]
      for (const k of keys) expect(await tokens.useOnce(k, T0 + MIN, T0), k).toBe(true)
      for (const k of keys) expect(await tokens.useOnce(k, T0 + MIN, T0 + 1), k).toBe(false)
      expect(await tokens.useOnce('a:', T0 + MIN, T0)).toBe(true)
      expect(await tokens.useOnce('k'.repeat(1001), T0 + MIN, T0)).toBe(true)
    })

    it('shares the connection with its session store: both work, and closing the token store leaves the session store working', async () => {
      await host.init()
      const sessions = new Sessions({ store: host, clock: new ManualClock(T0) })
      const { session, token } = await sessions.create({ principal: 'olga' })
      const r = refresh({ sessionId: session.id })
      await tokens.createRefresh(r)
      expect((await sessions.validate(token)).principal).toBe('olga')
      expect(await tokens.getRefresh(r.id)).toStrictEqual(r)

      await tokens.close()
      await host.ping()
      expect((await sessions.validate(token)).principal).toBe('olga')
      expect((await sessions.end(session.id, 'logout')).ended).toBe(true)
      expect(await host.endedSince(T0, 10)).toStrictEqual([{ id: session.id, endedAt: T0 }])

      // Opened again on the same connection, the token store finds what it had.
      await tokens.init()
      expect(await tokens.getRefresh(r.id)).toStrictEqual(r)
    })

    it('init is idempotent, after the session store has been initialised too', async () => {
      const other = await options.create()
      try {
        await other.init()
        const otherTokens = other.tokens()
        await otherTokens.init()
        await otherTokens.init()
        const k = signingKey('k', T0)
        await otherTokens.addSigningKey(k, null)
        await otherTokens.init()
        expect(await otherTokens.listSigningKeys()).toStrictEqual([k])
        expect(other.tokens()).toBe(otherTokens)
        await other.ping()
      } finally {
        await options.destroy?.(other)
        await other.tokens().close()
        await other.close()
      }
    })
  })
}
