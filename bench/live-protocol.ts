/**
 * @module The IPC protocol between the live suite's parent (`live-suite.ts`, which also runs the
 * clients, `live-clients.ts`) and a live server child (`live-server.ts`): the child's config,
 * and the messages each way. Plain JSON-serialisable objects only.
 */

/** What a live server child serves on `LIVE_PATH`. */
export type LiveTargetName = 'ws' | 'socketio' | 'parley-memory' | 'parley-sqlite'

/** What kind of client speaks to a target. */
export type LiveKind = 'ws' | 'socketio' | 'parley'

export const kindOf = (target: LiveTargetName): LiveKind =>
  target === 'ws' ? 'ws' : target === 'socketio' ? 'socketio' : 'parley'

/** The path every target serves its WebSocket on. */
export const LIVE_PATH = '/live'

/** The origin the clients send (Parley checks it; the others ignore it). */
export const LIVE_ORIGIN = 'http://127.0.0.1'

/** Passed to a live server child as its one argument (JSON). */
export interface LiveChildConfig {
  target: LiveTargetName
  /** A fresh temporary directory for the SQLite file (deleted by the parent). */
  dataDir: string
  /** Server heartbeat interval: Parley's `heartbeatMs`, Socket.IO's `pingInterval`, ws's ping loop. */
  heartbeatMs: number
  /** ws only: ping every connection from one `setInterval` (the naive loop of ws's README). */
  pingLoop: boolean
  /** Parley only: how many session tokens to create (one principal each) for the clients. */
  credentials: number
  /** Parley only: the gateway's timer-wheel resolution (`tickMs`); null: its default. */
  tickMs: number | null
}

/** Child to parent. */
export type LiveChildMessage =
  | {
      type: 'ready'
      port: number
      /** Session tokens for `hello.cred` (Parley targets; empty for the others). */
      credentials: string[]
      setupMs: number
    }
  | { type: 'failed'; reason: string }
  | {
      type: 'mem'
      /** process.memoryUsage() after two full GCs, in bytes. */
      rss: number
      heapUsed: number
      external: number
      /** Connections the server holds now. */
      connections: number
    }
  | { type: 'cpu-started' }
  | { type: 'cpu'; userUs: number; systemUs: number; wallMs: number; elu: number }
  | { type: 'eld-started' }
  | {
      type: 'eld'
      /** monitorEventLoopDelay over the window, in ms. */
      p50Ms: number
      p99Ms: number
      maxMs: number
      meanMs: number
      /** Event-loop utilisation and CPU (cores) over the window. */
      elu: number
      cores: number
      connections: number
      /** ws ping loop only: how long each sweep over every connection took, the longest, in ms. */
      loopMaxMs: number | null
    }
  | { type: 'closed' }

/** Parent to child. */
export type LiveParentMessage =
  | { type: 'mem' }
  | { type: 'cpu-start' }
  | { type: 'cpu-stop' }
  | { type: 'eld-start' }
  | { type: 'eld-stop' }
  | { type: 'shutdown' }

/**
 * The application payload of every message, about 100 bytes of compact JSON, the same for every
 * target (what a chat or collaboration message might carry).
 */
export const PAYLOAD = {
  room: 'bench-room-01',
  user: 'bench-user-000042',
  text: 'the quick brown fox jumps over the lazy dog',
}
export const PAYLOAD_JSON = JSON.stringify(PAYLOAD)
