/**
 * @module The contract of the `parley.v1` session engine: one side of a live session, with no I/O.
 *
 * The engine (`Peer`) is symmetric: the server gateway and the client SDK each drive one. It owns
 * everything docs/protocol.md says about sections 5, 6, 9, 10, 11 and 12 (sequence numbers, acks,
 * replay buffer, gaps, credit, the outbound queue and its slow-consumer policy, dialog control,
 * checkpoints, resync, RPC bookkeeping). It does not own the handshake, heartbeats, credential
 * refresh, `err`, `bye` or the transport: the connection layer (gateway or client) handles
 * `hello`, `welcome`, `ping`, `pong`, `refresh`, `refreshed`, `err` and `bye` itself and hands
 * every other frame to `receive()`.
 *
 * Flow of one turn of the event loop:
 *   connection decodes frames -> peer.receive(frame) (events go to `onEvent` synchronously) ->
 *   the application reacts (peer.send, peer.answer, ...) -> connection calls peer.flush():
 *   it gets the frames to write and the delta to persist. The server commits the delta to its
 *   store and only then writes the frames (so a failover never re-uses a sequence number and a
 *   fast reconnect finds everything that was acknowledged); the client persists its delta
 *   (the outbox) and writes.
 *
 * Time comes from the injected clock only (replay age).
 */

import type { Clock } from '../../core/clock.ts'
import type { CloseCode } from '../protocol/close-codes.ts'
import type {
  DialogMode,
  Frame,
  GapReason,
  JsonValue,
  ResyncKind,
  Side,
} from '../protocol/frames.ts'

/** What the sender does when its outbound queue (messages waiting for credit) is full. */
export type SlowConsumerPolicy = 'wait' | 'drop-oldest' | 'disconnect'

/** The limits one peer enforces on itself and on what it receives. */
export interface PeerLimits {
  /** Unacknowledged messages kept for replay (sent or queued). Older ones become a gap. */
  replayMaxCount: number
  /** Unacknowledged payload bytes kept for replay. */
  replayMaxBytes: number
  /** Age in ms after which an unacknowledged message leaves the replay buffer. */
  replayMaxAgeMs: number
  /** Unanswered calls per direction (inbound over the bound: answered `too_many_calls`). */
  maxPendingCalls: number
  /** Largest credit balance (a grant above it from the peer is 4205). */
  maxCredit: number
  /** Messages waiting for credit (assigned a seq, not yet written) before the policy applies. */
  maxQueued: number
  /**
   * How long the callee keeps the outcome of an answered call for exactly-once answers, in ms
   * (optional; default 120000, the default `resumeWindowMs`).
   */
  callOutcomeTtlMs?: number
  /** Confirmed checkpoints kept (default 16); older ones are forgotten (SEC-49). */
  maxCheckpoints?: number
}

/** A message in the replay buffer. `data` is the compact JSON text of the payload. */
export interface BufferedMessage {
  seq: number
  /** Compact JSON of the payload (what `msg.data` carries). */
  json: string
  /** UTF-8 byte length of `json`. */
  bytes: number
  /** When it was sent (clock ms), for `replayMaxAgeMs`. */
  at: number
}

/** A confirmed checkpoint: both sides agreed on this point of both streams. */
export interface Checkpoint {
  id: string
  /** Which side marked it. */
  by: Side
  /** The last seq the marker had sent / the marker's ack of the other stream, in this side's terms: */
  /** the last seq THIS side had sent at the checkpoint. */
  outSeq: number
  /** the highest contiguous seq THIS side had received at the checkpoint. */
  inSeq: number
  /** Compact JSON of the snapshot, or null. */
  state: string | null
  at: number
}

/** An RPC outcome, as kept for exactly-once answers and sent in `result` / `error`. */
export type CallOutcome =
  | { ok: true; data?: JsonValue }
  | { ok: false; code: string; message?: string; data?: JsonValue }

/** The outcome of an inbound call this side answered, kept for `callOutcomeTtlMs`. */
export interface RecordedOutcome {
  id: string
  outcome: CallOutcome
  /** When it was answered (clock ms). */
  at: number
}

/** A call this side made and has no answer for yet (re-sent with the same id after a resume). */
export interface PendingCall {
  id: string
  method: string
  params?: JsonValue
}

