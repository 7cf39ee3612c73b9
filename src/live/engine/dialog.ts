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
    return this.may(this.peer) ? null : { code: OUT_OF_TURN, message: `${what} without the turn` }
  }

  /** `turn_please` from the peer: legal in half duplex from the side without the turn. */
  onPlease(): Violation | null {
    if (this.mode !== 'half') return outOfState('turn_please outside half duplex')
    if (this.turn === this.peer) return outOfState('turn_please from the holder of the turn')
    return null
  }

  /** `turn_give` from the peer: legal in half duplex from the holder; we hold the turn after. */
  onGive(): Violation | null {
    if (this.mode !== 'half') return outOfState('turn_give outside half duplex')
    if (this.turn !== this.peer) return { code: OUT_OF_TURN, message: 'turn_give without the turn' }
    this.turn = this.side
    return null
  }
}

/** A 4202 violation with `message`. */
export function outOfState(message: string): Violation {
  return { code: OUT_OF_STATE, message }
}
