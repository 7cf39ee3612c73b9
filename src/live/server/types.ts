/** @module Public types of the live gateway: options, handlers, the session handle, the logger. */

import type { IncomingMessage } from 'node:http'
import type { Clock } from '../../core/clock.ts'
import type { EndReason } from '../../core/session.ts'
import type { Sessions } from '../../core/sessions.ts'
import type { CookieConfig, CookieOptions } from '../../http/cookies.ts'
import type { Checkpoint, SlowConsumerPolicy } from '../engine/types.ts'
import type { LiveStore } from '../live-store.ts'
import type {
  DialogMode,
  GapReason,
  JsonValue,
  LiveLimits,
  ResyncKind,
  Side,
} from '../protocol/index.ts'
import type { Scheduler } from './timer-wheel.ts'

/** A pino-like logger. The gateway logs ids, codes and counts: never credentials or payloads. */
export interface LiveLogger {
  debug?(obj: object, msg?: string): void
  info?(obj: object, msg?: string): void
  warn?(obj: object, msg?: string): void
  error?(obj: object, msg?: string): void
}

/** What the gateway asks of an access-token verifier (`Verifier` from `parley/tokens` is one). */
export interface AccessTokenCheck {
  verify(token: string): Promise<Readonly<{ sid: string; exp: number }>>
}

/** The state of a live session as the application sees it. */
export type LiveSessionState = 'open' | 'suspended' | 'ended'

/** The application's view of one live session; valid across resumes, until it ends. */
export interface LiveSessionHandle {
  /** The live session id (`welcome.sid`). */
  readonly id: string
  /** The Parley session it belongs to. */
  readonly sessionId: string
  readonly principal: string
  readonly state: LiveSessionState
  /** Dialog mode and turn holder (null in full duplex). */
  readonly mode: DialogMode
  readonly turn: Side | null
  /**
   * Sends a message; resolves with its seq once the engine took it (sent, or queued for credit).
   * Under the `wait` policy a full queue makes it wait for credit; it rejects when the session
   * ends, when the turn is not ours, or when the payload is over `maxPayloadBytes`.
   */
  send(data: JsonValue): Promise<number>
  /** Calls a client method; resolves with its result, rejects with a {@link LiveRpcErrorLike}. */
  call(method: string, params?: JsonValue): Promise<JsonValue | undefined>
  /** Marks a checkpoint; resolves once the client confirmed it (it is then durable). */
  checkpoint(id: string, state?: JsonValue): Promise<void>
  /** Starts a resync; resolves once the client confirmed it. */
  resync(kind: ResyncKind, to: string, state?: JsonValue): Promise<void>
  /** Half duplex: ask for the turn / hand it over. */
  requestTurn(): boolean
  giveTurn(): boolean
  /** Ends the live session: `bye` with the reason, close 4100, the reason recorded. */
  end(reason: EndReason): Promise<void>
}

/** The shape of an RPC error as a caller sees it. */
export interface LiveRpcErrorLike {
  code: string
  message: string
  data?: JsonValue
}

/** What an RPC method receives besides its params. */
export interface LiveCallContext {
  session: LiveSessionHandle
  /** The call id (unique per session and direction). */
  id: string
  method: string
}

export type LiveMethod = (
  params: JsonValue | undefined,
  ctx: LiveCallContext,
) => unknown | Promise<unknown>

/** The application's handlers. Each may be async; a throw is logged and never closes the session. */
export interface LiveHandlers {
  /** A live session opened (new), not called again on resume. */
  onOpen?(session: LiveSessionHandle): void | Promise<void>
  /** A client message, in order, exactly once. */
  onMessage?(session: LiveSessionHandle, data: JsonValue, seq: number): void | Promise<void>
  /** RPC methods by name. Throw `LiveRpcError` for application errors. */
  methods?: Record<string, LiveMethod>
  /** The client marked a checkpoint: take it; resolving confirms it. */
  onCheckpoint?(session: LiveSessionHandle, id: string, state: JsonValue | undefined): unknown
  /** The client asks to resynchronise: restore the state; resolving confirms it. */
  onResync?(
    session: LiveSessionHandle,
    resync: {
      kind: ResyncKind
      to: string
      state: JsonValue | undefined
      checkpoint: Checkpoint | null
    },
  ): unknown
  /** The turn holder changed (half duplex). */
  onTurn?(session: LiveSessionHandle, holder: Side): void
  /** The client asked for the turn (half duplex, the server holds it). */
  onTurnRequest?(session: LiveSessionHandle): void
  /** Messages from..to of the client's stream are lost. */
  onGap?(session: LiveSessionHandle, gap: { from: number; to: number; reason: GapReason }): void
  /** The transport was lost; the session may still be resumed. */
  onSuspend?(session: LiveSessionHandle): void
  /** The live session ended with `reason` (exactly once per session this process knew). */
  onEnd?(session: LiveSessionHandle, reason: EndReason): void
}

export interface LiveGatewayOptions extends LiveHandlers {
  sessions: Sessions
  store: LiveStore
  clock?: Clock
  /** Accepts access tokens (JWT with `sid`) as `hello.cred` besides session tokens. */
  verifier?: AccessTokenCheck
  /** The session cookie (name and settings) accepted as `hello.cred: "cookie"` (SEC-26). */
  cookie?: CookieOptions | CookieConfig
  /** Origins allowed to open a connection from a browser (`Origin` header); others get 403. */
  origins: readonly string[]
  limits?: Partial<LiveLimits>
  /** Messages waiting for credit before `policy` applies (default 1024). */
  maxQueued?: number
  /** Slow-consumer policy of the outbound queue (default `wait`). */
  policy?: SlowConsumerPolicy
  /** Force this dialog mode for every new session (default: what hello asks, else `full`). */
  mode?: DialogMode
  /** Who holds the turn first in half duplex, who sends in simplex (default `server`). */
  turn?: Side
  /** Connections per principal on this process (default 32; `4004`). */
  maxConnectionsPerPrincipal?: number
  /** Live sessions per principal in the store, suspended ones included (default 64; `4004`). */
  maxLiveSessionsPerPrincipal?: number
  /** Connections per client address on this process, handshakes included (default 256; `4004`). */
  maxConnectionsPerAddress?: number
  /** Handshakes in progress; beyond, upgrades get HTTP 503 (default 1024). */
  maxHandshakes?: number
  /**
   * Bytes written to a socket and not yet taken by the network before the connection is closed
   * with 4003 `slow_consumer` (default 8 MiB): a client that grants much credit and reads slowly
   * cannot make the server buffer without bound (SEC-49). It resumes and gets the replay.
   */
  maxBufferedBytes?: number
  /** The client address of an upgrade (default the socket's remote address); put proxy trust here. */
  addressOf?(req: IncomingMessage): string
  logger?: LiveLogger
  /** The interval source of the timer wheel (tests pass a manual one). */
  scheduler?: Scheduler
  /** Resolution of the timer wheel in ms (default 20: at most a 20th of a second of heartbeats per tick). */
  tickMs?: number
}

/** Counters for metrics. */
export interface LiveGatewayStats {
  /** Open connections (welcomed). */
  connections: number
  /** Live sessions held in memory without a connection. */
  suspended: number
  /** Upgraded connections that have not been welcomed yet. */
  handshakes: number
}
