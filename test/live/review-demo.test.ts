/**
 * @module Review reproduction (the live demo application that `parley serve` always installs on
 * its gateway): FAILS while the defect is present.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { LiveSession } from '../../src/live/server/live-session.ts'
import { demoHandlers } from '../../src/server/live/demo-app.ts'
import { type Rig, rig, until } from './gateway-helpers.ts'

let r: Rig
afterEach(async () => {
  await r?.close()
})

describe('review: demo app bounds (SEC-49, scenario 8)', () => {
  it('REVIEW-8: a client that grants no credit cannot pile up unbounded waiting sends with stream()', async () => {
    let waiting = 0
    const original = LiveSession.prototype.waitForChange
    LiveSession.prototype.waitForChange = function (this: LiveSession) {
      waiting++
      return original.call(this)
    }
    try {
      r = await rig({ ...demoHandlers, limits: { heartbeatMs: 15_000 } })
      const { client } = await r.open((await r.login()).token, { credit: 0 })
      for (let i = 1; i <= 20; i++) {
        client.send({ t: 'call', id: `s${i}`, method: 'stream', params: { count: 1000 } })
      }
      await until(() => client.of('result').length + client.of('error').length === 20, 'answers')
      // One stream per live session, its ticks sent one after another: a stream starts only
      // when the previous one has all its ticks in the bounded queue (the first 1000 fit), the
      // others are refused (`busy`), and the one running waits for credit with a single send,
      // instead of 20 000 sends waiting in memory for credit that never comes.
      const started = client.of('result').length
      expect(started).toBeLessThanOrEqual(2)
      expect(client.of('error').map((e) => e.code)).toEqual(Array(20 - started).fill('busy'))
      expect(waiting).toBeLessThanOrEqual(1024)
    } finally {
      LiveSession.prototype.waitForChange = original
    }
  })
})
