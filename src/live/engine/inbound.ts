/** @module The peer's stream as we receive it: expected seq, cumulative ack, gaps, credit we grant. */

import { CLOSE_CODES } from '../protocol/close-codes.ts'
import type { GapFrame, MsgFrame } from '../protocol/frames.ts'
import type { PeerState, Violation } from './types.ts'

const SEQUENCE_ERROR = CLOSE_CODES.sequence_error.code
const OVER_CREDIT = CLOSE_CODES.over_credit.code

/**
 * Receive side bookkeeping. `last` is the highest contiguous seq received (a gap counts),
 * `ackSent` what the peer last heard from us, `credit` the peer's balance as we granted it.
 */
export class Inbound {
  last = 0
  ackSent = 0
  credit = 0
  /** Credit granted and not yet written in a `credit` frame. */
  grantPending = 0
  #lastGrant = 0
  #consumed = 0
  readonly #auto: boolean
  readonly maxCredit: number

  constructor(maxCredit: number, auto: boolean, state?: PeerState) {
    this.maxCredit = maxCredit
    this.#auto = auto
    if (state) {
      this.last = state.inLast
      this.ackSent = state.inLast
    }
  }

  /** A new connection: the handshake told the peer `last`; `credit` is what we granted in it. */
  attach(credit: number): void {
    this.ackSent = this.last
    this.credit = credit
    this.#lastGrant = credit
    this.#consumed = 0
    this.grantPending = 0
  }

  /** Checks and counts one `msg`; null when it is the next one and within credit. */
  onMsg(frame: MsgFrame): Violation | null {
    if (frame.seq !== this.last + 1) {
      return { code: SEQUENCE_ERROR, message: `msg seq ${frame.seq}, expected ${this.last + 1}` }
    }
    if (this.credit <= 0) return { code: OVER_CREDIT, message: 'msg without credit' }
    this.credit--
    this.last = frame.seq
    if (this.#auto && ++this.#consumed >= Math.max(1, this.#lastGrant >> 1)) {
      this.grant(this.#consumed)
      this.#consumed = 0
    }
    return null
  }

  /** Checks one `gap`: it must start at the next expected seq. */
  onGap(frame: GapFrame): Violation | null {
    if (frame.from !== this.last + 1) {
      return { code: SEQUENCE_ERROR, message: `gap from ${frame.from}, expected ${this.last + 1}` }
    }
    this.last = frame.to
    return null
  }

  /** Grants up to `n` more messages, never raising the peer's balance over maxCredit. */
  grant(n: number): number {
    const room = this.maxCredit - this.credit
    const give = Math.min(Math.floor(n), room)
    if (give <= 0) return 0
    this.credit += give
    this.grantPending += give
    return give
  }

  /** Sets the size of the auto-credit window (a manual grant opens it wider). */
  setWindow(n: number): void {
    if (n > this.#lastGrant) this.#lastGrant = n
  }

  /** The ack to piggy-back now, if it advanced since the peer last heard one. */
  takeAck(): number | undefined {
    if (this.last <= this.ackSent) return undefined
    this.ackSent = this.last
    return this.last
  }
}
