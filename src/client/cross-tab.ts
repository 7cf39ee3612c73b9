/**
 * @module Coordination between tabs of one origin that share a storage: an exclusive Web Lock
 * `parley-refresh:<clientId>` around each refresh, the rotation log it guards, and
 * `BroadcastChannel('parley:<clientId>')` messages that keep the other tabs' memory in step.
 */
import { type BroadcastChannelLike, type LockManagerLike, openChannel, webLocks } from './dom.ts'
import { type Rotation, RotationLog } from './rotation-log.ts'
import { parseTokens, type Tokens } from './token-state.ts'

/** What one tab tells the others. */
export type CrossTabMessage =
  | { type: 'tokens'; tokens: Tokens }
  | { type: 'signedout'; reason: string | null; code: string | null }

/** A message from another tab, checked, or null for anything else. */
export function parseMessage(data: unknown): CrossTabMessage | null {
  const m = (data ?? {}) as Record<string, unknown>
  if (m.type === 'tokens') {
    const tokens = parseTokens(m.tokens)
    return tokens === null ? null : { type: 'tokens', tokens }
  }
  if (m.type === 'signedout') {
    const text = (v: unknown) => (typeof v === 'string' ? v : null)
    return { type: 'signedout', reason: text(m.reason), code: text(m.code) }
  }
  return null
}

/**
 * The lock, the log and the channel of one client id. Without a BroadcastChannel the lock and the
 * log alone keep refreshes apart; other tabs then learn of new tokens at their own next refresh.
 * Without IndexedDB, the storage re-read inside the lock is all there is (see rotation-log.ts).
 *
 * @example
 * const cross = CrossTab.open('web')
 * await cross?.withLock(async () => rotate())
 */
export class CrossTab {
  readonly #locks: LockManagerLike
  readonly #channel: BroadcastChannelLike | null
  readonly #log: RotationLog | null
  readonly #lockName: string

  constructor(
    clientId: string,
    locks: LockManagerLike,
    channel: BroadcastChannelLike | null,
    log: RotationLog | null,
  ) {
    this.#locks = locks
    this.#channel = channel
    this.#log = log
    this.#lockName = `parley-refresh:${clientId}`
  }

  /** The coordination of `clientId`, or null where the Web Locks API is missing. */
  static open(clientId: string): CrossTab | null {
    const locks = webLocks()
    if (locks === null) return null
    return new CrossTab(
      clientId,
      locks,
      openChannel(`parley:${clientId}`),
      RotationLog.open(clientId),
    )
  }

  /** Runs `fn` while holding the refresh lock of this client id, in every tab of the origin. */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.#locks.request(this.#lockName, fn)
  }

  /** The last rotation any tab recorded (call under the lock), or null. */
  lastRotation(): Promise<Rotation | null> {
    return this.#log?.last() ?? Promise.resolve(null)
  }

  /** Records a rotation for the next holder of the lock; resolves once committed. */
  recordRotation(rotation: Rotation): Promise<void> {
    return this.#log?.record(rotation) ?? Promise.resolve()
  }

  /** Forgets the recorded rotation (signed out). */
  forgetRotation(): Promise<void> {
    return this.#log?.clear() ?? Promise.resolve()
  }

  /** Tells the other tabs. */
  post(message: CrossTabMessage): void {
    try {
      this.#channel?.postMessage(message)
    } catch {
      // a closed channel: the other tabs re-read the storage at their next refresh
    }
  }

  /** Calls `handler` with each valid message from another tab. */
  listen(handler: (message: CrossTabMessage) => void): void {
    if (this.#channel === null) return
    this.#channel.onmessage = (event) => {
      const message = parseMessage(event.data)
      if (message !== null) handler(message)
    }
  }

  close(): void {
    this.#log?.close()
    if (this.#channel === null) return
    this.#channel.onmessage = null
    this.#channel.close()
  }
}
