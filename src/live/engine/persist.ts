/** @module What the engine persists: the per-flush delta (server store) and the full snapshot. */

import type { Side } from '../protocol/frames.ts'
import type { Checkpoints } from './checkpoints.ts'
import type { Dialog } from './dialog.ts'
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

/** Delta values as of the previous flush. */
interface Persisted {
  acked: number
  lostTo: number
  inLast: number
  turn: Side | null
  nextResync: number
}

function current(p: Parts): Persisted {
  return {
    acked: p.out.acked,
    lostTo: p.out.lostTo,
    inLast: p.in.last,
    turn: p.dialog.turn,
    nextResync: p.ck.nextResync,
  }
}

/** Computes what changed since the previous flush. */
export class DeltaTracker {
  readonly #p: Parts
  #prev: Persisted

  constructor(parts: Parts) {
    this.#p = parts
    this.#prev = current(parts)
  }

  /** The delta since the previous call; resets the bookkeeping. */
  delta(): PeerDelta {
    const { out, ck, rpc } = this.#p
    const prev = this.#prev
    const now = current(this.#p)
    const delta: PeerDelta = {
      appended: out.appended,
      outAcked: now.acked,
      outLostTo: now.lostTo,
      outLostReason: out.lostReason,
      inLast: now.inLast,
      turn: now.turn,
      checkpoints: ck.fresh,
      droppedCheckpoints: ck.dropped,
      changed: false,
    }
    let changed =
      delta.appended.length > 0 ||
      delta.checkpoints.length > 0 ||
      delta.droppedCheckpoints.length > 0 ||
      now.acked !== prev.acked ||
      now.lostTo !== prev.lostTo ||
      now.inLast !== prev.inLast ||
      now.turn !== prev.turn
    out.appended = []
    ck.fresh = []
    ck.dropped = []
    if (rpc.dirty) {
      rpc.dirty = false
      delta.pendingCalls = rpc.pendingList()
      delta.nextCallId = rpc.nextId
      changed = true
    }
    if (now.nextResync !== prev.nextResync) {
      delta.nextResync = now.nextResync
      changed = true
    }
    delta.changed = changed
    this.#prev = now
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
