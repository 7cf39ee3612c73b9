/** @module Limits and timings of `parley.v1`, with their defaults, named in one place. */

/** Configurable limits and timings of a live connection. docs/protocol.md explains each. */
export interface LiveLimits {
  /** Largest frame, in UTF-8 bytes, checked before parsing. */
  maxFrameBytes: number
  /** Largest JSON payload of one frame (msg data, call params, ...), in UTF-8 bytes. */
  maxPayloadBytes: number
  /** Deepest nesting of arrays and objects in a payload. */
  maxDepth: number
  /** Largest credit balance one side may hold, and the largest single grant. */
  maxCredit: number
  /** Credit granted at each handshake when the grantor names none. */
  initialCredit: number
  /** Calls sent and not yet answered, per direction. */
  maxPendingCalls: number
  /** Sustained frames per second from one peer (token bucket rate). */
  maxFramesPerSecond: number
  /** Frames one peer may send in a burst above the rate (token bucket size). */
  frameBurst: number
  /** Unacknowledged messages kept for replay, per direction. */
  replayMaxCount: number
  /** Unacknowledged payload bytes kept for replay, per direction. */
  replayMaxBytes: number
  /** Oldest unacknowledged message kept for replay, in ms. */
  replayMaxAgeMs: number
  /** Time from the upgrade to a valid hello, in ms (SEC-47). */
  handshakeTimeoutMs: number
  /** Interval between server pings, in ms; also the time allowed for the pong. */
  heartbeatMs: number
  /** How long a suspended session may be resumed, in ms. */
  resumeWindowMs: number
}

/** The defaults. Every value is documented in docs/protocol.md ("Limits"). */
export const DEFAULT_LIMITS = {
  maxFrameBytes: 65_536,
  maxPayloadBytes: 61_440,
  maxDepth: 32,
  maxCredit: 65_536,
  initialCredit: 256,
  maxPendingCalls: 64,
  maxFramesPerSecond: 100,
  frameBurst: 200,
  replayMaxCount: 1_024,
  replayMaxBytes: 1_048_576,
  replayMaxAgeMs: 120_000,
  handshakeTimeoutMs: 10_000,
  heartbeatMs: 15_000,
  resumeWindowMs: 120_000,
} as const satisfies LiveLimits

/** The limits the codec itself enforces. */
export type DecodeLimits = Pick<
  LiveLimits,
  'maxFrameBytes' | 'maxPayloadBytes' | 'maxDepth' | 'maxCredit'
>

/** Fixed bounds of the wire format (not configurable: they are part of `parley.v1`). */
export const BOUNDS = {
  /** Sequence numbers, acks, ping numbers: 0 .. 2^53 − 1. */
  maxInt: Number.MAX_SAFE_INTEGER,
  credentialChars: 8_192,
  sessionIdChars: 128,
  resumeTokenChars: 512,
  idChars: 64,
  methodChars: 128,
  messageChars: 1_024,
  /** Bounds of the settings a server announces in welcome. */
  heartbeatMs: { min: 1_000, max: 300_000 },
  resumeWindowMs: { min: 0, max: 86_400_000 },
  maxFrameBytes: { min: 1_024, max: 16_777_216 },
  maxPendingCalls: { min: 0, max: 65_536 },
  retryMs: { min: 0, max: 3_600_000 },
} as const
