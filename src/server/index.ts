/** @module parley/server: the standalone server as a library (build, configure, start). */
export { ApiKeyChecker, createApiKey, keyLabel } from './api-keys.ts'
export { type BuildServerOptions, buildServer, type ParleyServer, VERSION } from './app.ts'
export { ConfigError, loadConfig, SETTINGS, type ServerConfig } from './config.ts'
export { describeStore, openStore } from './open-store.ts'
export { toProblem } from './problem.ts'
export { loadSecret } from './secret.ts'
