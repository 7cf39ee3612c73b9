/**
 * @module Options of `LiveClient`, with their defaults resolved in one place.
 */
import { Peer } from '../live/engine/peer.ts'
import type {
  PeerContract,
  PeerEvent,
  PeerLimits,
  PeerOptions,
  PeerState,
  SlowConsumerPolicy,
} from '../live/engine/types.ts'
import type { DialogMode, WelcomeFrame } from '../live/protocol/frames.ts'
import { DEFAULT_LIMITS } from '../live/protocol/limits.ts'
import { cryptoRandom, type Random } from './live-backoff.ts'
import { globalWebSocket, type WebSocketConstructor } from './live-connection.ts'
import { defaultLiveStorage, type LiveStorage } from './live-outbox.ts'
import {
  type LiveClock,
  type LiveScheduler,
  liveSystemClock,
  systemScheduler,
} from './live-scheduler.ts'

export interface LiveClientOptions {
  /** The gateway, e.g. `wss://example.com/live` (`ws:` for 127.0.0.1 only). No credential in it. */
  url: string | URL
  /** A session token, an access token, or `'cookie'` (the browser's session cookie); called for each new session and refresh. */
  credential: () => string | Promise<string>
  /** The storage key of this live session (one per concurrent live session). Default `'default'`. */
  name?: string
  /** Where the session survives a reload. Default: `localStorage` in a browser window, else memory. */
  storage?: LiveStorage
  /** Requested dialog mode of a new session. Default: the server's (`full`). */
  mode?: DialogMode
  /** Credit granted to the server at each handshake. Default: the server's `initialCredit` (256). */
  credit?: number
  /** The WebSocket constructor. Default: the global `WebSocket`. */
  WebSocket?: WebSocketConstructor
  /** Time source (ms since the epoch). Default: the system clock. */
  clock?: LiveClock
  /** Timers. Default: `setTimeout`. */
  scheduler?: LiveScheduler
  /** Uniform [0, 1) numbers for the backoff jitter. Default: `crypto.getRandomValues`. */
  random?: Random
  /** When `send()` meets a full queue: `wait` (default), `drop-oldest` (a gap) or `disconnect`. */
  policy?: SlowConsumerPolicy
  /** Engine limits of this side. Defaults: the protocol's (`maxQueued` 1024). */
  limits?: Partial<PeerLimits>
  /** Confirm the server's checkpoints yourself with `confirmCheckpoint(id)`. Default false. */
  manualCheckpoints?: boolean
  /** Confirm the server's resyncs yourself with `resyncDone(n)`. Default false. */
  manualResyncs?: boolean
  /** Refresh the credential this long before `welcome.exp`. Default 30 000 ms. */
  refreshLeewayMs?: number
  /** Give up on a connection with no `welcome` after this long (then back off). Default 15 000 ms. */
  connectTimeoutMs?: number
  /** Builds the engine. Default: `new Peer(options)`. For tests. */
  createPeer?: (options: PeerOptions) => PeerContract
}

/** The options with every default applied. */
export interface ResolvedOptions {
  url: string
  credential: () => string | Promise<string>
  name: string
  storage: LiveStorage
  mode: DialogMode | undefined
  credit: number | undefined
  WebSocket: WebSocketConstructor
  clock: LiveClock
  scheduler: LiveScheduler
  random: Random
  policy: SlowConsumerPolicy
  limits: PeerLimits
  manualCheckpoints: boolean
  manualResyncs: boolean
  refreshLeewayMs: number
  connectTimeoutMs: number
  createPeer: (options: PeerOptions) => PeerContract
}

/** Messages waiting for credit before the slow-consumer policy applies. */
export const DEFAULT_MAX_QUEUED = 1_024

export function resolveOptions(o: LiveClientOptions): ResolvedOptions {
  if (typeof o.credential !== 'function') throw new TypeError('credential must be a function')
  const WebSocket = o.WebSocket ?? globalWebSocket()
  if (WebSocket === null) throw new TypeError('no WebSocket here: pass the WebSocket option')
  const credit = o.credit
  if (credit !== undefined && !(Number.isSafeInteger(credit) && credit >= 0))
    throw new RangeError('credit must be an integer >= 0')
  return {
    url: String(o.url),
    credential: o.credential,
    name: o.name ?? 'default',
    storage: o.storage ?? defaultLiveStorage(),
    mode: o.mode,
    credit,
    WebSocket,
    clock: o.clock ?? liveSystemClock,
    scheduler: o.scheduler ?? systemScheduler,
    random: o.random ?? cryptoRandom,
    policy: o.policy ?? 'wait',
    limits: {
      replayMaxCount: DEFAULT_LIMITS.replayMaxCount,
      replayMaxBytes: DEFAULT_LIMITS.replayMaxBytes,
      replayMaxAgeMs: DEFAULT_LIMITS.replayMaxAgeMs,
      maxPendingCalls: DEFAULT_LIMITS.maxPendingCalls,
      maxCredit: DEFAULT_LIMITS.maxCredit,
      maxQueued: DEFAULT_MAX_QUEUED,
      ...o.limits,
    },
    manualCheckpoints: o.manualCheckpoints ?? false,
    manualResyncs: o.manualResyncs ?? false,
    refreshLeewayMs: o.refreshLeewayMs ?? 30_000,
    connectTimeoutMs: o.connectTimeoutMs ?? 15_000,
    createPeer: o.createPeer ?? ((options) => new Peer(options)),
  }
}

/** The engine's options: restored from `state`, or new with the mode and turn of `welcome`. */
export function peerOptions(
  o: ResolvedOptions,
  state: PeerState | null,
  welcome: WelcomeFrame | null,
  onEvent: (event: PeerEvent) => void,
): PeerOptions {
  const maxPendingCalls = welcome?.maxPendingCalls ?? o.limits.maxPendingCalls
  const base = {
    side: 'client' as const,
    clock: o.clock,
    limits: { ...o.limits, maxPendingCalls },
    policy: o.policy,
    onEvent,
  }
  if (state !== null) return { ...base, state }
  return { ...base, mode: welcome?.mode ?? 'full', turn: welcome?.turn ?? null }
}
