/**
 * @module In-band credential refresh (protocol 8): when `welcome.exp` (or `refreshed.exp`) says
 * the credential expires, send `refresh` with a fresh `credential()` ahead of it; one at a time.
 */
import type { Cancel, LiveClock, LiveScheduler } from './live-scheduler.ts'

export interface RefreshOptions {
  clock: LiveClock
  scheduler: LiveScheduler
  credential: () => string | Promise<string>
  /** Sends `refresh`; false when there is no open connection (the next welcome plans again). */
  send: (cred: string) => boolean
  /** Refresh this long before expiry (less when the credential lives shorter). */
  leewayMs: number
}

/** Retry a failed `credential()` this much later at most. */
const RETRY_MS = 5_000

/**
 * @example
 * const refresh = new CredentialRefresh({ clock, scheduler, credential, send, leewayMs: 30_000 })
 * refresh.plan(welcome.exp) // and again with each refreshed.exp
 */
export class CredentialRefresh {
  readonly #o: RefreshOptions
  #cancel: Cancel | null = null
  #epoch = 0

  constructor(options: RefreshOptions) {
    this.#o = options
  }

  /** Plans the refresh before `exp` (epoch ms); none when `exp` is undefined. */
  plan(exp: number | undefined): void {
    this.stop()
    if (exp === undefined) return
    const left = exp - this.#o.clock.now()
    const delay = left > 2 * this.#o.leewayMs ? left - this.#o.leewayMs : Math.floor(left / 2)
    this.#at(delay, exp)
  }

  stop(): void {
    this.#epoch++
    this.#cancel?.()
    this.#cancel = null
  }

  #at(delay: number, exp: number): void {
    const epoch = this.#epoch
    this.#cancel = this.#o.scheduler.schedule(() => void this.#run(epoch, exp), delay)
  }

  async #run(epoch: number, exp: number): Promise<void> {
    this.#cancel = null
    let cred: string | null = null
    try {
      cred = await this.#o.credential()
    } catch {
      // try again while there is time; past expiry the server closes with 4102
    }
    if (epoch !== this.#epoch) return
    if (typeof cred === 'string' && cred !== '' && this.#o.send(cred)) return // `refreshed` plans the next
    const left = exp - this.#o.clock.now()
    if (left > 0) this.#at(Math.min(RETRY_MS, Math.floor(left / 2)), exp)
  }
}
