/**
 * @module `LiveClient` against the real live gateway (`createLiveGateway`, memory store) on
 * Node's global WebSocket: a session token as the credential, messages both ways, an RPC, a
 * dropped transport resumed with replay, and a logout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LiveClient } from '../../src/client/live-client.ts'
import { MemoryLiveStorage } from '../../src/client/live-outbox.ts'
import { ManualScheduler } from '../../src/client/live-scheduler.ts'
import type { JsonValue } from '../../src/live/protocol/frames.ts'
import type { LiveSessionHandle } from '../../src/live/server/index.ts'
import { type Rig, rig, until } from '../live/gateway-helpers.ts'
import { TestWebSocket } from './live-fake-server.ts'

let r: Rig
const received: JsonValue[] = []
const handles: LiveSessionHandle[] = []

beforeEach(async () => {
  received.length = 0
  handles.length = 0
  r = await rig({
    onOpen: (session) => {
      handles.push(session)
    },
    onMessage: async (session, data) => {
      received.push(data)
      await session.send({ echo: data })
    },
    methods: { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) },
  })
})

afterEach(async () => {
  await r.close()
})

describe('LiveClient against the live gateway', () => {
  it('opens with a session token, echoes, calls, resumes after a drop, and logs out', async () => {
    const { token } = await r.login()
    const time = new ManualScheduler(r.clock.now())
    const live = new LiveClient({
      url: r.url,
      credential: () => token,
      storage: new MemoryLiveStorage(),
      clock: time,
      scheduler: time,
      random: () => 0,
      WebSocket: TestWebSocket,
    })
    const messages: JsonValue[] = []
    live.on('message', ({ data }) => {
      messages.push(data)
    })
    const ended: string[] = []
    live.on('ended', ({ reason }) => ended.push(reason))
    live.connect()
    await until(() => live.state === 'open', 'open')
    expect(live.sid).toBe(handles[0]?.id)

    expect(await live.send('one')).toBe(1)
    await until(() => messages.length === 1, 'echo')
    expect(messages).toEqual([{ echo: 'one' }])
    await expect(live.call('add', [2, 3])).resolves.toBe(5)

    live.disconnect() // the transport drops; the session is kept on both sides
    await until(() => live.state === 'reconnecting', 'reconnecting')
    expect(await live.send('two')).toBe(2) // queued while offline
    await until(() => handles[0]?.state === 'suspended', 'gateway suspends')
    await handles[0]!.send('while away') // buffered by the gateway for replay
    time.advance(1) // the backoff (random 0: at once)
    await until(() => live.state === 'open', 'resumed')
    await until(() => messages.length === 3, 'replay and echo')
    expect(received).toEqual(['one', 'two'])
    expect(messages).toEqual([{ echo: 'one' }, 'while away', { echo: 'two' }])

    await live.close()
    expect(ended).toEqual(['logout'])
  })
})
