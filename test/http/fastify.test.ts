/** @module The adapter contract on Fastify 5. */
import Fastify from 'fastify'
import { parleyFastify } from '../../src/http/fastify/index.ts'
import { RULE, runAdapterContract, signIn, signOut } from './adapter-contract.case.ts'

runAdapterContract({
  name: 'Fastify',
  async start(options, sessions) {
    const app = Fastify()
    await app.register(parleyFastify, options)
    const { parley } = app
    app.get('/public', async (request) => ({
      principal: request.parley.session?.principal ?? null,
      via: request.parley.via,
    }))
    app.get('/me', { preHandler: parley.requireSession() }, async (request) => ({
      principal: request.parley.session!.principal,
      via: request.parley.via,
    }))
    app.post('/action', { preHandler: parley.requireSession() }, async () => ({ ok: true }))
    const admin = { preHandler: parley.requirePermission('admin:read') }
    app.get('/admin', admin, async () => ({ ok: true }))
    app.get('/rule', { preHandler: parley.requireRule(RULE) }, async () => ({ ok: true }))
    app.post('/sign-in', async (request, reply) => {
      parley.setSessionCookie(reply, await signIn(sessions, request.url))
      return { ok: true }
    })
    app.post('/sign-out', { preHandler: parley.requireSession() }, async (request, reply) => {
      await signOut(sessions, request.parley.session!)
      parley.clearSessionCookie(reply)
      return { ok: true }
    })
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    return { url, close: () => app.close() }
  },
})
