/** @module `parley serve`: start the standalone server, drain it on SIGTERM/SIGINT. */
import type { Command } from 'commander'
import { buildServer } from '../server/app.ts'
import { describeStore, openStore, originsOf, usersOf } from '../server/open-store.ts'
import { loadSecret } from '../server/secret.ts'
import { addConfigOptions, configFrom } from './options.ts'

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
    const store = await openStore(config)
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
              origins: originsOf(config),
              signUp: config.signUp,
              stepUpWindowMs: config.stepUpWindowMs,
              sameSite: config.cookieSameSite === 'strict' ? 'Strict' : 'Lax',
              insecureCookie: config.insecureCookie,
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
    const address = await app.listen({ host: config.host, port: config.port })
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
