/** @module Our outbound stream: seq assignment, the replay buffer and its bounds, credit, the queue. */

import type { Clock } from '../../core/clock.ts'
import { withPayloadJson } from '../protocol/codec.ts'
import type { Frame, GapReason, JsonValue, MsgFrame } from '../protocol/frames.ts'
import { utf8Length } from '../protocol/payload.ts'
import { isNone, none } from './empty.ts'
import type { BufferedMessage, PeerLimits, PeerState, SlowConsumerPolicy } from './types.ts'

/** Payload slot of a buffered message restored from a snapshot: parsed lazily when written. */
const UNPARSED: unique symbol = Symbol('unparsed')
type Slot = JsonValue | typeof UNPARSED

/** What `enqueue()` returns: a seq, or why the message was refused. */
export type EnqueueResult = number | 'queue_full' | 'disconnect'

/** Where `pump()` gets the ack to piggy-back on each msg (undefined: nothing new to ack). */
export interface AckSource {
  takeAck(): number | undefined
}

/**
 * Whether `rec.json` (JSON.stringify of the payload at enqueue) is also exactly what encoding the
 * payload as a frame's `data` writes, so the encoder may splice it in: not for a payload JSON
 * leaves out (undefined, a function) nor one whose own `toJSON` would be told another key.
 */
function spliceable(data: unknown): boolean {
  if (data === null) return true
  switch (typeof data) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return false
    case 'object':
      return typeof (data as { toJSON?: unknown }).toJSON !== 'function'
    default:
      return true
  }
}

/** Compaction threshold for the head-indexed arrays (amortised O(1) removal at the head). */
const COMPACT_AT = 1024

/**
 * Two head-indexed arrays: `sent` holds messages written at least once (or restored, which may
 * have been), `queue` messages never written yet. Seqs ascend across both; a seq missing between
 * entries is a range dropped under `drop-oldest` (replayed as a `slow_consumer` gap).
 */
export class Outbound {
  seq = 0
  acked = 0
  lostTo = 0
  lostReason: GapReason | null = null
  credit = 0
  /** Highest seq ever put on the wire (msg or gap), on any connection. */
  everSent = 0
  /** Set when send() had to queue: the next credit grant emits `drain`. */
  wantDrain = false
  /** Messages enqueued since the last flush (the shared empty list until the first). */
  appended: BufferedMessage[] = none()

  // The four lists start as the shared empty list (an idle session never allocates them):
  // `#lists()` replaces them before the first message is added.
  #sent: BufferedMessage[] = none()
  #sentVal: Slot[] = none()
  #sHead = 0
  #queue: BufferedMessage[] = none()
  #queueVal: Slot[] = none()
  #qHead = 0
  /** Next index of `#sent` to (re)write on this connection. */
  #cur = 0
  /** Next seq this connection expects us to write. */
  #wnext = 1
  #bytes = 0
  readonly #limits: PeerLimits
  readonly #clock: Clock

  constructor(limits: PeerLimits, clock: Clock, state?: PeerState) {
    this.#limits = limits
    this.#clock = clock
    if (!state) return
    this.seq = state.outSeq
    this.acked = state.outAcked
    this.lostTo = state.outLostTo
    this.lostReason = state.outLostReason
    this.everSent = state.outSeq
    if (state.outBuffer.length > 0) this.#lists()
    for (const m of state.outBuffer) {
      if (m.seq <= Math.max(state.outAcked, state.outLostTo)) continue
      this.#sent.push({ seq: m.seq, json: m.json, bytes: m.bytes, at: m.at })
      this.#sentVal.push(UNPARSED)
      this.#bytes += m.bytes
    }
  }

  /** Messages sent or queued and not acknowledged (nor evicted, nor dropped). */
  get count(): number {
    return this.#sent.length - this.#sHead + this.queued
  }
  /** Messages never written yet. */
  get queued(): number {
    return this.#queue.length - this.#qHead
  }
  /** Highest seq the peer may acknowledge. */
  get ackable(): number {
    return this.everSent
  }

  /**
   * Messages that wait for credit: never written ones (and, on a connection, replays still owed)
   * beyond the credit at hand. Messages the next flush will write anyway do not count, so a burst
   * of sends within one turn of the event loop never trips the slow-consumer policy by itself.
   */
  waiting(attached: boolean): number {
    if (!attached) return this.queued
    const replays = this.#sent.length - Math.max(this.#cur, this.#sHead)
    return Math.max(0, this.queued + replays - this.credit)
  }

