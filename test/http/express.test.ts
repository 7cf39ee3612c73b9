/** @module The adapter contract on Express 5. */
import { createServer } from 'node:http'
import express from 'express'
import { parleyExpress } from '../../src/http/express/index.ts'
import { listen, RULE, runAdapterContract, signIn, signOut } from './adapter-contract.case.ts'

runAdapterContract({
  name: 'Express',
  async start(options, sessions) {
    const parley = parleyExpress(options)
    const app = express().use(parley)
    app.get('/public', (req, res) => {
      res.json({ principal: req.parley.session?.principal ?? null, via: req.parley.via })
    })
    app.get('/me', parley.requireSession(), (req, res) => {
      res.json({ principal: req.parley.session!.principal, via: req.parley.via })
    })
    app.post('/action', parley.requireSession(), (_req, res) => res.json({ ok: true }))
    app.get('/admin', parley.requirePermission('admin:read'), (_req, res) => res.json({ ok: true }))
    app.get('/rule', parley.requireRule(RULE), (_req, res) => res.json({ ok: true }))
    app.post('/sign-in', async (req, res) => {
      parley.setSessionCookie(res, await signIn(sessions, req.originalUrl))
      res.json({ ok: true })
    })
    app.post('/sign-out', parley.requireSession(), async (req, res) => {
      await signOut(sessions, req.parley.session!)
      parley.clearSessionCookie(res)
      res.json({ ok: true })
    })
    return listen(createServer(app))
  },
})
