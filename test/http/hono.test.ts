/** @module The adapter contract on Hono 4 (served by @hono/node-server). */
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { type ParleyEnv, parleyHono } from '../../src/http/hono/index.ts'
import { listen, RULE, runAdapterContract, signIn, signOut } from './adapter-contract.case.ts'

runAdapterContract({
  name: 'Hono',
  async start(options, sessions) {
    const parley = parleyHono(options)
    const app = new Hono<ParleyEnv>().use(parley)
    app.get('/public', (c) => {
      const { session, via } = c.get('parley')
      return c.json({ principal: session?.principal ?? null, via })
    })
    app.get('/me', parley.requireSession(), (c) => {
      const { session, via } = c.get('parley')
      return c.json({ principal: session!.principal, via })
    })
    app.post('/action', parley.requireSession(), (c) => c.json({ ok: true }))
    app.get('/admin', parley.requirePermission('admin:read'), (c) => c.json({ ok: true }))
    app.get('/rule', parley.requireRule(RULE), (c) => c.json({ ok: true }))
    app.post('/sign-in', async (c) => {
      parley.setSessionCookie(c, await signIn(sessions, c.req.url))
      return c.json({ ok: true })
    })
    app.post('/sign-out', parley.requireSession(), async (c) => {
      await signOut(sessions, c.get('parley').session!)
      parley.clearSessionCookie(c)
      return c.json({ ok: true })
    })
    return listen(createAdaptorServer({ fetch: app.fetch }) as import('node:http').Server)
  },
})
