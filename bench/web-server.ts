/**
 * @module A web-suite server child: started by `run.ts` with `child_process.fork`. It serves one
 * target of `web-suite.ts` (`GET /me`, the session from a cookie), having created its sessions,
 * and reports its port and one request per session (with that session's Cookie header).
 */
import { runChild, type Started } from './child.ts'
import type { WebChildConfig, WebTargetName } from './protocol.ts'
import { startBetterAuth, startExpressSession, startIronSession } from './web-externals.ts'
import { startBareFastify, startBareHttp, startParley } from './web-targets.ts'

const START: Record<WebTargetName, (config: WebChildConfig) => Promise<Started>> = {
  'bare-http': startBareHttp,
  'bare-fastify': startBareFastify,
  'node-sqlite': startParley,
  'node-memory': startParley,
  'node-redis': startParley,
  'express-sqlite': startParley,
  'hono-sqlite': startParley,
  'fastify-sqlite': startParley,
  'express-session': startExpressSession,
  'express-session-redis': startExpressSession,
  'iron-session': startIronSession,
  'better-auth': startBetterAuth,
  'better-auth-cache': startBetterAuth,
}

runChild<WebChildConfig>((config) => START[config.target](config))
