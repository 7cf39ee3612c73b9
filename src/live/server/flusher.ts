/**
 * @module Commit before write, with group commit: once per event-loop turn, every dirty live
 * session is flushed (`peer.flush()`), the deltas of all of them go to the store in ONE
 * `commit` call, and only then are the frames written. One cycle at a time, so frames are never
 * reordered; sessions marked during a cycle go into the next one.
 */

import type { Clock } from '../../core/clock.ts'
import type { PeerDelta } from '../engine/types.ts'
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
  /** Callbacks waiting for this flush to be durable. */
  after: (() => void)[]
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
  /** The sessions of the cycle running now. */
  #inCycle = new Set<LiveSession>()
  #scheduled = false
  #running: Promise<void> | null = null
  #idle: (() => void)[] = []

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

  /**
   * Resolves once `live` has nothing left to flush: it is not waiting for a cycle and the cycle
   * holding it has written its frames. Other sessions' traffic never delays it (SEC-50).
   */
  async flushed(live: LiveSession): Promise<void> {
    // Bounded: a session marked again by its own traffic at every cycle is not waited for forever.
    for (let i = 0; i < 64; i++) {
      if (!this.#dirty.has(live) && !this.#inCycle.has(live)) return
      await (this.#running ?? new Promise<void>((resolve) => setImmediate(resolve)))
    }
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
        this.#inCycle.clear()
        if (this.#anyReady()) this.#schedule()
        else {
          const idle = this.#idle
          this.#idle = []
          for (const f of idle) f()
        }
      })
    })
  }

  /** Whether a dirty session waits for a cycle (sessions being resumed aside). */
  #anyReady(): boolean {
    for (const live of this.#dirty) if (!live.resuming) return true
    return false
  }

  async #cycle(): Promise<void> {
    const now = this.#host.clock.now()
    const items: Item[] = []
    const commits: LiveCommit[] = []
    for (const live of this.#dirty) {
      if (live.resuming) continue // flushed again once the resume set the new gen
      this.#dirty.delete(live)
      if (live.state === 'ended') continue
      this.#inCycle.add(live)
      const { frames, delta } = live.peer.flush()
      const after = live.takeAfterCommit()
      const commit = this.#commitOf(live, delta, now)
      if (commit !== null) commits.push(commit)
      items.push({ live, conn: live.conn, gen: live.gen, frames, commit, after })
    }
    let results: boolean[] = []
    if (commits.length > 0) {
      try {
        results = await this.#host.store.commit(commits)
      } catch (err) {
        for (const i of items) {
          if (i.commit !== null) {
            i.live.putBackAfterCommit(i.after) // not durable yet: wait for a later commit
            i.live.unsaved = i.commit // written again with the next commit: no hole in the store
            this.#host.storeFailed(i.live, i.conn, err)
          } else this.#write(i)
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
        if (i.commit.confirmToken === true) i.live.confirmToken = false
        if (i.commit.state === 'suspended' && i.live.pendingState === 'suspended') {
          i.live.pendingState = null
          this.#host.suspended(i.live)
        }
      }
      this.#write(i)
    }
  }

  /** The store write of one flush, or null when nothing needs writing. */
  #commitOf(live: LiveSession, delta: PeerDelta, now: number): LiveCommit | null {
    const unsaved = live.unsaved
    live.unsaved = null
    let commit: LiveCommit
    if (unsaved === null) commit = { id: live.id, gen: live.gen, at: now }
    else {
      // Its state and lease are derived afresh below; the rest is carried over.
      const { state: _state, expiresAt: _expires, ...carried } = unsaved
      commit = { ...carried, id: live.id, gen: live.gen, at: now }
    }
    let write = unsaved !== null
    if (delta.changed) {
      write = true
      // What a failed commit left unsaved goes first (appends, checkpoints and drops in order).
      // The delta's arrays are its own (the engine starts new ones): used as they are.
      commit.append = unsaved?.append ? [...unsaved.append, ...delta.appended] : delta.appended
      commit.outAcked = delta.outAcked
      commit.outLostTo = delta.outLostTo
      commit.outLostReason = delta.outLostReason
      commit.inLast = delta.inLast
      commit.turn = delta.turn
      const checkpoints = unsaved?.checkpoints
        ? [...unsaved.checkpoints, ...delta.checkpoints]
        : delta.checkpoints
      if (checkpoints.length > 0) commit.checkpoints = checkpoints
      const drops = unsaved?.dropCheckpoints
        ? [...unsaved.dropCheckpoints, ...delta.droppedCheckpoints]
        : delta.droppedCheckpoints
      if (drops.length > 0) commit.dropCheckpoints = drops
    }
    if (live.confirmToken) {
      write = true
      commit.confirmToken = true
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
    return write ? commit : null
  }

  /**
   * Flushes one session now, outside the group cycle, and commits before returning the frames
   * (a resume: the welcome and the replay are written only once what they acknowledge is
   * durable). The caller holds the session out of the cycles (`resuming`) meanwhile.
   */
  async flushOne(live: LiveSession): Promise<Frame[] | 'superseded'> {
    const now = this.#host.clock.now()
    const { frames, delta } = live.peer.flush()
    const after = live.takeAfterCommit()
    const commit = this.#commitOf(live, delta, now)
    if (commit !== null) {
      try {
        const [ok] = await this.#host.store.commit([commit])
        if (ok !== true) {
          this.#host.superseded(live, null)
          return 'superseded'
        }
      } catch (err) {
        live.putBackAfterCommit(after)
        live.unsaved = commit
        throw err
      }
      if (commit.expiresAt !== undefined) live.expiresAt = commit.expiresAt
      if (commit.confirmToken === true) live.confirmToken = false
    }
    for (const fn of after) fn()
    return frames
  }

  #write(i: Item): void {
    for (const fn of i.after) fn()
    if (i.conn === null || i.live.conn !== i.conn || i.frames.length === 0) return
    i.conn.sendAll(i.frames)
  }
}