/** Everything that must survive a restart of this side, serialisable as JSON. */
export interface PeerState {
  side: Side
  mode: DialogMode
  /** Holder of the turn (half) or the sending side (simplex); null in full duplex. */
  turn: Side | null
  /** Last seq assigned to an outbound message (0: none). */
  outSeq: number
  /** The peer's cumulative ack of our stream. */
  outAcked: number
  /** Highest seq evicted from the replay buffer without the peer's ack, and why (0: none). */
  outLostTo: number
  outLostReason: GapReason | null
  /** Unacknowledged outbound messages, ascending by seq, all > outAcked. */
  outBuffer: BufferedMessage[]
  /** Highest contiguous seq received from the peer (a gap counts as received). */
  inLast: number
  /** Confirmed checkpoints, oldest first. */
  checkpoints: Checkpoint[]
  /** Calls this side made and has no answer for. */
  pendingCalls: PendingCall[]
  /** Next call id number (ids are `c<n>`) and next resync number. */
  nextCallId: number
  nextResync: number
  /**
   * Outcomes of inbound calls this side answered (optional: a client persists them so that a
   * call re-sent after a page reload is answered from here, not run again).
   */
  outcomes?: RecordedOutcome[]
}

/** What changed since the last flush, for the server's store (the client persists `state`). */
export interface PeerDelta {
  /** Outbound messages assigned since the last flush, ascending. */
  appended: BufferedMessage[]
  /** The peer's cumulative ack of our stream now (trim the stored buffer to > this). */
  outAcked: number
  /** Evicted-without-ack bound now, and its reason. */
  outLostTo: number
  outLostReason: GapReason | null
  /** Highest contiguous seq received now. */
  inLast: number
  /** Turn holder now (null in full duplex). */
  turn: Side | null
  /** Checkpoints confirmed since the last flush. */
  checkpoints: Checkpoint[]
  /** Checkpoint ids discarded by a resync since the last flush (abandon / set discard later ones). */
  droppedCheckpoints: string[]
  /** The calls this side made and has no answer for, in full; present only when they changed. */
  pendingCalls?: PendingCall[]
  /** Next call id number; present only when it changed (persist it: ids are never reused). */
  nextCallId?: number
  /** Next resync number; present only when it changed. */
  nextResync?: number
  /** True when anything above changed (the server skips the store write otherwise). */
  changed: boolean
}

/** What `flush()` returns: frames to write (in order) and the delta to persist first. */
export interface FlushResult {
  frames: Frame[]
  delta: PeerDelta
}

/** A protocol violation: the connection sends `err` with this code and closes with it. */
export interface Violation {
  code: CloseCode
  message: string
}

/** What the application sees. Delivered synchronously through `PeerOptions.onEvent`. */
export type PeerEvent =
  | { type: 'message'; seq: number; data: JsonValue }
  /** Messages from..to of the peer's stream are lost (reason from the gap frame). */
  | { type: 'gap'; from: number; to: number; reason: GapReason }
  /** A message that arrived while our resync was pending: acknowledged, never delivered. */
  | { type: 'purged'; seq: number }
  /** The peer calls a method; answer with `answer(id, outcome)` exactly once. */
  | { type: 'call'; id: string; method: string; params: JsonValue | undefined }
  /** The answer to a call this side made. */
  | { type: 'result'; id: string; outcome: CallOutcome }
  /** The peer marked a checkpoint; confirm with `confirmCheckpoint(id)` once it is taken. */
  | { type: 'checkpoint'; id: string; state: JsonValue | undefined }
  /** A checkpoint (ours or the peer's) is now confirmed and durable. */
  | { type: 'checkpoint_confirmed'; checkpoint: Checkpoint }
  /** The peer asks to resynchronise; restore, then call `resyncDone(n)`. */
  | {
      type: 'resync'
      n: number
      kind: ResyncKind
      to: string
      state: JsonValue | undefined
      /** The target checkpoint when it already existed (restart, set to an old one). */
      checkpoint: Checkpoint | null
    }
  /** Our resync `n` was confirmed by the peer. */
  | { type: 'resynced'; n: number }
  /** The turn holder changed (half duplex). */
  | { type: 'turn'; holder: Side }
  /** The peer asked for the turn (half duplex, we hold it). */
  | { type: 'turn_requested' }
  /** Our messages up to `upTo` are acknowledged by the peer. */
  | { type: 'acked'; upTo: number }
  /**
   * Room again after `send()` had to queue: a credit grant arrived, or a flush wrote queued
   * messages (with the credit of a new handshake, say). A good time to send more.
   */
  | { type: 'drain' }

/** The result of `send()`. `queued`: it waits for credit (it has a seq and is in the buffer). */
export type SendResult =
  | { ok: true; seq: number; queued: boolean }
  /** The queue is full under the `wait` policy, or the turn is not ours: try again later. */
  | { ok: false; reason: 'queue_full' | 'not_your_turn' | 'resync_pending' }
  /** The queue overflowed under the `disconnect` policy: close with this (4003). */
  | { ok: false; reason: 'disconnect'; violation: Violation }

