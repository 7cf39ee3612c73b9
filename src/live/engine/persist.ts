/** @module What the engine persists: the per-flush delta (server store) and the full snapshot. */

import type { Side } from '../protocol/frames.ts'
import type { Checkpoints } from './checkpoints.ts'
import type { Dialog } from './dialog.ts'
import { none } from './empty.ts'
import type { Inbound } from './inbound.ts'
import type { Outbound } from './outbound.ts'
import type { Rpc } from './rpc.ts'
import type { PeerDelta, PeerState } from './types.ts'

/** The modules one Peer is made of. */
export interface Parts {
  dialog: Dialog
  out: Outbound
  in: Inbound
  ck: Checkpoints
  rpc: Rpc
}

/**
 * Computes what changed since the previous flush. The modules and the values as of the previous
 * flush are kept in fields of its own (no object per flush, nor a second one per session).
 */
export class DeltaTracker {
  readonly #dialog: Dialog
  readonly #out: Outbound
  readonly #in: Inbound
  readonly #ck: Checkpoints
  readonly #rpc: Rpc
  #acked: number
  #lostTo: number
  #inLast: number
  #turn: Side | null
  #nextResync: number

  constructor(parts: Parts) {
    this.#dialog = parts.dialog
    this.#out = parts.out
    this.#in = parts.in
    this.#ck = parts.ck
    this.#rpc = parts.rpc
    this.#acked = parts.out.acked
    this.#lostTo = parts.out.lostTo
    this.#inLast = parts.in.last
    this.#turn = parts.dialog.turn
    this.#nextResync = parts.ck.nextResync
  }

  /** The modules of the Peer (what `snapshotOf` reads). */
  get parts(): Parts {
    return { dialog: this.#dialog, out: this.#out, in: this.#in, ck: this.#ck, rpc: this.#rpc }
  }

  /** The delta since the previous call; resets the bookkeeping. */
  delta(): PeerDelta {
    const out = this.#out
    const ck = this.#ck
    const rpc = this.#rpc
    const acked = out.acked
    const lostTo = out.lostTo
    const inLast = this.#in.last
    const turn = this.#dialog.turn
    const nextResync = ck.nextResync
    const delta: PeerDelta = {
      appended: out.appended,
      outAcked: acked,
      outLostTo: lostTo,
      outLostReason: out.lostReason,
      inLast,
      turn,
      checkpoints: ck.fresh,
      droppedCheckpoints: ck.dropped,
      changed: false,
    }
    let changed =
      delta.appended.length > 0 ||
      delta.checkpoints.length > 0 ||
      delta.droppedCheckpoints.length > 0 ||
      acked !== this.#acked ||
      lostTo !== this.#lostTo ||
      inLast !== this.#inLast ||
      turn !== this.#turn
    // The engine starts new lists (the shared empty one until something is added): the
    // delta's lists are its own.
    out.appended = none()
    ck.fresh = none()
    ck.dropped = none()
    if (rpc.dirty) {
      rpc.dirty = false
      delta.pendingCalls = rpc.pendingList()
      delta.nextCallId = rpc.nextId
      changed = true
    }
    if (nextResync !== this.#nextResync) {
      delta.nextResync = nextResync
      changed = true
    }
    delta.changed = changed
    this.#acked = acked
    this.#lostTo = lostTo
    this.#inLast = inLast
    this.#turn = turn
    this.#nextResync = nextResync
    return delta
  }
}

/** A JSON-serialisable snapshot that `new Peer({ state })` restores exactly. */
export function snapshotOf(p: Parts, now: number): PeerState {
  const o = p.out
  return {
    side: p.dialog.side,
    mode: p.dialog.mode,
    turn: p.dialog.turn,
    outSeq: o.seq,
    outAcked: o.acked,
    outLostTo: o.lostTo,
    outLostReason: o.lostReason,
    outBuffer: o.buffer().map((m) => ({ seq: m.seq, json: m.json, bytes: m.bytes, at: m.at })),
    inLast: p.in.last,
    checkpoints: p.ck.list.map((c) => ({ ...c })),
    pendingCalls: p.rpc.pendingList(),
    nextCallId: p.rpc.nextId,
    nextResync: p.ck.nextResync,
    outcomes: p.rpc.outcomes(now),
  }
}
