/**
 * @module Commit before write, with group commit: once per event-loop turn, every dirty live
 * session is flushed (`peer.flush()`), the deltas of all of them go to the store in ONE
 * `commit` call, and only then are the frames written. One cycle at a time, so frames are never
 * reordered; sessions marked during a cycle go into the next one.
 */

import type { Clock } from '../../core/clock.ts'
import type { LiveCommit, LiveStore } from '../live-store.ts'
import type { Frame } from '../protocol/index.ts'
import type { Connection } from './connection.ts'
import type { LiveSession } from './live-session.ts'

/** What the flusher reports back to the gateway. */
export interface FlushHost {
  readonly store: LiveStore
  readonly clock: Clock
  readonly resumeWindowMs: number
  /** The lease of an open session in the store (renewed past half of it). */
  readonly leaseMs: number
  /** The store refused a commit (stale gen or ended): another process holds it, or it ended. */
  superseded(live: LiveSession, conn: Connection | null): void
  /** The store failed: close with 4005 (resumable). */
  storeFailed(live: LiveSession, conn: Connection | null, err: unknown): void
  /** A `suspended` state change was committed. */
  suspended(live: LiveSession): void
}

interface Item {
  live: LiveSession
  conn: Connection | null
  gen: number
  frames: Frame[]
  commit: LiveCommit | null
}

/**
 * Batches dirty live sessions per event-loop turn (`setImmediate`).
 *
 * @example
 * flusher.mark(live) // after peer.receive / peer.send / peer.answer
 */
export class Flusher {
  readonly #host: FlushHost
  #dirty = new Set<LiveSession>()
  #scheduled = false
  #running: Promise<void> | null = null
  #idle: (() => void)[] = []
  /** Store round trips made (for tests and metrics). */
  commits = 0

  constructor(host: FlushHost) {
    this.#host = host
  }

  mark(live: LiveSession): void {
    this.#dirty.add(live)
    this.#schedule()
  }

  /** Resolves when the cycle running now (if any) has written its frames. */
  current(): Promise<void> {
    return this.#running ?? Promise.resolve()
  }

  /** Resolves once nothing is dirty and no cycle runs (sessions being resumed aside). */
  settle(): Promise<void> {
    if (this.#running === null && !this.#scheduled) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #schedule(): void {
    if (this.#scheduled || this.#running !== null) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#running = this.#cycle().finally(() => {
        this.#running = null
        if ([...this.#dirty].some((l) => !l.resuming)) this.#schedule()
        else {
          const idle = this.#idle
          this.#idle = []
          for (const f of idle) f()
        }
      })
    })
  }

  async #cycle(): Promise<void> {
    const now = this.#host.clock.now()
    const items: Item[] = []
    for (const live of this.#dirty) {
      if (live.resuming) continue // flushed again once the resume set the new gen
      this.#dirty.delete(live)
      if (live.state === 'ended') continue
      const { frames, delta } = live.peer.flush()
      const commit: LiveCommit = { id: live.id, gen: live.gen, at: now }
      let write = false
      if (delta.changed) {
        write = true
        commit.append = delta.appended
        commit.outAcked = delta.outAcked
        commit.outLostTo = delta.outLostTo
        commit.outLostReason = delta.outLostReason
        commit.inLast = delta.inLast
        commit.turn = delta.turn
        if (delta.checkpoints.length > 0) commit.checkpoints = delta.checkpoints
        if (delta.droppedCheckpoints.length > 0) commit.dropCheckpoints = delta.droppedCheckpoints
      }
      const window = this.#host.resumeWindowMs
      if (live.pendingState !== null) {
        write = true
        commit.state = live.pendingState
        commit.expiresAt = now + window
      } else if (live.state === 'open' && live.expiresAt - now < this.#host.leaseMs / 2) {
        write = true // renew the lease rarely: only past half of it
        commit.expiresAt = now + this.#host.leaseMs
      }
      items.push({ live, conn: live.conn, gen: live.gen, frames, commit: write ? commit : null })
    }
    const commits = items.flatMap((i) => (i.commit === null ? [] : [i.commit]))
    let results: boolean[] = []
    if (commits.length > 0) {
      try {
        this.commits++
        results = await this.#host.store.commit(commits)
      } catch (err) {
        for (const i of items) {
          if (i.commit !== null) this.#host.storeFailed(i.live, i.conn, err)
          else this.#write(i)
        }
        return
      }
    }
    let k = 0
    for (const i of items) {
      if (i.commit !== null) {
        const ok = results[k++] === true
        if (!ok) {
          if (i.live.gen === i.gen) this.#host.superseded(i.live, i.conn)
          continue
        }
        if (i.commit.expiresAt !== undefined) i.live.expiresAt = i.commit.expiresAt
        if (i.commit.state === 'suspended' && i.live.pendingState === 'suspended') {
          i.live.pendingState = null
          this.#host.suspended(i.live)
        }
      }
      this.#write(i)
    }
  }

  #write(i: Item): void {
    if (i.conn === null || i.live.conn !== i.conn || i.frames.length === 0) return
    i.conn.sendAll(i.frames)
  }
}