export interface PeerOptions {
  side: Side
  clock: Clock
  limits: PeerLimits
  policy: SlowConsumerPolicy
  /** New session: the negotiated mode and turn holder. Ignored when `state` is given. */
  mode?: DialogMode
  turn?: Side | null
  /** Restore from a snapshot (a resume on another process, or a page reload on the client). */
  state?: PeerState
  /** Every event, synchronously, in order. */
  onEvent: (event: PeerEvent) => void
  /**
   * Grant credit automatically as the application consumes messages (default true): after each
   * half of the last grant is received, grant that much again. Off: call `grant(n)` yourself.
   */
  autoCredit?: boolean
}

/**
 * One side of a live session. Implemented by `Peer` in `./peer.ts`.
 *
 * Lifecycle: construct (new or from `state`) -> `attach(peerLast, creditFromPeer, creditToPeer)`
 * after each handshake (the first one too: peerLast 0) -> receive / send / flush ... ->
 * `detach()` when the transport is lost -> `attach(...)` again on resume.
 */
export interface PeerContract {
  /**
   * A handshake completed: `peerLast` is the highest contiguous seq of our stream the peer has
   * (welcome.last for the client, hello.resume.last for the server); `creditFromPeer` is our
   * new send balance; `creditToPeer` what we granted in the handshake. Messages up to peerLast
   * count as acknowledged; the next flush starts with a gap for evicted messages after peerLast,
   * then replays the buffer after peerLast, then re-sends an unconfirmed `ckpt` of ours, then
   * (caller side) every pending call. Returns a violation when peerLast is beyond outSeq (4203).
   * `turn` (optional): the turn holder the handshake announced (`welcome.turn`; the client
   * passes it, the server's own view is authoritative); omitted or undefined keeps ours.
   */
  attach(
    peerLast: number,
    creditFromPeer: number,
    creditToPeer: number,
    turn?: Side | null,
  ): Violation | null
  /** The transport is gone: stop writing; everything unacknowledged stays for replay. */
  detach(): void
  /** Whether the peer is attached to a transport. */
  readonly attached: boolean

  /** Handles one frame of: msg ack gap ckpt ckpt_ok resync resync_ok turn_please turn_give credit call result error. */
  receive(frame: Frame): Violation | null

  /**
   * Sends an application message (queued when there is no credit or no transport). `json`, when
   * given, must be `JSON.stringify(data)` as computed just before (saves serialising it again).
   */
  send(data: JsonValue, json?: string): SendResult
  /** Calls a method on the peer; the answer arrives as a `result` event. Returns the call id. */
  call(
    method: string,
    params?: JsonValue,
  ):
    | { ok: true; id: string }
    | { ok: false; reason: 'too_many_calls' | 'not_your_turn' | 'resync_pending' }
  /** Answers an inbound call exactly once (a second answer for the same id is ignored). */
  answer(id: string, outcome: CallOutcome): void
  /**
   * Forgets an inbound call without answering it (its bookkeeping failed): when the peer sends
   * it again after a resume, it is handed to the application again, which decides (the gateway
   * asks its store, which knows whether it ran).
   */
  abandonCall(id: string): void
  /** Marks a checkpoint with an optional snapshot; confirmed by a `checkpoint_confirmed` event. */
  checkpoint(
    id: string,
    state?: JsonValue,
  ):
    | { ok: true }
    | { ok: false; reason: 'not_your_turn' | 'pending' | 'duplicate_id' | 'resync_pending' }
  /** Confirms the peer's checkpoint `id` (after a `checkpoint` event). */
  confirmCheckpoint(id: string): void
  /** Starts a resync; a `resynced` event follows. */
  resync(
    kind: ResyncKind,
    to: string,
    state?: JsonValue,
  ): { ok: true; n: number } | { ok: false; reason: 'unknown_checkpoint' | 'pending' }
  /** Confirms the peer's resync `n` once the application restored its state. */
  resyncDone(n: number): void
  /** Half duplex: ask for the turn / hand it over. */
  requestTurn(): boolean
  giveTurn(): boolean
  /** Grants the peer `n` more messages (when autoCredit is off, or to open the window wider). */
  grant(n: number): void

  /** Frames to write now, in order, and what to persist before writing them. */
  flush(): FlushResult
  /** A full snapshot (the client persists it; the server rebuilds from its store instead). */
  snapshot(): PeerState

  readonly mode: DialogMode
  readonly turn: Side | null
  /** Current send balance. */
  readonly credit: number
  /** Messages sent or queued and not yet acknowledged. */
  readonly unacked: number
  /** Calls made and not answered. */
  readonly pendingCalls: number
}

/** The close codes the engine produces, for reference: 4202, 4203, 4204, 4205, 4003. */
export type EngineCloseCode = Extract<CloseCode, 4003 | 4202 | 4203 | 4204 | 4205>
