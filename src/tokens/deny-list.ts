/**
 * @module DenyList: the ids of recently ended sessions, so that their access tokens fail at every
 * verifier before they expire (SEC-41). Fed by a poll of the store's ended-session feed, by the
 * store's push feed when it has one, and directly by the process that ends a session.
 *
 * Propagation bound: without a push feed, a session ended anywhere is refused here within `pollMs`
 * plus one store round trip; with one (Redis), within the notification delay plus one round trip.
 * In no case later than `maxStalenessMs`: a verifier whose list is older than that re-reads the feed
 * before answering, and answers ERR_STORE_UNAVAILABLE (fail closed, SEC-56) when it cannot.
 */
import type { StoreChange } from '../core/cache.ts'
import { type Clock, systemClock } from '../core/clock.ts'
import { ParleyError } from '../core/errors.ts'
import type { EndReason } from '../core/session.ts'
import { checkMs, TOKEN_DEFAULTS } from './defaults.ts'
import { SingleFlight, storeCall } from './flight.ts'

/** The widest page read when many sessions ended in the same millisecond. */
const MAX_PAGE = 1 << 20
/** The part of a SessionStore the deny list reads: every SessionStore is one. */
export interface EndedFeed {
  endedSince(since: number, limit: number): Promise<{ id: string; endedAt: number }[]>
  watch?(listener: (change: StoreChange) => void): Promise<() => Promise<void>>
}

export interface DenyListOptions {
  /** Where ended sessions are read from (usually the SessionStore). Without it, only `add` feeds it. */
  source?: EndedFeed
  clock?: Clock
  /** The longest access-token lifetime: an id is kept this long (plus skew) after its end. Default 5 min. */
  maxAccessTtlMs?: number
  /** Clock skew verifiers tolerate. Default 30 s. */
  clockSkewMs?: number
  /** Interval of the poll. Default 1000 ms. */
  pollMs?: number
  /** Each poll re-reads this far behind the newest end it has seen. Default 2000 ms. */
  overlapMs?: number
  /** Ended sessions read per request. Default 1000. */
  pageLimit?: number
  /** Older than this, the list is re-read before use, or verification fails closed. Default 5 × pollMs. */
  maxStalenessMs?: number
  /** Told about failed background polls and subscriptions (for the server log). */
  onError?: (err: unknown) => void
}

interface Entry {
  endedAt: number
  reason: EndReason | null
}

/**
 * Ended session ids, each kept until every access token of its session has expired.
 *
 * @example
 * const deny = new DenyList({ source: sessions.store, clock })
 * await deny.start()
 * await deny.check(claims.sid) // throws ERR_TOKEN_REVOKED for an ended session
 */
export class DenyList {
  readonly pollMs: number
  readonly overlapMs: number
  readonly pageLimit: number
  readonly maxStalenessMs: number
  /** How long an id is kept after its session ended. */
  readonly retainMs: number
  readonly #source: EndedFeed | undefined
  readonly #clock: Clock
  readonly #onError: (err: unknown) => void
  #entries = new Map<string, Entry>()
  #cursor: number | null = null
  #lastSyncAt = Number.NEGATIVE_INFINITY
  #lastAttempt = Number.NEGATIVE_INFINITY
  #flight = new SingleFlight<void>()
  #again = false
  #adds = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #unwatch: (() => Promise<void>) | undefined
  #closed = false

  constructor(options: DenyListOptions = {}) {
    this.#source = options.source
    this.#clock = options.clock ?? systemClock
    this.#onError = options.onError ?? (() => {})
    this.pollMs = checkMs('pollMs', options.pollMs ?? TOKEN_DEFAULTS.denyPollMs, 10)
    this.overlapMs = checkMs('overlapMs', options.overlapMs ?? TOKEN_DEFAULTS.denyOverlapMs, 0)
    this.pageLimit = checkMs('pageLimit', options.pageLimit ?? TOKEN_DEFAULTS.denyPageLimit, 1)
    this.maxStalenessMs = checkMs(
      'maxStalenessMs',
      options.maxStalenessMs ?? 5 * this.pollMs,
      this.pollMs,
    )
    const ttl = checkMs(
      'maxAccessTtlMs',
      options.maxAccessTtlMs ?? TOKEN_DEFAULTS.accessTtlMs,
      1000,
    )
    const skew = checkMs('clockSkewMs', options.clockSkewMs ?? TOKEN_DEFAULTS.clockSkewMs, 0)
    this.retainMs = ttl + skew
  }

  /** Ids currently denied. */
  get size(): number {
    return this.#entries.size
  }

  /** When the last successful poll started (ms), or -Infinity. */
  get lastSyncAt(): number {
    return this.#lastSyncAt
  }

