/** @module `parley serve`: start the standalone server, drain it on SIGTERM/SIGINT. */
import { createServer } from 'node:net'
import type { Command } from 'commander'
import { describeStore, liveOf, openStore, originsOf, usersOf } from '../server/open-store.ts'
import { loadSecret } from '../server/secret.ts'
import { addConfigOptions, configFrom } from './options.ts'

/** The idle timeout of common load balancers and proxies (AWS ALB, nginx `proxy_read_timeout`). */
const LB_IDLE_TIMEOUT_MS = 60_000

export function registerServe(program: Command): void {
  addConfigOptions(
    program
      .command('serve')
      .description(
        'Run the Parley server (service API, health checks, OpenAPI) on the configured store',
      )
      .addHelpText(
        'after',
        '\nExamples:\n  parley serve\n  parley serve --port 8080 --store redis://127.0.0.1:6379\n  PARLEY_STORE=postgres://localhost/parley parley serve',
      ),
  ).action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    const secret = loadSecret({
      configured: config.secret,
      dataDir: config.dataDir,
      production: config.production,
    })
    // The default token issuer names this server's port: with `--port 0`, pick it now.
    const port =
      config.port === 0 && config.tokens && config.tokenIssuer === null
        ? await freePort(config.host)
        : config.port
    const store = await openStore(config)
    // Loaded here, not at the top: the other commands never pay for Fastify, jose and the routes.
    const { buildServer } = await import('../server/app.ts')
    const { app } = await buildServer({
      store,
      policy: config.policy,
      logger: { level: config.logLevel },
      logRequests: config.logRequests,
      bodyLimit: config.bodyLimit,
      trustProxy: config.trustProxy,
      apiKeyCacheMs: config.apiKeyCacheMs,
      sessionCacheMs: config.sessionCacheMs,
      sweepIntervalMs: config.sweepIntervalMs,
      ...(config.web
        ? {
            web: {
              users: usersOf(store),
              secret,
              origins: originsOf({ ...config, port }),
              signUp: config.signUp,
              stepUpWindowMs: config.stepUpWindowMs,
              sameSite: config.cookieSameSite === 'strict' ? 'Strict' : 'Lax',
              insecureCookie: config.insecureCookie,
            },
          }
        : {}),
      ...(config.live
        ? {
            live: {
              store: liveOf(store),
              origins: originsOf({ ...config, port }),
              heartbeatMs: config.liveHeartbeatMs,
              resumeWindowMs: config.liveResumeWindowMs,
              handshakeTimeoutMs: config.liveHandshakeTimeoutMs,
              policy: config.liveSlowConsumer,
              maxConnectionsPerPrincipal: config.liveMaxPerPrincipal,
              maxConnectionsPerAddress: config.liveMaxPerAddress,
              rate: config.liveRate,
              demo: config.liveDemo,
            },
          }
        : {}),
      ...(config.tokens
        ? {
            tokens: {
              secret,
              issuer: config.tokenIssuer ?? `http://localhost:${port}`,
              audience: config.tokenAudience,
              clients: config.tokenClients,
              accessTtlMs: config.accessTokenTtlMs,
              refreshTtlMs: config.refreshTokenTtlMs,
              graceMs: config.refreshGraceMs,
              alg: config.signingAlg,
              rotationMs: config.keyRotationMs,
              dpopNonce: config.dpopNonce,
            },
          }
        : {}),
    })
    const keys = await store.listApiKeys()
    if (!keys.some((k) => k.revokedAt === null)) {
      app.log.warn(
        'no API key yet: create one with `parley keys create --name my-backend` to use the /v1 API',
      )
    }
    if (config.live && config.liveHeartbeatMs > LB_IDLE_TIMEOUT_MS / 2) {
      // A load balancer drops a connection that stays silent longer than its idle timeout (60 s
      // on AWS ALB and nginx by default): heartbeats must come well within it.
      app.log.warn(
        { liveHeartbeatMs: config.liveHeartbeatMs },
        'live heartbeat is over 30s: common proxies close connections idle for 60s; lower --live-heartbeat if one is in front',
      )
    }
    const address = await app.listen({ host: config.host, port })
    app.log.info({ store: describeStore(config.store), host: config.host }, 'parley listening')
    process.stdout.write(`parley listening on ${address} (store: ${describeStore(config.store)})\n`)
    let closing = false
    const stop = (signal: string) => {
      if (closing) return
      closing = true
      app.log.info({ signal }, 'shutting down')
      app
        .close()
        .then(() => store.close())
        .then(
          () => process.exit(0),
          () => process.exit(1),
        )
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
}

/** A port free on `host` now (for `--port 0` when the token issuer must name it before listening). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, host, () => {
      const address = probe.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
}
