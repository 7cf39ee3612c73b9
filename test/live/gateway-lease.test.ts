/**
 * @module The store lease of open live sessions: an idle connection that answers its heartbeats
 * keeps its live session open in the store past any resume window, so the sweeper (which ends
 * the sessions of a process that died) never ends a healthy one; a lease that nobody renews ends.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { openLeaseMs } from '../../src/live/server/core.ts'
import { eventually, type Rig, rig } from './gateway-helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.close()
  r = undefined
})

describe('open-session lease', () => {
  it('an idle connection answering pings renews its lease: the sweeper leaves it open long past the window', async () => {
    r = await rig({ limits: { heartbeatMs: 15_000, resumeWindowMs: 60_000 } })
    const { client, welcome } = await r.open((await r.login()).token)
    const lease = openLeaseMs({ heartbeatMs: 15_000, resumeWindowMs: 60_000 })
    for (let n = 1; n <= 20; n++) {
      // 20 × 15 s = 5 min: several leases long
      r.advance(15_000)
      expect(await client.next('ping')).toMatchObject({ t: 'ping', n })
      client.send({ t: 'pong', n })
      await new Promise((res) => setTimeout(res, 10)) // socket I/O: the pong reaches the server
      await eventually(
        async () =>
          ((await r?.live.get(welcome.sid))?.expiresAt ?? 0) > r!.clock.now() + lease / 2 - 1,
        'lease renewed',
      )
      const ended = await r.live.sweep(r.clock.now(), 100, 0)
      expect(ended).toEqual([])
    }
    expect(client.closed).toBeNull()
    expect((await r.live.get(welcome.sid))?.state).toBe('open')
  })

  it('a lease nobody renews (its process died) is ended by the sweeper with resume_window_expired', async () => {
    r = await rig({ limits: { heartbeatMs: 15_000, resumeWindowMs: 60_000 } })
    const { welcome } = await r.open((await r.login()).token)
    // The process "dies": its timers never run again, the clock moves on.
    r.clock.advance(openLeaseMs({ heartbeatMs: 15_000, resumeWindowMs: 60_000 }) + 1)
    const ended = await r.live.sweep(r.clock.now(), 100, 0)
    expect(ended.map((e) => [e.id, e.endReason])).toEqual([[welcome.sid, 'resume_window_expired']])
  })

  it('a heartbeat is a ping: the Parley session behind several connections is re-checked once per interval, and only once per touch interval while the change feed is up', async () => {
    for (const watched of [false, true]) {
      r = await rig({ watched, limits: { heartbeatMs: 15_000 } })
      const { token } = await r.login()
      const clients = [await r.open(token), await r.open(token), await r.open(token)]
      await new Promise((res) => setTimeout(res, 20)) // socket I/O: the feed subscription
      let gets = 0
      const get = r.store.get.bind(r.store)
      r.store.get = (id: string) => {
        gets++
        return get(id)
      }
      for (let n = 1; n <= 4; n++) {
        r.advance(15_000) // 1 min in all: one touch interval
        for (const { client } of clients) {
          await client.next('ping')
          client.send({ t: 'pong', n })
        }
        await new Promise((res) => setTimeout(res, 10)) // socket I/O: the pongs arrive
      }
      // 3 connections × 4 beats = 12 pings; without a feed, one re-check per beat interval
      // (4); with one, a single safety-net re-check in the minute.
      expect(gets, watched ? 'with a feed' : 'without a feed').toBeLessThanOrEqual(watched ? 2 : 5)
      expect(gets).toBeGreaterThanOrEqual(1)
      await r.close()
      r = undefined
    }
  })
})
