/**
 * @module Review reproductions (resume): each test FAILS while the defect it names is present.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, type Rig, rig, secondGateway, until } from './gateway-helpers.ts'

let r: Rig
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
  await r?.close()
})

describe('review: resume window and resume token', () => {
  it('REVIEW-1 (SEC-13/SEC-48): after a process crash, a resume past the resume window is refused even before the sweeper ran', async () => {
    r = await rig()
    const { token } = await r.login()
    const { client, welcome } = await r.open(token)
    client.ws.terminate()
    await until(() => r.gateway.stats().suspended === 1, 'suspension')
    await eventually(
      async () => (await r.live.get(welcome.sid))?.state === 'suspended',
      'stored suspension',
    )
    // Process A "crashes": its timer wheel never runs again. Its resume window passes.
    r.clock.advance(welcome.resumeWindowMs + 60_000)
    const b = await secondGateway(r)
    cleanups.push(() => b.close())
    const c = await b.resume(welcome.sid, welcome.token, 0)
    const first = await c.next()
    // Expected: bye resume_window_expired + 4100 (or err 4103). Actual: welcome, resumed: true.
    expect(first).not.toMatchObject({ t: 'welcome' })
    expect([4100, 4103]).toContain((await c.closedWith()).code)
  })

  it('REVIEW-2 (SEC-48/SEC-49): a resumable 4004 refusal during resume does not spend the resume token', async () => {
    r = await rig({ maxConnectionsPerPrincipal: 1 })
    const { token } = await r.login('alice')
    // Live session L2, then suspended.
    const l2 = await r.open(token)
    l2.client.ws.terminate()
    await until(() => r.gateway.stats().suspended === 1, 'suspension')
    await eventually(
      async () => (await r.live.get(l2.welcome.sid))?.state === 'suspended',
      'stored suspension',
    )
    // Live session L1 takes alice's only connection slot.
    const l1 = await r.open(token)
    const refused = await r.resume(l2.welcome.sid, l2.welcome.token, 0)
    expect((await refused.closedWith()).code).toBe(4004) // resumable: "retry after a backoff"
    // The slot frees up; the client retries with the token it holds (it never got another).
    l1.client.ws.terminate()
    await until(() => r.gateway.stats().connections === 0, 'slot free')
    const retry = await r.resume(l2.welcome.sid, l2.welcome.token, 0)
    const closed = await Promise.race([retry.next('welcome').then(() => null), retry.closedWith()])
    // Actual: 4103 resume_token_invalid: the refused attempt rotated the token in the store.
    expect(closed).toBeNull()
  })
})
