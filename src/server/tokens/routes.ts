/**
 * @module The token endpoints of `parley serve` in their own scope (not under the web scope's
 * cookie Origin check): the JWKS, RFC 8414 metadata, `/auth/token` (password sign-in for tokens),
 * and the form-encoded OAuth endpoints `/oauth/token` (refresh), `/oauth/introspect` (RFC 7662)
 * and `/oauth/revoke` (RFC 7009).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Auth } from '../../auth/auth.ts'
import { ParleyError } from '../../core/errors.ts'
import type { ApiKeyChecker } from '../api-keys.ts'
import { sendProblem, toProblem } from '../problem.ts'
import { authenticateClient } from './client-auth.ts'
import { DPOP_DEFAULTS, type DpopChecker } from './dpop.ts'
import { registerFormParser } from './form.ts'
import { authorizationServerMetadata, TOKEN_PATHS } from './metadata.ts'
import { badRequest, OAuthError, sendOAuthError, toOAuthError } from './oauth-errors.ts'
import type { TokenCallContext, TokenEndpoints, TokenResponse } from './types.ts'

export interface TokenRoutesOptions {
  tokens: TokenEndpoints
  /** Password sign-in for `/auth/token`; null when the web side (users) is off. */
  auth: Auth | null
  apiKeys: ApiKeyChecker
  dpop: DpopChecker
  issuer: string
  /** The public clients that may hold tokens; `dpop` ones must present a proof. */
  clients: readonly { id: string; dpop?: boolean }[]
  /** Require a server nonce in DPoP proofs at the token endpoints. */
  dpopNonce: boolean
}

const text = { type: 'string', minLength: 1, maxLength: 256 } as const
const signInBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password', 'client_id'],
  properties: {
    username: text,
    password: text,
    totp: { type: 'string', minLength: 1, maxLength: 16 },
    recoveryCode: { type: 'string', minLength: 1, maxLength: 64 },
    client_id: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const

function contextOf(request: FastifyRequest): TokenCallContext {
  const ua = request.headers['user-agent']
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null }
}

/**
 * The URL a DPoP proof's `htu` must name: the path under the issuer, this server's configured public
 * URL. Never built from the Host header, which the client writes (SEC-46).
 */
function requestUrls(request: FastifyRequest, issuer: string): string[] {
  const path = request.url.split('?')[0] ?? '/'
  return [`${issuer.replace(/\/$/, '')}${path}`]
}

function dpopHeader(request: FastifyRequest): string | undefined {
  const value = request.headers.dpop
  if (Array.isArray(value)) throw new ParleyError('ERR_DPOP_INVALID', 'send exactly one DPoP proof')
  return value
}

function sendTokens(reply: FastifyReply, tokens: TokenResponse, nonce: string | null) {
  if (nonce !== null) reply.header('dpop-nonce', nonce)
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(tokens)
}

