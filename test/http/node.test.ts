/** @module The adapter contract on plain node:http. */
import { createServer } from 'node:http'
import { parleyNode } from '../../src/http/node/index.ts'
import { listen, RULE, runAdapterContract, signIn, signOut } from './adapter-contract.case.ts'

runAdapterContract({
  name: 'node:http',
  async start(options, sessions) {
    const parley = parleyNode(options)
    const json = (res: import('node:http').ServerResponse, body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    const server = createServer(async (req, res) => {
      const ctx = await parley.handle(req, res)
      if (ctx === undefined) return
      const route = `${req.method} ${req.url?.split('?')[0]}`
      const { session, via } = ctx
      if (route === 'GET /public') json(res, { principal: session?.principal ?? null, via })
      else if (route === 'GET /me' && parley.requireSession(ctx, res))
        json(res, { principal: ctx.session.principal, via })
      else if (route === 'POST /action' && parley.requireSession(ctx, res)) json(res, { ok: true })
      else if (route === 'GET /admin' && parley.requirePermission(ctx, res, 'admin:read'))
        json(res, { ok: true })
      else if (route === 'GET /rule' && (await parley.requireRule(ctx, res, RULE)))
        json(res, { ok: true })
      else if (route === 'POST /sign-in') {
        parley.setSessionCookie(res, await signIn(sessions, req.url!))
        json(res, { ok: true })
      } else if (route === 'POST /sign-out' && parley.requireSession(ctx, res)) {
        await signOut(sessions, ctx.session)
        parley.clearSessionCookie(res)
        json(res, { ok: true })
      } else if (!res.headersSent) res.writeHead(404).end()
    })
    return listen(server)
  },
})
