/**
 * @module The contract of a live-session store: what a live session needs to survive a reconnect,
 * a restart, or a failover to another process (`store.live()` on every Parley store).
 *
 * A live session belongs to one Parley session (`sessionId`); ending that session ends its live
 * sessions with the same reason. Its durable state is the server side of the engine's
 * `PeerState`: the server's outbound replay buffer, the acks both ways, the turn, confirmed
 * checkpoints and RPC outcomes. The gateway commits an engine delta before it writes the frames
 * it produced, so what a client saw acknowledged is always in the store.
 *
 * Fencing: `gen` rises by one at every resume. A commit names the `gen` it was made under; a
 * commit under an older `gen` changes nothing and reports `false` (that connection was superseded,
 * perhaps on another process, and closes with 4104).
 *
 * Secrets: only the SHA-256 hash of the resume token is stored (SEC-48). Payloads are stored as
 * the application's JSON text.
 *
 * Token grace: a resume rotates the token before the client has received the `welcome` that
 * carries the new one. Until the gateway confirms the client holds it (a commit with
 * `confirmToken`), the record also keeps the hash that was current before that rotation
 * (`prevTokenHash`), and `resume()` accepts either. A token two rotations old never resumes.
 *
 * Expiry (SEC-48, "an ended session never validates again"): `resume()` never revives a record
 * whose expiresAt has passed, sweeper or not; it ends it in the same atomic step.
 */

import type { ActionContext, EndReason } from '../core/session.ts'
import type { BufferedMessage, CallOutcome, Checkpoint } from './engine/types.ts'
import type { DialogMode, GapReason, Side } from './protocol/frames.ts'

export type LiveState = 'open' | 'suspended' | 'ended'

/** A live session as stored. */
export interface LiveRecord {
  /** The live session id (`welcome.sid`): 128 bits from the CSPRNG, base64url. */
  id: string
  /** The Parley session it belongs to. */
  sessionId: string
  principal: string
  /** SHA-256 (base64url) of the current resume token; the token itself is never stored. */
  tokenHash: string
  /**
   * SHA-256 (base64url) of the token that was current before the last resume, while the client
   * has not been seen to hold the current one (null at creation and once a commit with
   * `confirmToken` applied). `resume()` accepts it as well as `tokenHash`.
   */
  prevTokenHash: string | null
  /** Fencing generation: 1 at creation, +1 at every successful resume. */
  gen: number
  mode: DialogMode
  /** Turn holder (half) or sending side (simplex); null in full duplex. */
  turn: Side | null
  state: LiveState
  createdAt: number
  /** When the transport was last lost (null while open). */
  suspendedAt: number | null
  /**
   * When the sweeper may end it with `resume_window_expired`: while suspended,
   * suspendedAt + resumeWindowMs; while open, a lease the owning process renews (so a process
   * killed with its sessions open still has them ended on time).
   */
  expiresAt: number
  endReason: EndReason | null
  endedAt: number | null
  /** Last seq the server assigned. */
  outSeq: number
  /** The client's cumulative ack of the server's stream. */
  outAcked: number
  /** Highest server seq evicted without the client's ack (0: none), and why. */
  outLostTo: number
  outLostReason: GapReason | null
  /** Highest contiguous client seq the server received. */
  inLast: number
}

/** One atomic, fenced write of an engine delta and of state changes. */
export interface LiveCommit {
  id: string
  gen: number
  /** New outbound messages (seq ascending, each > the stored outSeq). */
  append?: BufferedMessage[]
  outAcked?: number
  outLostTo?: number
  outLostReason?: GapReason | null
  inLast?: number
  turn?: Side | null
  /** Confirmed checkpoints to add (ids are unique per live session; adding one again is a no-op). */
  checkpoints?: Checkpoint[]
  /** Checkpoint ids to delete. */
  dropCheckpoints?: string[]
  /** State change: `suspended` sets suspendedAt = at; `open` clears it. */
  state?: 'open' | 'suspended'
  /** New expiresAt (lease renewal, or suspendedAt + resumeWindowMs). */
  expiresAt?: number
  /**
   * The client proved it holds the current token (it sent a frame after the `welcome` carrying
   * it): clears `prevTokenHash`, so the previous token no longer resumes.
   */
  confirmToken?: true
  at: number
}

