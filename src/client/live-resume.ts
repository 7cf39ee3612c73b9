/**
 * @module The resume info of the live client: `sid` and the next resume token, when the
 * transport was lost, and the resume window; written to the outbox with each engine snapshot.
 */
import type { PeerState } from '../live/engine/types.ts'
import type { WelcomeFrame } from '../live/protocol/frames.ts'
import type { Outbox, SavedLive } from './live-outbox.ts'
import type { LiveClock } from './live-scheduler.ts'

type Info = Omit<SavedLive, 'v' | 'last' | 'peer'>

/**
 * @example
 * const resume = new ResumeInfo(outbox, clock)
 * const peerState = resume.load() // non-null: a session to resume (a reload)
 */
export class ResumeInfo {
  readonly #outbox: Outbox
  readonly #clock: LiveClock
  #info: Info | null = null
  /** The session came from storage and has not been welcomed since. */
  restored = false

  constructor(outbox: Outbox, clock: LiveClock) {
    this.#outbox = outbox
    this.#clock = clock
  }

  /** The stored session's engine state, or null when there is none. */
  load(): PeerState | null {
    const saved = this.#outbox.read()
    if (saved === null) return null
    const { sid, token, resumeWindowMs, lostAt } = saved
    this.#info = { sid, token, resumeWindowMs, lostAt }
    this.restored = true
    return saved.peer
  }

  get active(): boolean {
    return this.#info !== null
  }

  get sid(): string | null {
    return this.#info?.sid ?? null
  }

  /** The `resume` member of a hello. */
  request(last: number): { sid: string; token: string; last: number } | null {
    const i = this.#info
    return i === null ? null : { sid: i.sid, token: i.token, last }
  }

  /** A welcome: keep the new token (persist it at once: the presented one is spent). */
  welcomed(w: WelcomeFrame, peer: PeerState): void {
    this.#info = { sid: w.sid, token: w.token, resumeWindowMs: w.resumeWindowMs, lostAt: null }
    this.restored = false
    this.save(peer)
  }

  /** The transport is lost: the window runs from the first loss of an outage. */
  lost(peer: PeerState): void {
    if (this.#info === null || this.#info.lostAt !== null) return
    this.#info.lostAt = this.#clock.now()
    this.save(peer)
  }

  /** Time left to resume in ms (Infinity while connected or with no session). */
  windowLeft(): number {
    const i = this.#info
    if (i === null || i.lostAt === null) return Number.POSITIVE_INFINITY
    return i.lostAt + i.resumeWindowMs - this.#clock.now()
  }

  save(peer: PeerState): void {
    if (this.#info !== null) this.#outbox.write({ v: 1, ...this.#info, last: peer.inLast, peer })
  }

  /** The session ended: forget it here and in storage. */
  clear(): void {
    this.#info = null
    this.restored = false
    this.#outbox.clear()
  }
}
