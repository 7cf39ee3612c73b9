/**
 * @module Example: a live session on your own node:http server, and a client that loses its
 * connection mid-conversation and loses nothing. The gateway (`parley/live`) attaches to the
 * server; the client (`LiveClient` from `parley/client`) resumes by itself.
 * Run: node examples/live/main.ts  (prints the conversation, then exits)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LiveClient, MemoryLiveStorage } from '../../src/client/index.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { createLiveGateway, LiveRpcError } from '../../src/live/index.ts'
import { SqliteStore } from '../../src/store/sqlite/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'parley-live-'))
const store = new SqliteStore({ path: join(dir, 'parley.db') })
await store.init()
const sessions = new Sessions({ store })

// The server: your application is a set of handlers.
const carts = new Map<string, number>()
const gateway = createLiveGateway({
  sessions,
  store: store.live(),
  origins: ['http://localhost:3000'],
  onMessage: async (session, data, seq) => {
    await session.send({ echo: data, of: seq })
  },
  methods: {
    // Runs exactly once per call id, even when the client sends the call again after a resume.
    'cart.add': (params, { session }) => {
      const n = (params as { qty?: unknown })?.qty
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
        throw new LiveRpcError('invalid_params', 'qty must be a positive integer')
      const total = (carts.get(session.id) ?? 0) + n
      carts.set(session.id, total)
      return { total }
    },
  },
  onEnd: (_session, reason) => console.log(`server: live session ended (${reason})`),
})
const server = createServer((_req, res) => res.end('hello'))
gateway.attach(server, { path: '/live' })
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/live`

// The client: a signed-in user's session token is its credential.
const { token } = await sessions.create({ principal: 'user-42' })
const live = new LiveClient({ url, credential: () => token, storage: new MemoryLiveStorage() })
const echoes: number[] = []
live.on('state', ({ state }) => console.log(`client: ${state}`))
live.on('message', ({ seq, data }) => {
  echoes.push((data as { of: number }).of)
  console.log(`client: <- #${seq} ${JSON.stringify(data)}`)
})
live.on('resumed', () => console.log('client: resumed, nothing lost'))
live.connect()

for (const text of ['hello', 'how are you']) await live.send({ text })
console.log('client: cart.add ->', await live.call('cart.add', { qty: 2 }))

// The connection drops mid-conversation; the client keeps sending and calling.
live.disconnect({ reconnect: true })
const sends = ['are you there?', 'still here'].map((text) => live.send({ text }))
const call = live.call('cart.add', { qty: 1 })
await Promise.all(sends)
console.log('client: cart.add ->', await call)
await until(() => echoes.length === 4)
console.log(`client: every message echoed exactly once: ${JSON.stringify(echoes)}`)

await live.close() // bye: the live session ends with reason logout
await gateway.close()
server.close()
await store.close()
rmSync(dir, { recursive: true, force: true })

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  if (!cond()) throw new Error('the echoes did not arrive')
}
