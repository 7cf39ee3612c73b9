/** @module The `parley.v1` frame types: a discriminated union over the short type field `t`. */

import type { EndReason } from '../../core/session.ts'

/** The WebSocket subprotocol this codec speaks. */
export const SUBPROTOCOL = 'parley.v1'

/** Every frame type, in the order docs/protocol.md describes them. */
export const FRAME_TYPES = [
  'hello',
  'welcome',
  'msg',
  'ack',
  'gap',
  'ping',
  'pong',
  'refresh',
  'refreshed',
  'ckpt',
  'ckpt_ok',
  'resync',
  'resync_ok',
  'turn_please',
  'turn_give',
  'credit',
  'call',
  'result',
  'error',
  'err',
  'bye',
] as const

export type FrameType = (typeof FRAME_TYPES)[number]

/** Dialog modes: full duplex (default), half duplex with a turn token, or simplex. */
export const DIALOG_MODES = ['full', 'half', 'simplex'] as const
export type DialogMode = (typeof DIALOG_MODES)[number]

/** The two ends of a connection. */
export const SIDES = ['client', 'server'] as const
export type Side = (typeof SIDES)[number]

/** Why a range of messages was lost (the gap frame says which). */
export const GAP_REASONS = [
  'buffer_count',
  'buffer_bytes',
  'buffer_age',
  'store_lost',
  'slow_consumer',
] as const
export type GapReason = (typeof GAP_REASONS)[number]

/** Resynchronisation kinds, as ISO 8327 names them. */
export const RESYNC_KINDS = ['restart', 'abandon', 'set'] as const
export type ResyncKind = (typeof RESYNC_KINDS)[number]

/** Any value JSON can carry (finite numbers only). */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue }

/** What a client presents to resume a suspended session. */
export interface ResumeRequest {
  /** Session id from the last `welcome`. */
  sid: string
  /** Resume token from the last `welcome` (single use). */
  token: string
  /** Highest contiguous server sequence number the client received (0: none). */
  last: number
}

/** Client → server, first frame: a credential (new session) or a resume request, never both. */
export interface HelloFrame {
  t: 'hello'
  cred?: string
  resume?: ResumeRequest
  /** Requested dialog mode (new sessions only; default `full`). */
  mode?: DialogMode
  /** Credit the client grants the server (default: initialCredit). */
  credit?: number
}

/** Server → client: the handshake succeeded. */
export interface WelcomeFrame {
  t: 'welcome'
  sid: string
  /** The next resume token; the one presented in `hello` is spent. */
  token: string
  resumed: boolean
  /** Highest contiguous client sequence number the server received (0: none). */
  last: number
  mode: DialogMode
  /** Holder of the turn (half duplex) or the sending side (simplex); absent in full duplex. */
  turn?: Side
  /** Credit the server grants the client: how many `msg` frames it may send. */
  credit: number
  heartbeatMs: number
  resumeWindowMs: number
  maxFrameBytes: number
  maxPayloadBytes: number
  maxPendingCalls: number
  /** When the credential expires (epoch ms); refresh before then. */
  exp?: number
}

/** An application message. `ack` piggy-backs the sender's cumulative ack. */
export interface MsgFrame {
  t: 'msg'
  seq: number
  ack?: number
  data: JsonValue
}

/** A cumulative ack on its own: highest contiguous sequence number received. */
export interface AckFrame {
  t: 'ack'
  ack: number
}

/** Messages `from..to` of the sender's stream are lost; the receiver counts them as received. */
export interface GapFrame {
  t: 'gap'
  from: number
  to: number
  reason: GapReason
}

/** Server → client heartbeat. */
export interface PingFrame {
  t: 'ping'
  n: number
  ack?: number
}

/** Client → server answer to `ping`, echoing `n`. */
export interface PongFrame {
  t: 'pong'
  n: number
  ack?: number
}

/** Client → server: a fresh credential for the live session. */
export interface RefreshFrame {
  t: 'refresh'
  cred: string
}

/** Server → client: the refreshed credential was accepted. */
export interface RefreshedFrame {
  t: 'refreshed'
  exp?: number
}

/** Marks a checkpoint after the sender's message `seq`, having received the peer's up to `ack`. */
export interface CkptFrame {
  t: 'ckpt'
  id: string
  seq: number
  ack: number
  state?: JsonValue
}

/** Confirms a checkpoint: it is now durable. */
export interface CkptOkFrame {
  t: 'ckpt_ok'
  id: string
}

/** Resynchronise both sides to checkpoint `to` (restart, abandon or set). */
export interface ResyncFrame {
  t: 'resync'
  n: number
  kind: ResyncKind
  to: string
  state?: JsonValue
}

/** Confirms resync `n`. */
export interface ResyncOkFrame {
  t: 'resync_ok'
  n: number
}

/** Half duplex: the side without the turn asks for it. */
export interface TurnPleaseFrame {
  t: 'turn_please'
}

/** Half duplex: the holder hands the turn to the peer. */
export interface TurnGiveFrame {
  t: 'turn_give'
}

/** Grants the peer `n` more `msg` frames. */
export interface CreditFrame {
  t: 'credit'
  n: number
}

/** An RPC call; `id` is unique per session and direction. */
export interface CallFrame {
  t: 'call'
  id: string
  method: string
  params?: JsonValue
}

/** The successful outcome of call `id`. */
export interface ResultFrame {
  t: 'result'
  id: string
  data?: JsonValue
}

/** The failed outcome of call `id` (an application or RPC-layer error, not a protocol error). */
export interface ErrorFrame {
  t: 'error'
  id: string
  code: string
  message?: string
  data?: JsonValue
}

/** A protocol error; the sender closes with the same close `code` right after. */
export interface ErrFrame {
  t: 'err'
  code: number
  message: string
  /** Reconnect no sooner than this (resumable codes only). */
  retryMs?: number
}

/** Ends the session with a reason; the peer flushes and answers with its own `bye`. */
export interface ByeFrame {
  t: 'bye'
  reason: EndReason
}

/** Every `parley.v1` frame. `switch (frame.t)` narrows. */
export type Frame =
  | HelloFrame
  | WelcomeFrame
  | MsgFrame
  | AckFrame
  | GapFrame
  | PingFrame
  | PongFrame
  | RefreshFrame
  | RefreshedFrame
  | CkptFrame
  | CkptOkFrame
  | ResyncFrame
  | ResyncOkFrame
  | TurnPleaseFrame
  | TurnGiveFrame
  | CreditFrame
  | CallFrame
  | ResultFrame
  | ErrorFrame
  | ErrFrame
  | ByeFrame

/** The frame type whose `t` is `T`. */
export type FrameOf<T extends FrameType> = Extract<Frame, { t: T }>
