/**
 * @module The liveness watchdog of the live client: no frame from the server within the timeout
 * (2 × `heartbeatMs` once open; the connect timeout before) means the transport is dead.
 */
import type { Cancel, LiveClock, LiveScheduler } from './live-scheduler.ts'

/** The time allowed between two frames from the server: twice the ping interval (protocol 7). */
export function heartbeatTimeout(heartbeatMs: number): number {
  return 2 * heartbeatMs
}

export interface WatchdogOptions {
  clock: LiveClock
  scheduler: LiveScheduler
  /** Called once when the timeout passes without `seen()`. */
  onDead: () => void
}

/**
 * One timer per connection, re-armed lazily: `seen()` only records the time, and the timer, when
 * it fires early, waits for the rest. So a busy stream costs no timer churn.
 *
 * @example
 * const dog = new Watchdog({ clock, scheduler, onDead: () => connection.close(4001) })
 * dog.arm(heartbeatTimeout(welcome.heartbeatMs)); socket.onmessage = () => dog.seen()
 */
export class Watchdog {
  readonly #o: WatchdogOptions
  #timeoutMs = 0
  #lastSeen = 0
  #cancel: Cancel | null = null

  constructor(options: WatchdogOptions) {
    this.#o = options
  }

  /** Whether the watchdog is running. */
  get armed(): boolean {
    return this.#cancel !== null
  }

  /** (Re)starts the watch with `timeoutMs`, counting from now. */
  arm(timeoutMs: number): void {
    this.stop()
    this.#timeoutMs = timeoutMs
    this.#lastSeen = this.#o.clock.now()
    this.#wait(timeoutMs)
  }

  /** A frame arrived. */
  seen(): void {
    this.#lastSeen = this.#o.clock.now()
  }

  stop(): void {
    this.#cancel?.()
    this.#cancel = null
  }

  #wait(ms: number): void {
    this.#cancel = this.#o.scheduler.schedule(() => this.#check(), ms)
  }

  #check(): void {
    const quiet = this.#o.clock.now() - this.#lastSeen
    if (quiet < this.#timeoutMs) {
      this.#wait(this.#timeoutMs - quiet)
      return
    }
    this.#cancel = null
    this.#o.onDead()
  }
}
