/** @module The live client's typed events: one interface per payload and the event map. */
import type { CallOutcome, Checkpoint, PendingCall } from '../live/engine/types.ts'
import type { GapReason, JsonValue, ResyncKind, Side } from '../live/protocol/frames.ts'

/** The states of a {@link LiveClient}. */
export type LiveState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closing' | 'ended'

export interface StateEvent {
  state: LiveState
}

/** A message from the server, in order, exactly once. */
export interface MessageEvent {
  seq: number
  data: JsonValue
}

/** Messages `from..to` of the server's stream are lost (they count as received). */
export interface GapEvent {
  from: number
  to: number
  reason: GapReason
}

/** A message that reached us while our resync was pending: acknowledged, not delivered. */
export interface PurgedEvent {
  seq: number
}

/** The server marked a checkpoint; it is confirmed after the listeners ran (unless manual). */
export interface CheckpointEvent {
  id: string
  state: JsonValue | undefined
}

export interface CheckpointConfirmedEvent {
  checkpoint: Checkpoint
}

/** The server resynchronises; restore `state` (or the checkpoint's), it is confirmed after the listeners ran (unless manual). */
export interface ResyncEvent {
  n: number
  kind: ResyncKind
  to: string
  state: JsonValue | undefined
  checkpoint: Checkpoint | null
}

export interface ResyncedEvent {
  n: number
}

/** Half duplex: the turn holder changed. */
export interface TurnEvent {
  holder: Side
}

/** The server calls a method of ours (answered by the `handle()` handler). */
export interface CallEvent {
  id: string
  method: string
  params: JsonValue | undefined
}

/** The answer to a call made before a page reload (no promise waits for it any more). */
export interface ResultEvent {
  id: string
  outcome: CallOutcome
}

/** A new session is open (its first `welcome`). */
export interface OpenEvent {
  sid: string
}

/** A suspended session is open again: `replayedOut` messages of ours are re-sent. */
export interface ResumedEvent {
  sid: string
  /** Our messages re-sent on this connection (the server had not received them). */
  replayedOut: number
  /** The highest server seq we had received when we resumed: what the server replays follows it. */
  replayedInAfter: number
  /** Whether the resumed state came from storage (a reload) rather than memory. */
  restored: boolean
}

/** Sent messages and calls of an ended session that the server never acknowledged or answered. */
export interface LostEvent {
  sid: string | null
  /** Outbound seqs never acknowledged (in the server's hands or not, we cannot know). */
  seqs: number[]
  /** Calls with no answer (their promises, when there are any, reject with session_ended). */
  calls: PendingCall[]
}

/** The session ended. `reason`: the bye reason, the close code's name, or `resume_window_expired`. */
export interface EndedEvent {
  sid: string | null
  reason: string
  /** The WebSocket close code, when a close ended it. */
  code: number | null
}

export interface LiveEvents {
  state: StateEvent
  open: OpenEvent
  message: MessageEvent
  gap: GapEvent
  purged: PurgedEvent
  checkpoint: CheckpointEvent
  checkpoint_confirmed: CheckpointConfirmedEvent
  resync: ResyncEvent
  resynced: ResyncedEvent
  turn: TurnEvent
  turn_requested: Record<string, never>
  call: CallEvent
  result: ResultEvent
  drain: Record<string, never>
  resumed: ResumedEvent
  lost: LostEvent
  ended: EndedEvent
}
