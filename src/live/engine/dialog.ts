/** @module Dialog control (protocol section 10): who may originate msg, call and ckpt; the turn token. */

import { CLOSE_CODES } from '../protocol/close-codes.ts'
import type { DialogMode, Side } from '../protocol/frames.ts'
import type { Violation } from './types.ts'

const OUT_OF_STATE = CLOSE_CODES.frame_out_of_state.code
const OUT_OF_TURN = CLOSE_CODES.out_of_turn.code

/** The other side. */
export function otherSide(side: Side): Side {
  return side === 'client' ? 'server' : 'client'
}

/** The turn token of one session, seen from `side`. In full duplex `turn` is null. */
export class Dialog {
  readonly side: Side
  readonly peer: Side
  readonly mode: DialogMode
  turn: Side | null
  /**
   * We handed the turn over and the peer has not yet shown it knows (no msg, call, ckpt or
   * turn_give from it since): a `turn_please` it sent before our `turn_give` reached it may
   * still arrive, and is ignored rather than taken for one from the holder.
   */
  crossing = false

  constructor(side: Side, mode: DialogMode, turn: Side | null) {
    this.side = side
    this.peer = otherSide(side)
    this.mode = mode
    this.turn = mode === 'full' ? null : (turn ?? 'server')
  }

  /** Whether `who` may send msg, call and ckpt now (the holder in half, the sender in simplex). */
  may(who: Side): boolean {
    return this.mode === 'full' || this.turn === who
  }

  /** A violation when the peer may not originate now (4204), else null. */
  checkPeer(what: string): Violation | null {
    if (!this.may(this.peer)) return { code: OUT_OF_TURN, message: `${what} without the turn` }
    this.crossing = false
    return null
  }

  /** We hand the turn to the peer. */
  give(): void {
    this.turn = this.peer
    this.crossing = true
  }

  /**
   * `turn_please` from the peer: legal in half duplex from the side without the turn. One that
   * crossed our `turn_give` on the wire is `ignore`d (the peer could not know it had the turn).
   */
  onPlease(): Violation | null | 'ignore' {
    if (this.mode !== 'half') return outOfState('turn_please outside half duplex')
    if (this.turn === this.peer) {
      return this.crossing ? 'ignore' : outOfState('turn_please from the holder of the turn')
    }
    return null
  }

  /** `turn_give` from the peer: legal in half duplex from the holder; we hold the turn after. */
  onGive(): Violation | null {
    if (this.mode !== 'half') return outOfState('turn_give outside half duplex')
    if (this.turn !== this.peer) return { code: OUT_OF_TURN, message: 'turn_give without the turn' }
    this.turn = this.side
    this.crossing = false
    return null
  }
}

/** A 4202 violation with `message`. */
export function outOfState(message: string): Violation {
  return { code: OUT_OF_STATE, message }
}
