/**
 * @module The IPC protocol between the bench orchestrator (`run.ts`, the load generator) and a
 * server child (`server.ts`). Plain JSON-serialisable objects only.
 */

/** What a child serves: a bare `node:http` baseline or Parley on one store. */
export type TargetName = 'bare' | 'memory' | 'sqlite' | 'redis' | 'redis-cache' | 'postgres'

/** Passed to the child as its one argument (JSON). */
export interface ChildConfig {
  target: TargetName
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

/** Child to parent. */
export type ChildMessage =
  | { type: 'ready'; port: number; apiKey: string; tokens: string[]; setupMs: number }
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
