/**
 * @module The browser side of `parley serve`: the /auth JSON API (sign-up, sign-in, sign-out,
 * "my sessions", step-up, password and TOTP changes) and the pages, behind the session cookie,
 * the CSRF origin check and a strict Content-Security-Policy.
 */
import Bowser from 'bowser'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Auth } from '../../auth/auth.ts'
import { ParleyError } from '../../core/errors.ts'
import type { Session } from '../../core/session.ts'
import type { Sessions } from '../../core/sessions.ts'
import type { CookieOptions } from '../../http/cookies.ts'
import { readSessionToken } from '../../http/cookies.ts'
import { checkOrigin } from '../../http/csrf.ts'
import { clearSessionCookie, parleyFastify, setSessionCookie } from '../../http/fastify/index.ts'
import { registerClientAssets } from './client-assets.ts'
import { LIVE_DEMO_JS, LIVE_DEMO_PAGE } from './live-demo.ts'
import { ACCOUNT_PAGE, SIGN_IN_PAGE, SIGN_UP_PAGE } from './pages.ts'
import { APP_JS } from './script.ts'
import { STYLE_CSS } from './style.ts'

export interface WebOptions {
  auth: Auth
  sessions: Sessions
  /** Origins allowed to make unsafe requests with the cookie (SEC-24). */
  origins: string[]
  cookie?: CookieOptions
  trustProxy?: boolean
  /** Serve the live demo page at /live/demo (the gateway must be on). */
  liveDemo?: boolean
}

/** SEC-23: no inline script, no framing, no third-party anything. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const text = { type: 'string', minLength: 1, maxLength: 256 } as const
/** Routes that take no body accept none (SEC-53): absent, or an empty JSON object. */
async function refuseBody(request: FastifyRequest): Promise<void> {
  const body = request.body as unknown
  if (body === undefined || body === null) return
  if (typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length > 0) {
    throw new ParleyError('ERR_VALIDATION', 'this request takes no body')
  }
}
const noBody = { preValidation: refuseBody }
const code = { type: 'string', minLength: 1, maxLength: 16 } as const
/** Recovery codes are 30 characters in groups of five, typed with or without dashes and spaces. */
const recoveryCode = { type: 'string', minLength: 1, maxLength: 64 } as const
function bodySchema(required: string[], properties: Record<string, object>) {
  return { type: 'object', additionalProperties: false, required, properties }
}

function clientOf(request: FastifyRequest) {
  const ua = request.headers['user-agent']
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null }
}

/** "Chrome 131 on Linux": what the "my sessions" list shows for a user agent. */
export function deviceOf(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device'
  try {
    const p = Bowser.parse(userAgent)
    const browser = [p.browser.name, p.browser.version?.split('.')[0]].filter(Boolean).join(' ')
    const os = p.os.name ?? p.platform.type ?? ''
    if (!browser) return userAgent.slice(0, 60)
    return os ? `${browser} on ${os}` : browser
  } catch {
    return userAgent.slice(0, 60)
  }
}

function sessionOf(request: FastifyRequest): Session {
  const session = request.parley?.session
  if (!session) throw new ParleyError('ERR_UNAUTHENTICATED')
  return session
}

function publicSession(s: Session, currentId: string | null) {
  return {
    id: s.id,
    device: deviceOf(s.client.userAgent),
    ip: s.client.ip,
    createdAt: s.createdAt,
    lastSeenAt: s.lastSeenAt,
    current: s.id === currentId,
    factors: s.auth.factors,
  }
}

