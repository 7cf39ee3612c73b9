/**
 * @module The IPC protocol between the bench orchestrator (`run.ts`, the load generator) and a
 * server child (`server.ts` for the validate suite, `web-server.ts` for the web suite,
 * `token-server.ts` for the token suite). Plain JSON-serialisable objects only.
 */

/** What a validate child serves: a bare `node:http` baseline or Parley on one store. */
export type ValidateTargetName = 'bare' | 'memory' | 'sqlite' | 'redis' | 'redis-cache' | 'postgres'

/** What a web child serves: `GET /me`, the session resolved from a cookie (see web-targets.ts). */
export type WebTargetName =
  | 'bare-http'
  | 'bare-fastify'
  | 'node-sqlite'
  | 'node-memory'
  | 'node-redis'
  | 'express-sqlite'
  | 'hono-sqlite'
  | 'fastify-sqlite'
  | 'express-session'
  | 'express-session-redis'
  | 'iron-session'
  | 'better-auth'
  | 'better-auth-cache'

/** What a token child serves: `GET /me` behind `Authorization: Bearer <jwt>` (see token-targets.ts). */
export type TokenTargetName = 'bare-http' | 'jose-verify' | 'parley-cache' | 'parley-no-cache'

export type TargetName = ValidateTargetName | WebTargetName | TokenTargetName

/** Passed to a validate child as its one argument (JSON). */
export interface ChildConfig {
  target: ValidateTargetName
  /** The `store` string for `openStore` (Parley targets only). */
  storeUrl: string
  /** Where `openStore` may put files (sqlite). */
  dataDir: string
  redisPrefix: string
  postgresSchema: string
  /** The session cache TTL (0: off), as `sessionCacheMs` of buildServer. */
  sessionCacheMs: number
  /** How many sessions to create (their tokens are rotated across requests). */
  tokens: number
  /** When set, profile the measured window (inspector) and write the profile here. */
  profileDir: string | null
}

/** Passed to a web child as its one argument (JSON). */
export interface WebChildConfig {
  target: WebTargetName
  /** A fresh temporary directory for database files (deleted by the parent). */
  dataDir: string
  redisUrl: string
  /** The prefix of every Redis key the target writes (deleted by the parent). */
  redisPrefix: string
  /** How many sessions to create (their cookies are rotated across requests). */
  tokens: number
  profileDir: string | null
}

/** Passed to a token child as its one argument (JSON). */
export interface TokenChildConfig {
  target: TokenTargetName
  /** How many access tokens to issue (rotated across requests). */
  tokens: number
  profileDir: string | null
}

/** One request of the pool the load generator rotates through. */
export interface BenchRequest {
  method: 'GET' | 'POST'
  path: string
  headers: Record<string, string>
  body?: string
}

/** Child to parent. */
export type ChildMessage =
  | { type: 'ready'; port: number; requests: BenchRequest[]; setupMs: number }
  | { type: 'failed'; reason: string }
  | { type: 'cpu-started' }
  | {
      type: 'cpu'
      userUs: number
      systemUs: number
      wallMs: number
      elu: number
      /** The CPU profile of the window, when profiling. */
      profile: string | null
    }
  | { type: 'closed' }

/** Parent to child. */
export type ParentMessage = { type: 'cpu-start' } | { type: 'cpu-stop' } | { type: 'shutdown' }

export const VALIDATE_PATH = '/v1/sessions/validate'
/** The web suite's one route: the session's principal as JSON. */
export const ME_PATH = '/me'