  /**
   * Assigns the next seq to `data` and buffers it, applying the slow-consumer policy. `json`, when
   * given, is `JSON.stringify(data)` computed by the caller just before (not computed again).
   */
  enqueue(
    data: JsonValue,
    policy: SlowConsumerPolicy,
    attached = false,
    json?: string,
  ): EnqueueResult {
    if (this.waiting(attached) >= this.#limits.maxQueued) {
      if (policy === 'wait') return 'queue_full'
      if (policy === 'disconnect') return 'disconnect'
      if (this.queued > 0) this.#dropOldest()
    }
    if (json === undefined) json = JSON.stringify(data) ?? 'null'
    const bytes = utf8Length(json)
    // Under `wait` and `disconnect` a full replay buffer is backpressure, never loss: the count
    // and byte bounds refuse the new message instead of evicting unacknowledged ones (only
    // `drop-oldest` trades old messages for new ones, and says so with a gap).
    if (policy !== 'drop-oldest' && this.count > 0) {
      const lim = this.#limits
      if (this.count >= lim.replayMaxCount || this.#bytes + bytes > lim.replayMaxBytes)
        return policy === 'wait' ? 'queue_full' : 'disconnect'
    }
    const rec: BufferedMessage = { seq: ++this.seq, json, bytes, at: this.#clock.now() }
    if (isNone(this.#queue)) this.#lists()
    if (isNone(this.appended)) this.appended = []
    this.#queue.push(rec)
    this.#queueVal.push(data)
    this.#bytes += bytes
    this.appended.push(rec)
    this.evict()
    return rec.seq
  }

  /** Evicts the oldest messages while a replay bound (count, bytes, age) is crossed. */
  evict(): void {
    const lim = this.#limits
    while (this.count > lim.replayMaxCount) this.#evictHead('buffer_count')
    while (this.#bytes > lim.replayMaxBytes && this.count > 0) this.#evictHead('buffer_bytes')
    const oldest = this.#clock.now() - lim.replayMaxAgeMs
    for (let head = this.#peekHead(); head && head.at < oldest; head = this.#peekHead()) {
      this.#evictHead('buffer_age')
    }
  }

  /** The peer acknowledged up to `n` (already validated). Returns whether the ack advanced. */
  ack(n: number): boolean {
    if (n <= this.acked) return false
    this.acked = n
    while (this.#sHead < this.#sent.length && this.#sent[this.#sHead]!.seq <= n) {
      this.#bytes -= this.#sent[this.#sHead]!.bytes
      this.#sent[this.#sHead] = undefined as never
      this.#sentVal[this.#sHead++] = null
    }
    while (this.#qHead < this.#queue.length && this.#queue[this.#qHead]!.seq <= n) {
      this.#bytes -= this.#queue[this.#qHead]!.bytes
      this.#queue[this.#qHead] = undefined as never
      this.#queueVal[this.#qHead++] = null
    }
    this.#compact()
    return true
  }

  /** A new connection: the peer has everything up to `peerLast`; rewrite the rest. */
  attach(peerLast: number, credit: number): void {
    if (peerLast < this.acked && this.lostTo < this.acked) {
      // The peer lost what it had acknowledged (it restarted from an older state): say so.
      this.lostTo = this.acked
      this.lostReason = 'store_lost'
    }
    this.ack(peerLast)
    this.credit = credit
    this.#cur = this.#sHead
    this.#wnext = peerLast + 1
  }

  /**
   * Writes what the stream owes the peer, in order: a gap for evicted or dropped messages, then
   * messages while credit lasts. The ack source is read once per written msg to piggy-back an advanced ack.
   */
  pump(out: Frame[], acks: AckSource): void {
    if (this.#cur < this.#sHead) this.#cur = this.#sHead
    for (;;) {
      if (this.lostTo >= this.#wnext) {
        out.push({ t: 'gap', from: this.#wnext, to: this.lostTo, reason: this.lostReason! })
        this.#wnext = this.lostTo + 1
      }
      let rec: BufferedMessage
      let fromQueue = false
      if (this.#cur < this.#sent.length) {
        rec = this.#sent[this.#cur]!
        if (rec.seq < this.#wnext) {
          this.#cur++
          continue
        }
      } else if (this.#qHead < this.#queue.length) {
        rec = this.#queue[this.#qHead]!
        fromQueue = true
      } else {
        if (this.seq >= this.#wnext) this.#gap(out, this.seq)
        break
      }
      if (rec.seq > this.#wnext) this.#gap(out, rec.seq - 1)
      if (this.credit <= 0) break
      this.credit--
      let data: Slot
      let exact = true
      if (fromQueue) {
        data = this.#queueVal[this.#qHead]!
        this.#queue[this.#qHead] = undefined as never
        this.#queueVal[this.#qHead++] = null
        this.#sent.push(rec)
        this.#sentVal.push(data as JsonValue)
        this.#cur = this.#sent.length
      } else {
        data = this.#sentVal[this.#cur++]!
        if (data === UNPARSED) {
          // Restored from a store, which may have reformatted the text: encoded afresh.
          data = JSON.parse(rec.json) as JsonValue
          exact = false
        }
      }
      const ack = acks.takeAck()
      const msg: MsgFrame =
        ack === undefined
          ? { t: 'msg', seq: rec.seq, data: data as JsonValue }
          : { t: 'msg', seq: rec.seq, ack, data: data as JsonValue }
      out.push(exact && spliceable(data) ? withPayloadJson(msg, rec.json) : msg)
      this.#wnext = rec.seq + 1
    }
    if (this.#wnext - 1 > this.everSent) this.everSent = this.#wnext - 1
    this.#compact()
  }

  /** Highest seq written (msg or gap) on this connection. */
  get written(): number {
    return this.#wnext - 1
  }

  /** The unacknowledged buffer, ascending, as plain records (for snapshots). */
  buffer(): BufferedMessage[] {
    const out: BufferedMessage[] = []
    for (let i = this.#sHead; i < this.#sent.length; i++) out.push(this.#sent[i]!)
    for (let i = this.#qHead; i < this.#queue.length; i++) out.push(this.#queue[i]!)
    return out
  }

  /** Replaces the shared empty lists by lists of this stream's own (before the first message). */
  #lists(): void {
    if (isNone(this.#queue)) {
      this.#queue = []
      this.#queueVal = []
    }
    if (isNone(this.#sent)) {
      this.#sent = []
      this.#sentVal = []
    }
  }

  #gap(out: Frame[], to: number): void {
    out.push({ t: 'gap', from: this.#wnext, to, reason: 'slow_consumer' })
    this.#wnext = to + 1
  }

  #peekHead(): BufferedMessage | undefined {
    return this.#sHead < this.#sent.length ? this.#sent[this.#sHead] : this.#queue[this.#qHead]
  }

  #evictHead(reason: GapReason): void {
    let rec: BufferedMessage
    if (this.#sHead < this.#sent.length) {
      rec = this.#sent[this.#sHead]!
      this.#sent[this.#sHead] = undefined as never
      this.#sentVal[this.#sHead++] = null
    } else {
      rec = this.#queue[this.#qHead]!
      this.#queue[this.#qHead] = undefined as never
      this.#queueVal[this.#qHead++] = null
    }
    this.#bytes -= rec.bytes
    this.lostTo = rec.seq
    this.lostReason = reason
  }

  /** drop-oldest: the oldest never-written message leaves; the seq hole becomes a gap. */
  #dropOldest(): void {
    this.#bytes -= this.#queue[this.#qHead]!.bytes
    this.#queue[this.#qHead] = undefined as never
    this.#queueVal[this.#qHead++] = null
  }

  #compact(): void {
    if (this.#sHead >= COMPACT_AT && this.#sHead * 2 >= this.#sent.length) {
      this.#sent = this.#sent.slice(this.#sHead)
      this.#sentVal = this.#sentVal.slice(this.#sHead)
      this.#cur -= this.#sHead
      this.#sHead = 0
    }
    if (this.#cur < this.#sHead) this.#cur = this.#sHead
    if (this.#qHead >= COMPACT_AT && this.#qHead * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#qHead)
      this.#queueVal = this.#queueVal.slice(this.#qHead)
      this.#qHead = 0
    }
  }
}