/** The outcome of `resume()`. */
export type ResumeOutcome =
  /** The token matched: the record now has the new token hash, gen + 1, state open. */
  | { ok: true; record: LiveRecord }
  /**
   * Unknown id, or the token hash matches neither the current nor the (unconfirmed) previous
   * one (stale, foreign, reused): nothing changed, nothing revealed.
   */
  | { ok: false; reason: 'invalid' }
  /**
   * The token matched but the live session has ended (nothing changed), or its expiresAt had
   * passed: then this resume ended it, with `resume_window_expired` (SEC-48).
   */
  | { ok: false; reason: 'ended'; endReason: EndReason }

/** Exactly-once RPC: what a call id has become on this live session. */
export type CallClaim =
  /** Never seen: it is now recorded as running under this gen; run it, then `finishCall`. */
  | { state: 'new' }
  /** Seen, still running under `gen` (if that gen is older than the current one, it was interrupted by a failover). */
  | { state: 'running'; gen: number }
  /** Seen and answered: send this outcome again. */
  | { state: 'done'; outcome: CallOutcome }

export interface LiveStore {
  /**
   * Records a new live session (state open, gen 1; prevTokenHash is stored null whatever the
   * record says: a new token has nothing before it) and appends a `live.started` audit event.
   */
  create(record: LiveRecord, context: ActionContext): Promise<void>
  get(id: string): Promise<LiveRecord | null>
  /**
   * One atomic step, in this order:
   * 1. `tokenHash` is compared (constant time) with the stored `tokenHash` and, while it is set,
   *    `prevTokenHash`. Neither matches (or the id is unknown): `invalid`, nothing changed
   *    (SEC-48: the legitimate holder is not disturbed, nothing is revealed).
   * 2. Ended: `ended` with its reason, nothing changed.
   * 3. `expiresAt <= at` (window or lease run out, no sweeper came): the record is ended here as
   *    the sweeper would (reason `resume_window_expired`, endedAt = expiresAt, buffers,
   *    checkpoints and calls deleted, `live.ended` recorded with actor `system`), and the outcome
   *    is `ended` with `resume_window_expired`.
   * 4. Otherwise: stores `newTokenHash`, gen + 1, state open, suspendedAt null, expiresAt, and
   *    records `live.resumed`. A match on the current hash sets prevTokenHash to it (the client
   *    may not receive the new token); a match on prevTokenHash keeps it (the token it replaced
   *    was never confirmed, and is discarded).
   */
  resume(
    id: string,
    input: { tokenHash: string; newTokenHash: string; expiresAt: number; at: number },
  ): Promise<ResumeOutcome>
  /** Applies each commit atomically; returns, per commit, false when its gen is stale or the session ended. */
  commit(commits: LiveCommit[]): Promise<boolean[]>
  /** Stored outbound messages with seq > after, ascending, at most `limit`. */
  messages(id: string, after: number, limit: number): Promise<BufferedMessage[]>
  /** Confirmed checkpoints, oldest first. */
  checkpoints(id: string): Promise<Checkpoint[]>
  /** Claims a call id for execution (see CallClaim). Ids are kept until `until`. */
  claimCall(id: string, callId: string, gen: number, until: number): Promise<CallClaim>
  /** Records the outcome of a claimed call (kept until `until`). */
  finishCall(id: string, callId: string, outcome: CallOutcome, until: number): Promise<void>
  /**
   * Ends a live session once: state ended, the reason and time recorded, buffers, checkpoints and
   * calls deleted, a `live.ended` audit event appended. Returns the ended record, or null when it
   * was unknown or had already ended (the first reason stays).
   */
  end(id: string, reason: EndReason, context: ActionContext): Promise<LiveRecord | null>
  /** Live sessions of a Parley session that have not ended. */
  listBySession(sessionId: string): Promise<LiveRecord[]>
  /** Live sessions of a principal that have not ended (for the per-principal bound). */
  countByPrincipal(principal: string): Promise<number>
  /**
   * Ends (with `resume_window_expired`) up to `limit` live sessions whose expiresAt <= now and
   * returns them; also deletes expired call records and ended sessions older than `purgeBefore`.
   */
  sweep(now: number, limit: number, purgeBefore: number): Promise<LiveRecord[]>
}
