/**
 * @module The LiveStore contract suite. Every store adapter runs it through a small test file:
 * `runLiveStoreContract({ name, create })`. Each test gets a fresh session store and takes its
 * live-session store with `live()`; the audit events are read back through the session store.
 */
import { createHash } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../src/core/session.ts'
import type { SessionStore } from '../../src/core/store.ts'
import { newId } from '../../src/core/token.ts'
import type { BufferedMessage, Checkpoint } from '../../src/live/engine/types.ts'
import type { LiveCommit, LiveRecord, LiveStore } from '../../src/live/live-store.ts'

/** A live store as the adapters make it: the contract plus an idempotent init and a close. */
export type TestLiveStore = LiveStore & { init(): Promise<void>; close(): Promise<void> }

/** A session store that hands out a live-session store on its own connection. */
export interface LiveStoreHost extends SessionStore {
  live(): TestLiveStore
}

export interface LiveStoreContractOptions {
  name: string
  /** A fresh, empty session store with its own key prefix, schema or file; not yet initialised. */
  create(): Promise<LiveStoreHost>
  /** Removes what `create` made (drop the schema, delete the keys); called before `close()`. */
  destroy?(store: LiveStoreHost): Promise<void>
  /** A second store on the same data over its own connection (absent for memory). */
  reopen?(store: LiveStoreHost): Promise<LiveStoreHost>
}

const T0 = 1_700_000_000_000
const SEC = 1000
const MIN = 60 * SEC

export const tokenHash = (token: string): string =>
  createHash('sha256').update(token, 'utf8').digest('base64url')

export function liveRecord(over: Partial<LiveRecord> = {}): LiveRecord {
  return {
    id: newId(),
    sessionId: `sess-${newId()}`,
    principal: 'alice',
    tokenHash: tokenHash('token-1'),
    prevTokenHash: null,
    gen: 1,
    mode: 'full',
    turn: null,
    state: 'open',
    createdAt: T0,
    suspendedAt: null,
    expiresAt: T0 + MIN,
    endReason: null,
    endedAt: null,
    outSeq: 0,
    outAcked: 0,
    outLostTo: 0,
    outLostReason: null,
    inLast: 0,
    ...over,
  }
}

const msg = (seq: number, at = T0 + seq): BufferedMessage => {
  const json = JSON.stringify({ n: seq, text: `message ${seq} ✓` })
  return { seq, json, bytes: Buffer.byteLength(json), at }
}

const ckpt = (id: string, outSeq: number, over: Partial<Checkpoint> = {}): Checkpoint => ({
  id,
  by: 'client',
  outSeq,
  inSeq: outSeq + 1,
  state: JSON.stringify({ at: id }),
  at: T0 + outSeq,
  ...over,
})

const seqs = (messages: BufferedMessage[]) => messages.map((m) => m.seq)

