/**
 * @module Single-flight refresh: concurrent callers share one `POST /oauth/token`; across tabs,
 * the refresh runs under the Web Lock and first looks at what other tabs did (the rotation log and
 * the storage: if another tab already refreshed, its tokens are used and the server is not
 * called), then records and broadcasts what it got.
 */
import type { CrossTab } from './cross-tab.ts'
import { ParleyClientError } from './errors.ts'
import type { TokenState, Tokens } from './token-state.ts'

export interface RefresherOptions {
  state: TokenState
  /** Exchanges a refresh token for a new pair at the server. */
  exchange: (refreshToken: string) => Promise<Tokens>
  /** Lock and channel shared with other tabs, or null: this process only. */
  cross: CrossTab | null
  /** Whether `tokens` can be used without a refresh (not within the leeway of expiry). */
  fresh: (tokens: Tokens) => boolean
  /** Called with the tokens now in use and where they came from. */
  onTokens: (tokens: Tokens, source: 'refresh' | 'other-tab') => void
}

const notSignedIn = () => new ParleyClientError('ERR_NOT_SIGNED_IN', 'the client holds no tokens')

/**
 * @example
 * const refresher = new Refresher({ state, exchange, cross: null, fresh, onTokens })
 * const tokens = await refresher.refresh(state.current!)
 */
export class Refresher {
  readonly #o: RefresherOptions
  #flight: Promise<Tokens> | null = null

  constructor(options: RefresherOptions) {
    this.#o = options
  }

  /**
   * Tokens to use instead of `stale`: the current ones if they already replaced it and are fresh,
   * else those of the one refresh in flight (started here if there is none).
   */
  refresh(stale: Tokens): Promise<Tokens> {
    const current = this.#o.state.current
    if (current === null) return Promise.reject(notSignedIn())
    if (current.refreshToken !== stale.refreshToken && this.#o.fresh(current))
      return Promise.resolve(current)
    this.#flight ??= this.#run(current).finally(() => {
      this.#flight = null
    })
    return this.#flight
  }

  async #run(held: Tokens): Promise<Tokens> {
    const { cross, state } = this.#o
    const epoch = state.epoch
    if (cross === null) return this.#rotate(held, epoch)
    return cross.withLock(async () => {
      const stored = state.stored()
      if (stored === null) throw notSignedIn() // another tab signed out
      // what another tab left: a sign-in or refresh in the storage, then the last rotation, which
      // the storage of this tab may not show yet
      let latest = stored
      const last = await cross.lastRotation()
      if (last !== null && (last.from === held.refreshToken || last.from === latest.refreshToken))
        latest = last.tokens
      if (latest.refreshToken !== held.refreshToken && this.#o.fresh(latest)) {
        // another tab refreshed while this one waited: no server call (its message may be here already)
        if (state.current?.refreshToken !== latest.refreshToken) {
          state.adopt(latest)
          this.#o.onTokens(latest, 'other-tab')
        }
        return latest
      }
      return this.#rotate(latest, epoch)
    })
  }

  async #rotate(held: Tokens, epoch: number): Promise<Tokens> {
    const fresh = await this.#o.exchange(held.refreshToken)
    const { state, cross } = this.#o
    await cross?.recordRotation({ from: held.refreshToken, tokens: fresh })
    // signed out, or signed in anew, while the request was out: the answer is not wanted
    if (state.epoch !== epoch) {
      if (state.current === null) throw notSignedIn()
      return state.current
    }
    state.save(fresh)
    cross?.post({ type: 'tokens', tokens: fresh })
    this.#o.onTokens(fresh, 'refresh')
    return fresh
  }
}
