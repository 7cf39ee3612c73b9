/**
 * @module The token side of `buildServer`: starts the TokenService on the store's token store,
 * registers the token routes and the access-token hook, rotates keys on a timer (unref'd) and
 * closes it all with the app.
 */
import type { FastifyInstance } from 'fastify'
import type { Auth } from '../../auth/auth.ts'
import type { Clock } from '../../core/clock.ts'
import type { Sessions } from '../../core/sessions.ts'
import type { SigningAlg } from '../../tokens/keys.ts'
import { TokenService } from '../../tokens/service.ts'
import type { TokenStore } from '../../tokens/token-store.ts'
import type { ApiKeyChecker } from '../api-keys.ts'
import { tokensOf } from '../open-store.ts'
import { accessTokenHook } from './access.ts'
import { DpopChecker } from './dpop.ts'
import { tokenRoutes } from './routes.ts'

/** The `tokens` option of `buildServer` (docs/tokens.md; the CLI fills it from the settings). */
export interface TokenServerOptions {
  /** The server secret: seals signing keys at rest, keys the DPoP nonces. */
  secret: string
  /** `iss` of access tokens and base of the metadata, such as `https://auth.example.com`. */
  issuer: string
  /** `aud` of access tokens. Default `parley`. */
  audience?: string
  /** Public clients that may hold tokens. Default `[{ id: 'web' }]`. */
  clients?: { id: string; dpop?: boolean }[]
  /** Default: the session store's own token store. */
  store?: TokenStore
  accessTtlMs?: number
  refreshTtlMs?: number
  graceMs?: number
  alg?: SigningAlg
  rotationMs?: number
  clockSkewMs?: number
  /** Require server nonces in DPoP proofs at the token endpoints. Default false. */
  dpopNonce?: boolean
  /** Accepted distance of a DPoP proof's `iat` from now. Default 60 s. */
  dpopWindowMs?: number
  /** Poll interval of the in-process deny list (ms). Default 1000. */
  denyPollMs?: number
}

/** How often the timer makes sure a current signing key exists and sweeps expired tokens. */
export function maintenanceIntervalMs(rotationMs: number): number {
  return Math.max(60_000, Math.min(3_600_000, Math.floor(rotationMs / 4)))
}

/**
 * Starts the TokenService and registers everything tokens need on `app`. Call before the web
 * routes are registered (the access-token hook must come first).
 */
export async function setupTokens(
  app: FastifyInstance,
  options: TokenServerOptions,
  deps: {
    sessions: Sessions
    apiKeys: ApiKeyChecker
    clock: Clock
    trustProxy: boolean
    /** Resolved when the web routes exist; `/auth/token` needs it. */
    auth: () => Auth | null
  },
): Promise<{ service: TokenService; register: () => Promise<void> }> {
  const store = options.store ?? tokensOf(deps.sessions.store)
  await store.init()
  const service = new TokenService({
    sessions: deps.sessions,
    tokens: store,
    secret: options.secret,
    issuer: options.issuer,
    audience: options.audience ?? 'parley',
    clients: options.clients ?? [{ id: 'web' }],
    clock: deps.clock,
    ...(options.accessTtlMs !== undefined ? { accessTtlMs: options.accessTtlMs } : {}),
    ...(options.refreshTtlMs !== undefined ? { refreshTtlMs: options.refreshTtlMs } : {}),
    ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
    ...(options.alg !== undefined ? { alg: options.alg } : {}),
    ...(options.rotationMs !== undefined ? { rotationMs: options.rotationMs } : {}),
    ...(options.clockSkewMs !== undefined ? { clockSkewMs: options.clockSkewMs } : {}),
    denyList: {
      ...(options.denyPollMs !== undefined ? { pollMs: options.denyPollMs } : {}),
      onError: (err) =>
        app.log.warn(
          { code: (err as { code?: string }).code },
          'deny list poll failed; will retry',
        ),
    },
  })
  await service.init()
  const dpop = new DpopChecker({
    replay: store,
    clock: deps.clock,
    ...(options.dpopWindowMs !== undefined ? { windowMs: options.dpopWindowMs } : {}),
    ...(options.dpopNonce ? { nonceSecret: options.secret } : {}),
  })
  app.addHook(
    'preHandler',
    accessTokenHook({
      sessions: deps.sessions,
      verifier: service.verifier(),
      dpop,
      trustProxy: deps.trustProxy,
      origins: [new URL(options.issuer).origin],
      logger: app.log,
    }),
  )

  let maintaining = false
  const timer = setInterval(() => {
    if (maintaining) return
    maintaining = true
    service.keyRing
      .ensureCurrent()
      .then(() => service.sweep())
      .catch((err) =>
        app.log.warn(
          { code: (err as { code?: string }).code },
          'token maintenance failed; will retry',
        ),
      )
      .finally(() => {
        maintaining = false
      })
  }, maintenanceIntervalMs(service.keyRing.rotationMs))
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await service.close()
  })

  const register = () =>
    tokenRoutes(app, {
      tokens: service,
      auth: deps.auth(),
      apiKeys: deps.apiKeys,
      dpop,
      issuer: options.issuer,
      clients: options.clients ?? [{ id: 'web' }],
      dpopNonce: options.dpopNonce === true,
    })
  return { service, register }
}