export function runLiveStoreContract(options: LiveStoreContractOptions): void {
  describe(`LiveStore contract: ${options.name}`, () => {
    let host: LiveStoreHost
    let live: TestLiveStore
    let twin: LiveStoreHost | undefined
    /** This store and, where there is one, a second connection: racers alternate between them. */
    let peers: LiveStore[]

    beforeEach(async () => {
      host = await options.create()
      live = host.live()
      await live.init()
      peers = [live]
      twin = undefined
      if (options.reopen !== undefined) {
        twin = await options.reopen(host)
        const other = twin.live()
        await other.init()
        peers.push(other)
      }
    })
    afterEach(async () => {
      await twin?.live().close()
      await twin?.close()
      await options.destroy?.(host)
      await live.close()
      await host.close()
    })

    const events = async (sessionId: string, type?: string): Promise<AuditEvent[]> =>
      (await host.events({ sessionId, limit: 1000 })).filter(
        (e) => type === undefined || e.type === type,
      )

    async function created(over: Partial<LiveRecord> = {}): Promise<LiveRecord> {
      const r = liveRecord(over)
      await live.create(r, { at: r.createdAt, actor: 'principal', ip: '192.0.2.1' })
      return r
    }

    it('create and get round-trip every field; an unknown id is null; live.started is recorded', async () => {
      const r = await created({ mode: 'half', turn: 'server', principal: 'bob 🙂' })
      expect(await live.get(r.id)).toStrictEqual(r)
      expect(await live.get(newId())).toBeNull()
      const [started, ...more] = await events(r.sessionId)
      expect(more).toStrictEqual([])
      expect(started).toMatchObject({
        type: 'live.started',
        at: T0,
        sessionId: r.sessionId,
        principal: 'bob 🙂',
        reason: null,
        actor: 'principal',
        ip: '192.0.2.1',
        detail: { live: r.id, gen: 1 },
      })
      // The record is a copy: changing what get returned changes nothing stored.
      const got = (await live.get(r.id))!
      got.gen = 99
      expect((await live.get(r.id))!.gen).toBe(1)
    })

    it('SEC-48: resume with the right token hash stores the new hash, gen + 1, state open, and records live.resumed', async () => {
      const r = await created()
      expect(await live.commit([{ id: r.id, gen: 1, state: 'suspended', at: T0 + SEC }])).toEqual([
        true,
      ])
      const out = await live.resume(r.id, {
        tokenHash: tokenHash('token-1'),
        newTokenHash: tokenHash('token-2'),
        expiresAt: T0 + 5 * MIN,
        at: T0 + 2 * SEC,
      })
      const expected = {
        ...r,
        tokenHash: tokenHash('token-2'),
        prevTokenHash: tokenHash('token-1'),
        gen: 2,
        state: 'open' as const,
        suspendedAt: null,
        expiresAt: T0 + 5 * MIN,
      }
      expect(out).toStrictEqual({ ok: true, record: expected })
      expect(await live.get(r.id)).toStrictEqual(expected)
      const resumed = await events(r.sessionId, 'live.resumed')
      expect(resumed).toHaveLength(1)
      expect(resumed[0]).toMatchObject({ at: T0 + 2 * SEC, detail: { live: r.id, gen: 2 } })
    })

    it('SEC-48: a stale, wrong or foreign token hash (or an unknown id) is invalid and changes nothing', async () => {
      const r = await created()
      const other = await created({ tokenHash: tokenHash('other-token') })
      const ok = await live.resume(r.id, {
        tokenHash: tokenHash('token-1'),
        newTokenHash: tokenHash('token-2'),
        expiresAt: T0 + MIN,
        at: T0 + 1,
      })
      expect(ok.ok).toBe(true)
      // The client proved it holds token-2: token-1 is no longer accepted.
      expect(await live.commit([{ id: r.id, gen: 2, confirmToken: true, at: T0 + 1 }])).toEqual([
        true,
      ])
      const before = await live.get(r.id)
      expect(before!.prevTokenHash).toBeNull()
      const attempts = [
        tokenHash('token-1'), // stale: rotated by the resume, and the new token confirmed
        tokenHash('guess'),
        tokenHash('other-token'), // another live session's current token
        '',
        tokenHash('token-2').slice(0, 20),
        `${tokenHash('token-2')}x`,
      ]
      for (const attempt of attempts) {
        expect(
          await live.resume(r.id, {
            tokenHash: attempt,
            newTokenHash: tokenHash('attacker'),
            expiresAt: T0 + 9 * MIN,
            at: T0 + 2,
          }),
        ).toStrictEqual({ ok: false, reason: 'invalid' })
      }
      expect(await live.get(r.id)).toStrictEqual(before)
      expect(await live.get(other.id)).toStrictEqual(other)
      expect(
        await live.resume(newId(), {
          tokenHash: tokenHash('token-2'),
          newTokenHash: tokenHash('x'),
          expiresAt: T0 + MIN,
          at: T0,
        }),
      ).toStrictEqual({ ok: false, reason: 'invalid' })
      expect(await events(r.sessionId, 'live.resumed')).toHaveLength(1)
      // The legitimate holder is not disturbed: the current token still resumes.
      const again = await live.resume(r.id, {
        tokenHash: tokenHash('token-2'),
        newTokenHash: tokenHash('token-3'),
        expiresAt: T0 + MIN,
        at: T0 + 3,
      })
      expect(again).toMatchObject({ ok: true, record: { gen: 3 } })
    })

    it('SEC-48: concurrent resumes with one token serialise: one gen each, the last one holds the session', async () => {
      const r = await created()
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          peers[i % peers.length]!.resume(r.id, {
            tokenHash: tokenHash('token-1'),
            newTokenHash: tokenHash(`next-${i}`),
            expiresAt: T0 + MIN,
            at: T0 + i,
          }),
        ),
      )
      // The first matches the current token, the others the unconfirmed previous one: each is
      // a resume of its own, fenced by its gen; only the newest gen can commit.
      const gens = outcomes.map((o) => (o.ok ? o.record.gen : 0)).sort((a, b) => a - b)
      expect(gens).toStrictEqual([2, 3, 4, 5, 6, 7, 8, 9])
      const last = outcomes.findIndex((o) => o.ok && o.record.gen === 9)
      const stored = (await live.get(r.id))!
      expect(stored).toMatchObject({
        gen: 9,
        tokenHash: tokenHash(`next-${last}`),
        prevTokenHash: tokenHash('token-1'),
      })
      expect(await live.commit([{ id: r.id, gen: 8, confirmToken: true, at: T0 + 9 }])).toEqual([
        false,
      ])
      expect(await live.commit([{ id: r.id, gen: 9, confirmToken: true, at: T0 + 9 }])).toEqual([
        true,
      ])
      // Confirmed: of concurrent resumes with a token no longer accepted, none wins.
      const refused = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          peers[i % peers.length]!.resume(r.id, {
            tokenHash: tokenHash('token-1'),
            newTokenHash: tokenHash(`late-${i}`),
            expiresAt: T0 + MIN,
            at: T0 + 10,
          }),
        ),
      )
      expect(refused).toStrictEqual(Array(4).fill({ ok: false, reason: 'invalid' }))
      expect((await live.get(r.id))!.gen).toBe(9)
    })

    it('SEC-48: a resume with the current token keeps the previous one until confirmed; the previous one rotates again, then is refused once confirmed', async () => {
      const r = await created()
      const first = await live.resume(r.id, {
        tokenHash: tokenHash('token-1'),
        newTokenHash: tokenHash('token-2'),
        expiresAt: T0 + MIN,
        at: T0 + 1,
      })
      expect(first).toMatchObject({
        ok: true,
        record: { gen: 2, tokenHash: tokenHash('token-2'), prevTokenHash: tokenHash('token-1') },
      })
      // The welcome with token-2 never arrived: the client comes back with token-1.
      const retry = await live.resume(r.id, {
        tokenHash: tokenHash('token-1'),
        newTokenHash: tokenHash('token-3'),
        expiresAt: T0 + 2 * MIN,
        at: T0 + 2,
      })
      const expected = {
        ...r,
        tokenHash: tokenHash('token-3'),
        prevTokenHash: tokenHash('token-1'),
        gen: 3,
        expiresAt: T0 + 2 * MIN,
      }
      expect(retry).toStrictEqual({ ok: true, record: expected })
      expect(await live.get(r.id)).toStrictEqual(expected)
      // token-2 was never confirmed and has been replaced: it is discarded.
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-2'),
          newTokenHash: tokenHash('attacker'),
          expiresAt: T0 + 9 * MIN,
          at: T0 + 3,
        }),
      ).toStrictEqual({ ok: false, reason: 'invalid' })
      expect(await events(r.sessionId, 'live.resumed')).toHaveLength(2)
      // The client sends a frame after the welcome with token-3: the gateway confirms it.
      expect(await live.commit([{ id: r.id, gen: 3, confirmToken: true, at: T0 + 4 }])).toEqual([
        true,
      ])
      expect(await live.get(r.id)).toStrictEqual({ ...expected, prevTokenHash: null })
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-1'),
          newTokenHash: tokenHash('attacker'),
          expiresAt: T0 + 9 * MIN,
          at: T0 + 5,
        }),
      ).toStrictEqual({ ok: false, reason: 'invalid' })
      expect(await live.get(r.id)).toStrictEqual({ ...expected, prevTokenHash: null })
      const next = await live.resume(r.id, {
        tokenHash: tokenHash('token-3'),
        newTokenHash: tokenHash('token-4'),
        expiresAt: T0 + 2 * MIN,
        at: T0 + 6,
      })
      expect(next).toMatchObject({
        ok: true,
        record: { gen: 4, tokenHash: tokenHash('token-4'), prevTokenHash: tokenHash('token-3') },
      })
    })

    it('SEC-48: a token two rotations old is always refused, confirmed or not', async () => {
      const r = await created()
      for (const [from, to, at] of [
        ['token-1', 'token-2', T0 + 1],
        ['token-2', 'token-3', T0 + 2],
      ] as const) {
        expect(
          await live.resume(r.id, {
            tokenHash: tokenHash(from),
            newTokenHash: tokenHash(to),
            expiresAt: T0 + MIN,
            at,
          }),
        ).toMatchObject({ ok: true })
      }
      const before = await live.get(r.id)
      expect(before).toMatchObject({
        gen: 3,
        tokenHash: tokenHash('token-3'),
        prevTokenHash: tokenHash('token-2'),
      })
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-1'),
          newTokenHash: tokenHash('attacker'),
          expiresAt: T0 + 9 * MIN,
          at: T0 + 3,
        }),
      ).toStrictEqual({ ok: false, reason: 'invalid' })
      expect(await live.get(r.id)).toStrictEqual(before)
      expect(await events(r.sessionId, 'live.resumed')).toHaveLength(2)
    })

    it('SEC-48: confirmToken is fenced: under a stale gen (or on an ended session) it changes nothing', async () => {
      const r = await created()
      await live.resume(r.id, {
        tokenHash: tokenHash('token-1'),
        newTokenHash: tokenHash('token-2'),
        expiresAt: T0 + MIN,
        at: T0 + 1,
      })
      expect(await live.commit([{ id: r.id, gen: 1, confirmToken: true, at: T0 + 2 }])).toEqual([
        false,
      ])
      expect((await live.get(r.id))!.prevTokenHash).toBe(tokenHash('token-1'))
      // A commit without it leaves the previous token alone.
      expect(await live.commit([{ id: r.id, gen: 2, append: [msg(1)], at: T0 + 2 }])).toEqual([
        true,
      ])
      expect((await live.get(r.id))!.prevTokenHash).toBe(tokenHash('token-1'))
      await live.end(r.id, 'logout', { at: T0 + 3 })
      expect(await live.commit([{ id: r.id, gen: 2, confirmToken: true, at: T0 + 4 }])).toEqual([
        false,
      ])
      // Ended: the previous token reveals the end like the current one, and revives nothing.
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-1'),
          newTokenHash: tokenHash('token-3'),
          expiresAt: T0 + MIN,
          at: T0 + 5,
        }),
      ).toStrictEqual({ ok: false, reason: 'ended', endReason: 'logout' })
    })

    it('SEC-48: a confirm and a resume with the previous token race: exactly one takes effect', async () => {
      for (let round = 0; round < 4; round++) {
        const r = await created()
        await live.resume(r.id, {
          tokenHash: tokenHash('token-1'),
          newTokenHash: tokenHash('token-2'),
          expiresAt: T0 + MIN,
          at: T0 + 1,
        })
        const [confirmed, resumed] = await Promise.all([
          peers[round % peers.length]!.commit([
            { id: r.id, gen: 2, confirmToken: true, at: T0 + 2 },
          ]),
          peers[(round + 1) % peers.length]!.resume(r.id, {
            tokenHash: tokenHash('token-1'),
            newTokenHash: tokenHash('token-3'),
            expiresAt: T0 + MIN,
            at: T0 + 2,
          }),
        ])
        expect(confirmed[0] !== resumed.ok).toBe(true)
        const stored = (await live.get(r.id))!
        if (resumed.ok) {
          expect(stored).toMatchObject({
            gen: 3,
            tokenHash: tokenHash('token-3'),
            prevTokenHash: tokenHash('token-1'),
          })
        } else {
          expect(resumed).toStrictEqual({ ok: false, reason: 'invalid' })
          expect(stored).toMatchObject({ gen: 2, prevTokenHash: null })
        }
      }
    })

    it('create stores no previous token, whatever the record says', async () => {
      const r = await created({ prevTokenHash: tokenHash('token-0') })
      expect(await live.get(r.id)).toStrictEqual({ ...r, prevTokenHash: null })
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-0'),
          newTokenHash: tokenHash('token-x'),
          expiresAt: T0 + MIN,
          at: T0 + 1,
        }),
      ).toStrictEqual({ ok: false, reason: 'invalid' })
    })

    it('SEC-48: a resume of a suspended session past its resume window ends it there and never validates again', async () => {
      const r = await created()
      await live.commit([
        {
          id: r.id,
          gen: 1,
          append: [msg(1), msg(2)],
          checkpoints: [ckpt('a', 1)],
          state: 'suspended',
          expiresAt: T0 + MIN,
          at: T0 + 10,
        },
      ])
      await live.claimCall(r.id, 'c1', 1, T0 + 60 * MIN)
      // A wrong token learns nothing and ends nothing, expired or not.
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('guess'),
          newTokenHash: tokenHash('attacker'),
          expiresAt: T0 + 9 * MIN,
          at: T0 + 5 * MIN,
        }),
      ).toStrictEqual({ ok: false, reason: 'invalid' })
      expect(await live.get(r.id)).toMatchObject({ state: 'suspended' })
      // No sweeper ran (a crash): the right token, at the very end of the window, ends it.
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-1'),
          newTokenHash: tokenHash('token-2'),
          expiresAt: T0 + MIN + 5 * MIN,
          at: T0 + MIN,
        }),
      ).toStrictEqual({ ok: false, reason: 'ended', endReason: 'resume_window_expired' })
      const expected = {
        ...r,
        outSeq: 2,
        state: 'ended' as const,
        suspendedAt: T0 + 10,
        expiresAt: T0 + MIN,
        endReason: 'resume_window_expired' as const,
        endedAt: T0 + MIN,
      }
      expect(await live.get(r.id)).toStrictEqual(expected)
      expect(await live.messages(r.id, 0, 100)).toStrictEqual([])
      expect(await live.checkpoints(r.id)).toStrictEqual([])
      expect(await live.claimCall(r.id, 'c1', 1, T0 + 60 * MIN)).toStrictEqual({
        state: 'running',
        gen: 0,
      })
      expect(await events(r.sessionId, 'live.resumed')).toHaveLength(0)
      const ended = await events(r.sessionId, 'live.ended')
      expect(ended).toHaveLength(1)
      expect(ended[0]).toMatchObject({
        at: T0 + MIN,
        reason: 'resume_window_expired',
        actor: 'system',
        detail: { live: r.id, gen: 1 },
      })
      // Never again, and the sweeper finds nothing left to end.
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-1'),
          newTokenHash: tokenHash('token-3'),
          expiresAt: T0 + 10 * MIN,
          at: T0 + 2 * MIN,
        }),
      ).toStrictEqual({ ok: false, reason: 'ended', endReason: 'resume_window_expired' })
      expect(await live.sweep(T0 + 10 * MIN, 10, 0)).toStrictEqual([])
      expect(await live.get(r.id)).toStrictEqual(expected)
      expect(await events(r.sessionId, 'live.ended')).toHaveLength(1)
    })

    it('SEC-48: a resume of an open session past its lease (its process died) ends it there, by the previous token too', async () => {
      const r = await created({ expiresAt: T0 + MIN })
      // Resumed once (lease renewed to T0 + 2 min), the welcome lost, then the process died.
      await live.resume(r.id, {
        tokenHash: tokenHash('token-1'),
        newTokenHash: tokenHash('token-2'),
        expiresAt: T0 + 2 * MIN,
        at: T0 + 1,
      })
      await live.commit([{ id: r.id, gen: 2, append: [msg(1)], at: T0 + 2 }])
      expect(await live.get(r.id)).toMatchObject({
        state: 'open',
        prevTokenHash: tokenHash('token-1'),
      })
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-1'),
          newTokenHash: tokenHash('token-3'),
          expiresAt: T0 + 10 * MIN,
          at: T0 + 3 * MIN,
        }),
      ).toStrictEqual({ ok: false, reason: 'ended', endReason: 'resume_window_expired' })
      expect(await live.get(r.id)).toMatchObject({
        state: 'ended',
        gen: 2,
        tokenHash: tokenHash('token-2'),
        suspendedAt: null,
        expiresAt: T0 + 2 * MIN,
        endReason: 'resume_window_expired',
        endedAt: T0 + 2 * MIN,
      })
      expect(await live.messages(r.id, 0, 100)).toStrictEqual([])
      expect(await live.countByPrincipal(r.principal)).toBe(0)
      expect(await live.listBySession(r.sessionId)).toStrictEqual([])
      expect(await live.commit([{ id: r.id, gen: 2, append: [msg(2)], at: T0 + 4 * MIN }])).toEqual(
        [false],
      )
      const ended = await events(r.sessionId, 'live.ended')
      expect(ended).toHaveLength(1)
      expect(ended[0]).toMatchObject({
        at: T0 + 2 * MIN,
        reason: 'resume_window_expired',
        actor: 'system',
        detail: { live: r.id, gen: 2 },
      })
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-2'),
          newTokenHash: tokenHash('token-4'),
          expiresAt: T0 + 10 * MIN,
          at: T0 + MIN,
        }),
      ).toStrictEqual({ ok: false, reason: 'ended', endReason: 'resume_window_expired' })
    })

    it('SEC-48: of concurrent resumes past the window, none validates and the session ends once', async () => {
      const r = await created({ expiresAt: T0 + MIN })
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          peers[i % peers.length]!.resume(r.id, {
            tokenHash: tokenHash('token-1'),
            newTokenHash: tokenHash(`next-${i}`),
            expiresAt: T0 + 10 * MIN,
            at: T0 + 2 * MIN,
          }),
        ),
      )
      expect(outcomes).toStrictEqual(
        Array(6).fill({ ok: false, reason: 'ended', endReason: 'resume_window_expired' }),
      )
      expect(await events(r.sessionId, 'live.ended')).toHaveLength(1)
      expect(await events(r.sessionId, 'live.resumed')).toHaveLength(0)
    })

    it('resume of an ended live session reports its end reason and changes nothing', async () => {
      const r = await created()
      await live.end(r.id, 'logout', { at: T0 + SEC })
      const before = await live.get(r.id)
      expect(
        await live.resume(r.id, {
          tokenHash: tokenHash('token-1'),
          newTokenHash: tokenHash('token-2'),
          expiresAt: T0 + MIN,
          at: T0 + 2 * SEC,
        }),
      ).toStrictEqual({ ok: false, reason: 'ended', endReason: 'logout' })
      expect(await live.get(r.id)).toStrictEqual(before)
      expect(await events(r.sessionId, 'live.resumed')).toHaveLength(0)
    })

    it('a commit under a stale gen (or on an ended or unknown session) returns false and changes nothing', async () => {
      const r = await created()
      await live.commit([{ id: r.id, gen: 1, append: [msg(1)], at: T0 }])
      await live.resume(r.id, {
        tokenHash: tokenHash('token-1'),
        newTokenHash: tokenHash('token-2'),
        expiresAt: T0 + MIN,
        at: T0 + 1,
      })
      const before = await live.get(r.id)
      const stale: LiveCommit = {
        id: r.id,
        gen: 1,
        append: [msg(2), msg(3)],
        outAcked: 1,
        outLostTo: 1,
        outLostReason: 'buffer_age',
        inLast: 7,
        turn: 'client',
        checkpoints: [ckpt('k1', 1)],
        state: 'suspended',
        expiresAt: T0 + 9 * MIN,
        at: T0 + 2,
      }
      const ended = await created()
      await live.end(ended.id, 'revoked', { at: T0 })
      expect(
        await live.commit([
          stale,
          { ...stale, gen: 3 },
          { ...stale, id: ended.id },
          { ...stale, id: newId() },
        ]),
      ).toStrictEqual([false, false, false, false])
      expect(await live.get(r.id)).toStrictEqual(before)
      expect(seqs(await live.messages(r.id, 0, 100))).toStrictEqual([1])
      expect(await live.checkpoints(r.id)).toStrictEqual([])
      expect(await live.commit([{ ...stale, gen: 2 }])).toStrictEqual([true])
      expect(seqs(await live.messages(r.id, 0, 100))).toStrictEqual([2, 3])
    })

    it('appends in seq order, skips what is already stored, trims what is acked, pages with messages(after, limit)', async () => {
      const r = await created()
      const ms = [1, 2, 3, 4, 5].map((n) => msg(n))
      expect(await live.commit([{ id: r.id, gen: 1, append: ms, at: T0 }])).toStrictEqual([true])
      expect(await live.messages(r.id, 0, 100)).toStrictEqual(ms)
      expect(seqs(await live.messages(r.id, 2, 2))).toStrictEqual([3, 4])
      expect(await live.messages(r.id, 5, 10)).toStrictEqual([])
      expect(await live.messages(r.id, 0, 0)).toStrictEqual([])
      expect((await live.get(r.id))!.outSeq).toBe(5)
      // Already stored (seq <= outSeq): skipped, not duplicated or replaced.
      const retried = [{ ...msg(4), json: '"changed"' }, msg(5), msg(6)]
      await live.commit([{ id: r.id, gen: 1, append: retried, outAcked: 3, at: T0 }])
      expect(seqs(await live.messages(r.id, 0, 100))).toStrictEqual([4, 5, 6])
      expect((await live.messages(r.id, 0, 1))[0]).toStrictEqual(msg(4))
      expect(await live.get(r.id)).toMatchObject({ outSeq: 6, outAcked: 3 })
      // Several commits for one session in one call apply in order.
      expect(
        await live.commit([
          { id: r.id, gen: 1, append: [msg(7)], at: T0 },
          { id: r.id, gen: 1, append: [msg(8), msg(9)], outAcked: 7, at: T0 },
        ]),
      ).toStrictEqual([true, true])
      expect(seqs(await live.messages(r.id, 0, 100))).toStrictEqual([8, 9])
      expect(seqs(await live.messages(r.id, 8, 100))).toStrictEqual([9])
      expect(await live.messages(newId(), 0, 10)).toStrictEqual([])
    })

    it('stores the lost range, acks, turn, state and expiry a commit gives, and leaves the rest', async () => {
      const r = await created({ mode: 'half', turn: 'server' })
      await live.commit([
        {
          id: r.id,
          gen: 1,
          append: [msg(1), msg(2), msg(3)],
          outLostTo: 2,
          outLostReason: 'buffer_count',
          inLast: 4,
          turn: 'client',
          at: T0 + 1,
        },
      ])
      expect(await live.get(r.id)).toStrictEqual({
        ...r,
        turn: 'client',
        outSeq: 3,
        outLostTo: 2,
        outLostReason: 'buffer_count',
        inLast: 4,
      })
      await live.commit([
        { id: r.id, gen: 1, state: 'suspended', expiresAt: T0 + 2 * MIN, at: T0 + 10 },
      ])
      expect(await live.get(r.id)).toMatchObject({
        state: 'suspended',
        suspendedAt: T0 + 10,
        expiresAt: T0 + 2 * MIN,
        turn: 'client',
        outLostReason: 'buffer_count',
      })
      await live.commit([
        { id: r.id, gen: 1, state: 'open', turn: null, outLostReason: null, at: T0 + 20 },
      ])
      expect(await live.get(r.id)).toMatchObject({
        state: 'open',
        suspendedAt: null,
        turn: null,
        outLostTo: 2,
        outLostReason: null,
        expiresAt: T0 + 2 * MIN,
      })
    })

    it('adds checkpoints oldest first, ignores an id added again, drops by id', async () => {
      const r = await created()
      const [a, b, c] = [ckpt('a', 1), ckpt('b', 2, { by: 'server', state: null }), ckpt('c', 3)]
      await live.commit([{ id: r.id, gen: 1, checkpoints: [b, a], at: T0 }])
      await live.commit([{ id: r.id, gen: 1, checkpoints: [{ ...b, outSeq: 99 }, c], at: T0 }])
      expect(await live.checkpoints(r.id)).toStrictEqual([b, a, c])
      await live.commit([{ id: r.id, gen: 1, dropCheckpoints: ['a', 'nope'], at: T0 }])
      expect(await live.checkpoints(r.id)).toStrictEqual([b, c])
      // Added and dropped in one commit: dropped.
      await live.commit([
        { id: r.id, gen: 1, checkpoints: [ckpt('d', 4)], dropCheckpoints: ['c', 'd'], at: T0 },
      ])
      expect(await live.checkpoints(r.id)).toStrictEqual([b])
      expect(await live.checkpoints(newId())).toStrictEqual([])
    })

    it('claimCall: new once, then running under its gen, then done with the outcome finishCall stored', async () => {
      const r = await created()
      expect(await live.claimCall(r.id, 'c1', 1, T0 + MIN)).toStrictEqual({ state: 'new' })
      expect(await live.claimCall(r.id, 'c1', 1, T0 + MIN)).toStrictEqual({
        state: 'running',
        gen: 1,
      })
      await live.resume(r.id, {
        tokenHash: tokenHash('token-1'),
        newTokenHash: tokenHash('token-2'),
        expiresAt: T0 + MIN,
        at: T0 + 1,
      })
      // After a failover the claim still names the gen it ran under.
      expect(await live.claimCall(r.id, 'c1', 2, T0 + MIN)).toStrictEqual({
        state: 'running',
        gen: 1,
      })
      const outcome = {
        ok: true as const,
        data: { answer: [42, 'forty-two'], nested: { x: null } },
      }
      await live.finishCall(r.id, 'c1', outcome, T0 + 2 * MIN)
      expect(await live.claimCall(r.id, 'c1', 2, T0 + MIN)).toStrictEqual({
        state: 'done',
        outcome,
      })
      const failure = { ok: false as const, code: 'not_found', message: 'no such thing' }
      expect(await live.claimCall(r.id, 'c2', 2, T0 + MIN)).toStrictEqual({ state: 'new' })
      await live.finishCall(r.id, 'c2', failure, T0 + MIN)
      expect(await live.claimCall(r.id, 'c2', 2, T0 + MIN)).toStrictEqual({
        state: 'done',
        outcome: failure,
      })
      // Call ids are per live session.
      const other = await created()
      expect(await live.claimCall(other.id, 'c1', 1, T0 + MIN)).toStrictEqual({ state: 'new' })
    })

    it('of concurrent claims of one call id, exactly one is new', async () => {
      const r = await created()
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          peers[i % peers.length]!.claimCall(r.id, 'c-race', 1, T0 + MIN),
        ),
      )
      expect(claims.filter((c) => c.state === 'new')).toHaveLength(1)
      expect(claims.filter((c) => c.state === 'running')).toHaveLength(7)
    })

    it('ends once: the first reason stays, buffers, checkpoints and calls go, the record stays, live.ended is recorded', async () => {
      const r = await created()
      await live.commit([
        { id: r.id, gen: 1, append: [msg(1), msg(2)], checkpoints: [ckpt('a', 1)], at: T0 },
      ])
      await live.claimCall(r.id, 'c1', 1, T0 + MIN)
      const ended = await live.end(r.id, 'logout', { at: T0 + SEC, actor: 'principal' })
      const expected = {
        ...r,
        outSeq: 2,
        state: 'ended' as const,
        endReason: 'logout' as const,
        endedAt: T0 + SEC,
      }
      expect(ended).toStrictEqual(expected)
      expect(await live.end(r.id, 'revoked', { at: T0 + 2 * SEC })).toBeNull()
      expect(await live.end(newId(), 'revoked', { at: T0 + 2 * SEC })).toBeNull()
      expect(await live.get(r.id)).toStrictEqual(expected)
      expect(await live.messages(r.id, 0, 100)).toStrictEqual([])
      expect(await live.checkpoints(r.id)).toStrictEqual([])
      expect(await live.commit([{ id: r.id, gen: 1, append: [msg(3)], at: T0 }])).toStrictEqual([
        false,
      ])
      expect(await live.messages(r.id, 0, 100)).toStrictEqual([])
      expect(await live.claimCall(r.id, 'c1', 1, T0 + MIN)).not.toStrictEqual({ state: 'new' })
      const endedEvents = await events(r.sessionId, 'live.ended')
      expect(endedEvents).toHaveLength(1)
      expect(endedEvents[0]).toMatchObject({
        at: T0 + SEC,
        reason: 'logout',
        actor: 'principal',
        principal: r.principal,
        detail: { live: r.id, gen: 1 },
      })
    })

    it('counts and lists the live sessions that have not ended, by principal and by Parley session', async () => {
      const sessionId = `sess-${newId()}`
      const a = await created({ sessionId, principal: 'carol', createdAt: T0 })
      const b = await created({ sessionId, principal: 'carol', createdAt: T0 + 1 })
      const c = await created({ principal: 'carol' })
      await created({ principal: 'dave', sessionId })
      expect(await live.countByPrincipal('carol')).toBe(3)
      expect(await live.countByPrincipal('nobody')).toBe(0)
      const listed = await live.listBySession(sessionId)
      expect(listed.map((r) => r.id).sort()).toStrictEqual(
        [
          a.id,
          b.id,
          (await live.listBySession(sessionId)).find((r) => r.principal === 'dave')!.id,
        ].sort(),
      )
      expect(listed.find((r) => r.id === a.id)).toStrictEqual(a)
      await live.end(a.id, 'logout', { at: T0 })
      await live.end(c.id, 'logout', { at: T0 })
      expect(await live.countByPrincipal('carol')).toBe(1)
      expect((await live.listBySession(sessionId)).map((r) => r.id)).not.toContain(a.id)
      expect(await live.listBySession(`sess-${newId()}`)).toStrictEqual([])
      // A resume keeps it counted once.
      await live.resume(b.id, {
        tokenHash: tokenHash('token-1'),
        newTokenHash: tokenHash('token-2'),
        expiresAt: T0 + MIN,
        at: T0 + 1,
      })
      expect(await live.countByPrincipal('carol')).toBe(1)
    })

    it('sweep ends expired suspended sessions and expired open leases with resume_window_expired, deletes old calls, purges old ended records', async () => {
      const suspended = await created({ expiresAt: T0 + MIN })
      await live.commit([
        { id: suspended.id, gen: 1, state: 'suspended', expiresAt: T0 + MIN, at: T0 + 10 },
      ])
      const lease = await created({ expiresAt: T0 + 2 * MIN })
      const later = await created({ expiresAt: T0 + 10 * MIN })
      await live.commit([{ id: later.id, gen: 1, expiresAt: T0 + 20 * MIN, at: T0 }])
      const renewed = await created({ expiresAt: T0 + MIN })
      await live.commit([{ id: renewed.id, gen: 1, expiresAt: T0 + 30 * MIN, at: T0 }])
      await live.claimCall(later.id, 'old', 1, T0 + MIN)
      await live.claimCall(later.id, 'fresh', 1, T0 + 60 * MIN)
      await live.claimCall(later.id, 'finished', 1, T0 + MIN)
      await live.finishCall(later.id, 'finished', { ok: true }, T0 + 60 * MIN)
      const now = T0 + 5 * MIN

      expect(await live.sweep(now, 0, 0)).toStrictEqual([])
      const first = await live.sweep(now, 1, 0)
      expect(first.map((r) => r.id)).toStrictEqual([suspended.id])
      expect(first[0]).toMatchObject({
        state: 'ended',
        endReason: 'resume_window_expired',
        endedAt: T0 + MIN,
        suspendedAt: T0 + 10,
      })
      const second = await live.sweep(now, 10, 0)
      expect(second.map((r) => r.id)).toStrictEqual([lease.id])
      expect(second[0]).toMatchObject({ endReason: 'resume_window_expired', state: 'ended' })
      expect(await live.sweep(now, 10, 0)).toStrictEqual([])
      for (const r of [suspended, lease]) {
        const evs = await events(r.sessionId, 'live.ended')
        expect(evs).toHaveLength(1)
        expect(evs[0]).toMatchObject({ reason: 'resume_window_expired', actor: 'system' })
      }
      expect(await live.get(later.id)).toMatchObject({ state: 'open' })
      expect(await live.get(renewed.id)).toMatchObject({ state: 'open' })
      // Calls past their `until` are gone: the id is new again. Others stay.
      expect(await live.claimCall(later.id, 'old', 1, T0 + 60 * MIN)).toStrictEqual({
        state: 'new',
      })
      expect(await live.claimCall(later.id, 'fresh', 1, T0 + 60 * MIN)).toStrictEqual({
        state: 'running',
        gen: 1,
      })
      expect(await live.claimCall(later.id, 'finished', 1, T0)).toMatchObject({ state: 'done' })
      // Purge: ended before purgeBefore goes; the rest stays.
      await live.sweep(now, 10, T0 + MIN)
      expect(await live.get(suspended.id)).not.toBeNull()
      await live.sweep(now, 10, T0 + MIN + 1)
      expect(await live.get(suspended.id)).toBeNull()
      expect(await live.get(lease.id)).not.toBeNull()
      expect(await live.get(later.id)).not.toBeNull()
    })

    it('SEC-54: ids with key syntax, or 2KB long, name only their own live session', async () => {
      const victim = await created({ id: 'victim', sessionId: 'sess-victim' })
      await live.commit([{ id: victim.id, gen: 1, append: [msg(1)], at: T0 }])
      const ids = [
        'a}:*',
        '{victim}',
        'victim}',
        '*',
        'victim:m',
        '',
        `x${'A'.repeat(2048)}`,
        'vic\ntim',
        'ẞ🙂',
      ]
      for (const id of ids) {
        expect(await live.get(id)).toBeNull()
        const r = await created({ id, sessionId: `sess-${id}`, principal: `p-${id}` })
        expect(await live.get(id)).toStrictEqual(r)
        expect(
          await live.commit([
            {
              id,
              gen: 1,
              append: [msg(1), msg(2)],
              outAcked: 1,
              checkpoints: [ckpt('k', 1)],
              at: T0,
            },
          ]),
        ).toStrictEqual([true])
        expect(seqs(await live.messages(id, 0, 10))).toStrictEqual([2])
        expect(await live.claimCall(id, 'c1', 1, T0 + MIN)).toStrictEqual({ state: 'new' })
        expect(await live.countByPrincipal(`p-${id}`)).toBe(1)
        expect((await live.listBySession(`sess-${id}`)).map((x) => x.id)).toStrictEqual([id])
      }
      for (const id of ids) expect(await live.end(id, 'logout', { at: T0 })).not.toBeNull()
      expect(await live.get(victim.id)).toStrictEqual({ ...victim, outSeq: 1 })
      expect(seqs(await live.messages(victim.id, 0, 10))).toStrictEqual([1])
      expect(await live.claimCall(victim.id, 'c1', 1, T0 + MIN)).toStrictEqual({ state: 'new' })
      expect(await live.countByPrincipal('alice')).toBe(1)
    })

    it('commits a batch of 500 sessions in one call', async () => {
      const records = await Promise.all(
        Array.from({ length: 500 }, async (_, i) => created({ principal: `p${i % 7}` })),
      )
      const batch: LiveCommit[] = records.map((r, i) => ({
        id: r.id,
        gen: 1,
        append: [msg(1), msg(2), msg(3)],
        outAcked: 1,
        inLast: i,
        at: T0 + i,
      }))
      // One stale commit in the middle fails alone.
      batch[250] = { ...batch[250]!, gen: 7 }
      const results = await live.commit(batch)
      expect(results.filter((ok) => !ok)).toHaveLength(1)
      expect(results[250]).toBe(false)
      expect(seqs(await live.messages(records[499]!.id, 0, 10))).toStrictEqual([2, 3])
      expect(await live.get(records[123]!.id)).toMatchObject({ outSeq: 3, inLast: 123 })
      expect(await live.get(records[250]!.id)).toMatchObject({ outSeq: 0, inLast: 0 })
      expect(await live.commit([])).toStrictEqual([])
    })
  })
}