/** Registers the token routes in an encapsulated scope of `app`. */
export async function tokenRoutes(
  app: FastifyInstance,
  options: TokenRoutesOptions,
): Promise<void> {
  const { tokens, auth, apiKeys, dpop, issuer } = options
  const clients = new Map(options.clients.map((c) => [c.id, c.dpop === true]))
  const publicClients: ReadonlySet<string> = new Set(clients.keys())
  const metadata = authorizationServerMetadata(issuer, DPOP_DEFAULTS.algorithms)
  const requireNonce = options.dpopNonce && dpop.nonces

  /** The DPoP key of a token request: checked when a proof came, required for `dpop` clients. */
  async function proofKey(request: FastifyRequest, clientId: string): Promise<string | undefined> {
    const proof = dpopHeader(request)
    if (proof === undefined) {
      if (clients.get(clientId) === true)
        throw new ParleyError('ERR_DPOP_INVALID', 'this client must send a DPoP proof')
      return undefined
    }
    const { jkt } = await dpop.check({
      proof,
      method: request.method,
      url: requestUrls(request, issuer),
      requireNonce,
    })
    return jkt
  }

  const clientOf = (id: unknown): string => {
    if (typeof id !== 'string' || id === '')
      throw new OAuthError('invalid_request', 'client_id is required')
    if (!clients.has(id))
      throw new OAuthError('invalid_client', 'unknown client', 'ERR_CLIENT_INVALID')
    return id
  }

  await app.register(async (scope) => {
    scope.get(TOKEN_PATHS.jwks, async () => tokens.jwks())
    scope.get(TOKEN_PATHS.metadata, async () => metadata)

    if (auth !== null) {
      scope.post(TOKEN_PATHS.signIn, { schema: { body: signInBody } }, async (request, reply) => {
        const body = request.body as {
          username: string
          password: string
          totp?: string
          recoveryCode?: string
          client_id: string
        }
        try {
          const clientId = clientOf(body.client_id)
          const jkt = await proofKey(request, clientId)
          const ctx = contextOf(request)
          const { session } = await auth.signIn(
            {
              username: body.username,
              password: body.password,
              ...(body.totp !== undefined ? { totp: body.totp } : {}),
              ...(body.recoveryCode !== undefined ? { recoveryCode: body.recoveryCode } : {}),
            },
            ctx,
          )
          const issued = await tokens.issue(
            session,
            { clientId, ...(jkt !== undefined ? { jkt } : {}) },
            ctx,
          )
          return sendTokens(reply, issued, requireNonce ? dpop.nonce() : null)
        } catch (err) {
          // A Parley route: a problem document, with the OAuth `error` beside the `code`.
          const oauth = toOAuthError(err)
          const problem = toProblem(
            err instanceof OAuthError ? new ParleyError(err.code, err.message) : err,
          )
          if (oauth.nonce !== undefined) reply.header('dpop-nonce', oauth.nonce)
          if (problem.status >= 500)
            request.log.error({ err, code: problem.code }, 'sign-in failed')
          const status = oauth.body.error.includes('dpop') ? 400 : problem.status
          return sendProblem(reply, { ...problem, status, error: oauth.body.error })
        }
      })
    }

    // The OAuth endpoints: form bodies, and every failure (a parser's included) as an OAuth error.
    await scope.register(async (oauth) => {
      registerFormParser(oauth)
      oauth.setErrorHandler((err, request, reply) => sendOAuthError(request, reply, err))
      oauthRoutes(oauth)
    })
  })

  function oauthRoutes(scope: FastifyInstance): void {
    scope.post(TOKEN_PATHS.token, async (request, reply) => {
      try {
        const form = formOf(request)
        if (request.headers.authorization !== undefined)
          throw new OAuthError(
            'invalid_client',
            'public clients send no credentials',
            'ERR_CLIENT_INVALID',
          )
        if (form.grant_type === undefined) throw badRequest('grant_type is required')
        if (form.grant_type !== 'refresh_token')
          throw new OAuthError('unsupported_grant_type', 'only refresh_token is supported here')
        if (form.refresh_token === undefined || form.refresh_token === '')
          throw badRequest('refresh_token is required')
        const clientId = clientOf(form.client_id)
        const jkt = await proofKey(request, clientId)
        const issued = await tokens.refresh(
          form.refresh_token,
          { clientId, ...(jkt !== undefined ? { jkt } : {}) },
          contextOf(request),
        )
        return sendTokens(reply, issued, requireNonce ? dpop.nonce() : null)
      } catch (err) {
        return sendOAuthError(request, reply, err)
      }
    })

    scope.post(TOKEN_PATHS.introspect, async (request, reply) => {
      try {
        const form = formOf(request)
        await authenticateClient(request, form, apiKeys)
        if (form.token === undefined || form.token === '') throw badRequest('token is required')
        return reply.header('cache-control', 'no-store').send(await tokens.introspect(form.token))
      } catch (err) {
        return sendOAuthError(request, reply, err)
      }
    })

    scope.post(TOKEN_PATHS.revoke, async (request, reply) => {
      try {
        const form = formOf(request)
        const client = await authenticateClient(request, form, apiKeys, { publicClients })
        if (form.token === undefined || form.token === '') throw badRequest('token is required')
        // A public client revokes only what was issued to it; a service (API key) any token (SEC-45).
        await tokens.revoke(
          form.token,
          client.kind === 'public' ? { clientId: client.clientId } : {},
          contextOf(request),
        )
        return reply.code(200).send()
      } catch (err) {
        return sendOAuthError(request, reply, err)
      }
    })
  }
}

/** The parsed form of an OAuth request; anything but a form body is an `invalid_request`. */
function formOf(request: FastifyRequest): Record<string, string> {
  const type = request.headers['content-type']
  if (
    typeof type !== 'string' ||
    !type.toLowerCase().startsWith('application/x-www-form-urlencoded')
  )
    throw badRequest('the body must be application/x-www-form-urlencoded')
  return (request.body ?? {}) as Record<string, string>
}