  /**
   * Subscribes to the source's push feed (when it has one), reads the feed once, and polls every
   * `pollMs` until {@link close}. Rejects when the first read fails.
   */
  async start(): Promise<void> {
    const source = this.#source
    if (source === undefined || this.#closed) return
    if (source.watch !== undefined && this.#unwatch === undefined) {
      try {
        this.#unwatch = await source.watch((change) => this.#onChange(change))
      } catch (err) {
        this.#onError(err) // the poll still bounds propagation
      }
    }
    await this.poll()
    this.#schedule()
  }

  /** Denies `sid` now: the process that ends a session calls this, for immediate effect here. */
  add(sid: string, reason: EndReason | null = null, endedAt = this.#clock.now()): void {
    this.#note(sid, endedAt, reason)
    if (++this.#adds % 256 === 0) this.#prune(this.#clock.now())
  }

  /** True when `sid` is denied. */
  has(sid: string): boolean {
    const entry = this.#entries.get(sid)
    return entry !== undefined && entry.endedAt + this.retainMs > this.#clock.now()
  }

  /**
   * Resolves when tokens of `sid` may be accepted. Throws ERR_TOKEN_REVOKED (with `details.reason`
   * when known) for an ended session, and ERR_STORE_UNAVAILABLE when the list is older than
   * `maxStalenessMs` and cannot be re-read.
   */
  async check(sid: string): Promise<void> {
    this.#refuseIfDenied(sid)
    if (this.#source === undefined) return
    const now = this.#clock.now()
    if (now - this.#lastSyncAt <= this.maxStalenessMs) return
    if (this.#flight.busy || now - this.#lastAttempt >= this.pollMs) {
      try {
        await this.#flight.run(() => this.#syncAll())
      } catch {
        // judged below by staleness
      }
      this.#refuseIfDenied(sid)
    }
    if (this.#clock.now() - this.#lastSyncAt > this.maxStalenessMs) {
      throw new ParleyError('ERR_STORE_UNAVAILABLE', 'the revocation list is out of date')
    }
  }

  /** Reads the source's feed now (after any read in flight). Rejects when the read fails. */
  poll(): Promise<void> {
    if (this.#flight.busy) this.#again = true
    return this.#flight.run(() => this.#syncAll())
  }

  /** Stops the poll and the push feed. */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    const unwatch = this.#unwatch
    this.#unwatch = undefined
    await unwatch?.()
  }

  #refuseIfDenied(sid: string): void {
    const entry = this.#entries.get(sid)
    if (entry === undefined || entry.endedAt + this.retainMs <= this.#clock.now()) return
    const details = entry.reason === null ? undefined : { reason: entry.reason }
    throw new ParleyError('ERR_TOKEN_REVOKED', undefined, details && { details })
  }

  #note(sid: string, endedAt: number, reason: EndReason | null): void {
    const known = this.#entries.get(sid)
    this.#entries.set(sid, {
      endedAt: known === undefined ? endedAt : Math.min(known.endedAt, endedAt),
      reason: reason ?? known?.reason ?? null,
    })
  }

  #prune(now: number): void {
    for (const [sid, e] of this.#entries)
      if (e.endedAt + this.retainMs <= now) this.#entries.delete(sid)
  }

  async #syncAll(): Promise<void> {
    do {
      this.#again = false
      await this.#sync()
    } while (this.#again && !this.#closed)
  }

  async #sync(): Promise<void> {
    const source = this.#source
    if (source === undefined) return
    const started = this.#clock.now()
    this.#lastAttempt = started
    let since = this.#cursor === null ? started - this.retainMs : this.#cursor - this.overlapMs
    let newest = this.#cursor ?? since
    let limit = this.pageLimit
    for (;;) {
      const from = since
      const size = limit
      const rows = await storeCall(() => source.endedSince(from, size))
      for (const r of rows) {
        this.#note(r.id, r.endedAt, null)
        if (r.endedAt > newest) newest = r.endedAt
      }
      const last = rows.at(-1)
      if (rows.length < size || last === undefined) break
      if (last.endedAt > since) {
        // a full page moves on from its last end (rows of that instant are read again: harmless)
        since = last.endedAt
        limit = this.pageLimit
      } else {
        // a full page of one instant (an end-all ends thousands at once): read it again, wider,
        // until it is drained, so no session of that instant is left out
        if (size >= MAX_PAGE) break
        limit = Math.min(MAX_PAGE, size * 4)
      }
    }
    this.#cursor = newest
    this.#lastSyncAt = started
    this.#prune(started)
  }

  #onChange(change: StoreChange): void {
    // A change names a session that ended or was updated: read the feed now to learn which.
    if (change.type === 'link' && !change.up) return
    this.poll().catch(this.#onError)
  }

  #schedule(): void {
    if (this.#closed || this.#source === undefined) return
    this.#timer = setTimeout(() => {
      this.poll()
        .catch(this.#onError)
        .finally(() => this.#schedule())
    }, this.pollMs)
    this.#timer.unref?.()
  }
}