/** Registers the pages and the /auth API in their own scope. */
export async function webRoutes(app: FastifyInstance, options: WebOptions): Promise<void> {
  const { auth } = options
  await app.register(async (scope) => {
    await scope.register(parleyFastify, {
      sessions: options.sessions,
      origins: options.origins,
      cookie: options.cookie,
      trustProxy: options.trustProxy,
      logger: app.log,
    })
    scope.addHook('onRequest', async (request, reply) => {
      reply.header('content-security-policy', PAGE_CSP)
      reply.header('referrer-policy', 'same-origin')
      reply.header('x-frame-options', 'DENY')
      // Sign-in and sign-up carry no cookie yet, so the adapter's check does not see them; a session
      // must never be minted by a request another site can make (login CSRF, SEC-08, SEC-24).
      // A request with an Authorization header is exempt: no other site can make a browser send
      // one (a cross-origin fetch with it needs CORS, which Parley never grants, SEC-27).
      if (
        request.method !== 'GET' &&
        request.method !== 'HEAD' &&
        request.headers.authorization === undefined
      ) {
        checkOrigin(request.method, request.headers, options.origins)
      }
      void reply
    })
    const guard = { preHandler: scope.parley.requireSession() }
    const setCookie = (reply: FastifyReply, token: string) =>
      setSessionCookie(reply, token, options.cookie)

    const page = (html: string) => async (_request: FastifyRequest, reply: FastifyReply) =>
      reply.type('text/html; charset=utf-8').send(html)
    scope.get('/', async (request, reply) =>
      reply.redirect(request.parley?.session ? '/account' : '/sign-in', 303),
    )
    scope.get('/sign-in', page(SIGN_IN_PAGE))
    scope.get('/sign-up', page(SIGN_UP_PAGE))
    scope.get('/account', page(ACCOUNT_PAGE))
    scope.get('/assets/app.js', async (_r, reply) =>
      reply.type('text/javascript; charset=utf-8').send(APP_JS),
    )
    scope.get('/assets/app.css', async (_r, reply) =>
      reply.type('text/css; charset=utf-8').send(STYLE_CSS),
    )
    registerClientAssets(scope) // parley/client as JavaScript, for pages of this origin
    if (options.liveDemo) {
      scope.get('/live/demo', page(LIVE_DEMO_PAGE))
      scope.get('/assets/live-demo.js', async (_r, reply) =>
        reply.type('text/javascript; charset=utf-8').send(LIVE_DEMO_JS),
      )
    }

    scope.post(
      '/auth/sign-up',
      {
        schema: { body: bodySchema(['username', 'password'], { username: text, password: text }) },
      },
      async (request, reply) => {
        const body = request.body as { username: string; password: string }
        // a session the browser held before is ended (fixation defence, SEC-07)
        const replaces = readSessionToken(request.headers.cookie, options.cookie) ?? undefined
        const result = await auth.signUp({ ...body, replaces }, clientOf(request))
        setCookie(reply, result.token)
        return reply.code(201).send({ user: result.user })
      },
    )
    scope.post(
      '/auth/sign-in',
      {
        schema: {
          body: bodySchema(['username', 'password'], {
            username: text,
            password: text,
            totp: code,
            recoveryCode,
          }),
        },
      },
      async (request, reply) => {
        const body = request.body as {
          username: string
          password: string
          totp?: string
          recoveryCode?: string
        }
        const replaces = readSessionToken(request.headers.cookie, options.cookie) ?? undefined
        const result = await auth.signIn({ ...body, replaces }, clientOf(request))
        setCookie(reply, result.token)
        return { user: result.user }
      },
    )
    scope.post('/auth/sign-out', noBody, async (request, reply) => {
      const session = request.parley?.session
      if (session) await auth.signOut(session.id, clientOf(request))
      clearSessionCookie(reply, options.cookie)
      return reply.code(204).send()
    })
    scope.get('/auth/me', guard, async (request) => {
      const session = sessionOf(request)
      return {
        user: await auth.getUser(session.principal),
        session: publicSession(session, session.id),
      }
    })
    scope.get('/auth/sessions', guard, async (request) => {
      const session = sessionOf(request)
      const list = await auth.listSessions(session)
      return { sessions: list.map((s) => publicSession(s, session.id)) }
    })
    scope.post(
      '/auth/sessions/:id/end',
      {
        ...guard,
        schema: {
          params: {
            type: 'object',
            properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
          },
        },
      },
      async (request, reply) => {
        const session = sessionOf(request)
        const { id } = request.params as { id: string }
        await auth.endOwnSession(session, id, clientOf(request))
        if (id === session.id) clearSessionCookie(reply, options.cookie)
        return reply.code(204).send()
      },
    )
    scope.post('/auth/sessions/end-others', { ...guard, ...noBody }, async (request) => {
      const ended = await auth.endOtherSessions(sessionOf(request), clientOf(request))
      return { ended }
    })
    scope.post(
      '/auth/reauthenticate',
      { ...guard, schema: { body: bodySchema(['password'], { password: text, totp: code }) } },
      async (request, reply) => {
        const body = request.body as { password: string; totp?: string }
        const result = await auth.reauthenticate(sessionOf(request), body, clientOf(request))
        setCookie(reply, result.token)
        return { session: publicSession(result.session, result.session.id) }
      },
    )
    scope.post(
      '/auth/password',
      {
        ...guard,
        schema: {
          body: bodySchema(['currentPassword', 'newPassword'], {
            currentPassword: text,
            newPassword: text,
          }),
        },
      },
      async (request, reply) => {
        const body = request.body as { currentPassword: string; newPassword: string }
        const result = await auth.changePassword(sessionOf(request), body, clientOf(request))
        setCookie(reply, result.token)
        return { session: publicSession(result.session, result.session.id) }
      },
    )
    scope.post('/auth/totp/begin', { ...guard, ...noBody }, async (request) =>
      auth.beginTotp(sessionOf(request)),
    )
    scope.post(
      '/auth/totp/confirm',
      { ...guard, schema: { body: bodySchema(['code'], { code }) } },
      async (request, reply) => {
        const { code: value } = request.body as { code: string }
        const result = await auth.confirmTotp(sessionOf(request), value, clientOf(request))
        setCookie(reply, result.token)
        return { recoveryCodes: result.recoveryCodes }
      },
    )
    scope.post(
      '/auth/totp/disable',
      { ...guard, schema: { body: bodySchema(['password'], { password: text }) } },
      async (request, reply) => {
        const body = request.body as { password: string }
        const result = await auth.disableTotp(sessionOf(request), body, clientOf(request))
        setCookie(reply, result.token)
        return { ok: true }
      },
    )
    scope.post('/auth/recovery-codes', { ...guard, ...noBody }, async (request) => ({
      recoveryCodes: await auth.regenerateRecoveryCodes(sessionOf(request), clientOf(request)),
    }))
  })
}
