/**
 * @module `ParleyClient`, the public face of `parley/client`: sign-in for tokens, an authorized
 * `fetch` that refreshes before expiry and once after ERR_TOKEN_EXPIRED, sign-out, and events.
 */
import { type Now, systemNow } from './clock.ts'
import { CrossTab, type CrossTabMessage } from './cross-tab.ts'
import { browserStorage, type StorageLike } from './dom.ts'
import { ParleyClientError } from './errors.ts'
import { type ClientEvents, Emitter } from './events.ts'
import {
  type ErrorBody,
  errorOf,
  type FetchLike,
  isRequest,
  isStream,
  jsonOf,
  postForm,
  postJson,
  send,
  sendWithBearer,
} from './http.ts'
import { Refresher } from './refresh.ts'
import { MemoryStorage, TokenState, type Tokens, tokensFromResponse } from './token-state.ts'

export interface ParleyClientOptions {
  /** The Parley server, e.g. `https://auth.example.com` (the page's origin in a browser). */
  baseUrl: string | URL
  /** The public client id configured on the server (`web` by default there). */
  clientId: string
  /** Where tokens persist. Default: `localStorage` in a browser window, else a {@link MemoryStorage}. */
  storage?: StorageLike
  /** Default: the global `fetch`. */
  fetch?: FetchLike
  /** Refresh this long before the access token expires. Default 30 000 ms. */
  refreshLeewayMs?: number
  /** The time source. Default: the system clock. */
  now?: Now
  /** Coordinate with other tabs (Web Locks, BroadcastChannel). Default: when `storage` is the default `localStorage`. */
  crossTab?: boolean
}

export interface SignInInput {
  username: string
  password: string
  totp?: string
  recoveryCode?: string
}

/**
 * @example
 * const client = new ParleyClient({ baseUrl: location.origin, clientId: 'web' })
 * await client.signIn({ username, password })
 * const me = await client.fetch('/auth/me').then((r) => r.json())
 * client.on('signedout', ({ reason }) => showSignIn(reason))
 */
export class ParleyClient {
  readonly clientId: string
  readonly #base: URL
  readonly #fetch: FetchLike
  readonly #now: Now
  readonly #leewayMs: number
  readonly #state: TokenState
  readonly #events = new Emitter<ClientEvents>()
  readonly #cross: CrossTab | null
  readonly #refresher: Refresher

  constructor(options: ParleyClientOptions) {
    if (typeof options.clientId !== 'string' || options.clientId === '')
      throw new TypeError('clientId is required')
    const leeway = options.refreshLeewayMs ?? 30_000
    if (!Number.isFinite(leeway) || leeway < 0) throw new RangeError('refreshLeewayMs must be >= 0')
    this.clientId = options.clientId
    this.#base = new URL(String(options.baseUrl).replace(/\/?$/, '/'))
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init))
    this.#now = options.now ?? systemNow
    this.#leewayMs = leeway
    const local = options.storage === undefined ? browserStorage() : null
    this.#state = new TokenState(
      options.storage ?? local ?? new MemoryStorage(),
      `parley:${this.clientId}:tokens`,
    )
    this.#cross = (options.crossTab ?? local !== null) ? CrossTab.open(this.clientId) : null
    this.#cross?.listen((message) => this.#onMessage(message))
    this.#refresher = new Refresher({
      state: this.#state,
      cross: this.#cross,
      exchange: (refreshToken) => this.#exchange(refreshToken),
      fresh: (tokens) => this.#fresh(tokens),
      onTokens: (tokens, source) => this.#emitTokens(tokens, source),
    })
  }

  /** The current access token (not refreshed by this call), or null when signed out. */
  accessToken(): string | null {
    return this.#state.current?.accessToken ?? null
  }

  /** Subscribes to `tokens` or `signedout`; returns the unsubscribe function. */
  on<K extends keyof ClientEvents>(
    name: K,
    listener: (event: ClientEvents[K]) => void,
  ): () => void {
    return this.#events.on(name, listener)
  }

  /** Signs in for tokens. Throws a {@link ParleyClientError}: ERR_SIGN_IN_FAILED, ERR_MFA_REQUIRED, ERR_RATE_LIMITED... */
  async signIn(input: SignInInput): Promise<void> {
    const { username, password, totp, recoveryCode } = input
    const body = { username, password, totp, recoveryCode, client_id: this.clientId }
    const response = await postJson(this.#fetch, this.#url('auth/token'), body)
    if (!response.ok) throw await errorOf(response)
    const tokens = tokensFromResponse(await response.json(), this.#now())
    const previous = this.#state.current
    this.#state.save(tokens, true)
    this.#cross?.post({ type: 'tokens', tokens })
    this.#emitTokens(tokens, 'sign-in')
    // the session signed in before is ended, not left behind
    if (previous !== null) void this.#revoke(previous.refreshToken)
  }

  /** Ends the session at the server (best effort) and here, in every tab; emits `signedout` ('logout'). */
  async signOut(): Promise<{ revoked: boolean }> {
    const tokens = this.#state.current ?? this.#state.stored()
    this.#end('logout', null)
    return { revoked: tokens !== null && (await this.#revoke(tokens.refreshToken)) }
  }

  /**
   * `fetch` with `Authorization: Bearer` on requests to the server's origin (others go out as they
   * are). Refreshes first within `refreshLeewayMs` of expiry; after a 401 ERR_TOKEN_EXPIRED,
   * refreshes and retries once (not for a streamed body). A refresh failure is thrown as a
   * {@link ParleyClientError}; ERR_TOKEN_REVOKED or invalid_grant also signs the client out.
   */
  async fetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const url = new URL(isRequest(input) ? input.url : input, this.#base)
    let tokens = this.#state.current
    if (url.origin !== this.#base.origin || tokens === null)
      return send(this.#fetch, isRequest(input) ? input : url, init)
    if (!this.#fresh(tokens)) tokens = await this.#refreshBeforeUse(tokens)
    let response = await sendWithBearer(this.#fetch, input, url, init, tokens.accessToken)
    const code = await this.#failure(response, tokens)
    if (code === 'ERR_TOKEN_EXPIRED' && !isStream(init.body)) {
      tokens = await this.#refresh(tokens)
      response = await sendWithBearer(this.#fetch, input, url, init, tokens.accessToken)
      await this.#failure(response, tokens)
    }
    return response
  }

  /** Stops listening to other tabs. The tokens stay in storage. */
  close(): void {
    this.#cross?.close()
  }

  #url(path: string): URL {
    return new URL(path, this.#base)
  }

  #fresh(tokens: Tokens): boolean {
    return this.#now() < tokens.expiresAt - this.#leewayMs
  }

  async #exchange(refreshToken: string): Promise<Tokens> {
    const response = await postForm(this.#fetch, this.#url('oauth/token'), {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: this.clientId,
    })
    if (!response.ok) throw await errorOf(response)
    return tokensFromResponse(await response.json(), this.#now())
  }

  async #revoke(token: string): Promise<boolean> {
    try {
      const form = { token, client_id: this.clientId }
      return (await postForm(this.#fetch, this.#url('oauth/revoke'), form)).ok
    } catch {
      return false
    }
  }

  /** The refresh of `stale`; a refresh token the server no longer honours signs the client out. */
  async #refresh(stale: Tokens): Promise<Tokens> {
    const epoch = this.#state.epoch
    try {
      return await this.#refresher.refresh(stale)
    } catch (err) {
      const e = err as ParleyClientError
      const over = e.oauthError === 'invalid_grant' || e.code === 'ERR_NOT_SIGNED_IN'
      if (over && this.#state.epoch === epoch) this.#end(e.reason, e.code)
      throw err
    }
  }

  /** A refresh ahead of expiry; if the server is unavailable, the still-valid token is used. */
  async #refreshBeforeUse(tokens: Tokens): Promise<Tokens> {
    try {
      return await this.#refresh(tokens)
    } catch (err) {
      const usable = this.#now() < tokens.expiresAt && this.#state.current === tokens
      if (err instanceof ParleyClientError && err.retryable && usable) return tokens
      throw err
    }
  }

  /** The code of a 401 to `tokens`; ends the session here when it says the session is over. */
  async #failure(response: Response, tokens: Tokens): Promise<string | null> {
    if (response.status !== 401) return null
    const body = (await jsonOf(response)) as ErrorBody | null
    const code = typeof body?.code === 'string' ? body.code : null
    // the session of this token is over for good (a bad signature or claims is not: no sign-out)
    if (code === 'ERR_TOKEN_REVOKED') this.#endedFor(tokens, body?.reason ?? null, code)
    return code
  }

  /** `tokens` were refused for good: sign out, unless newer tokens replaced them meanwhile. */
  #endedFor(tokens: Tokens, reason: string | null, code: string): void {
    const current = this.#state.current
    if (current !== null && current.accessToken !== tokens.accessToken) return
    const stored = this.#cross === null ? null : this.#state.stored()
    if (stored !== null && stored.refreshToken !== tokens.refreshToken) {
      this.#state.adopt(stored) // another tab signed in again; its message is on the way
      this.#emitTokens(stored, 'other-tab')
      return
    }
    this.#end(reason, code)
  }

  #end(reason: string | null, code: string | null): void {
    void this.#cross?.forgetRotation()
    if (!this.#state.clear()) return
    this.#cross?.post({ type: 'signedout', reason, code })
    this.#events.emit('signedout', { reason, code })
  }

  #emitTokens(tokens: Tokens, source: 'sign-in' | 'refresh' | 'other-tab'): void {
    this.#events.emit('tokens', {
      accessToken: tokens.accessToken,
      expiresAt: tokens.expiresAt,
      source,
    })
  }

  #onMessage(message: CrossTabMessage): void {
    if (message.type === 'signedout') {
      const { reason, code } = message
      if (this.#state.forget()) this.#events.emit('signedout', { reason, code })
      return
    }
    if (this.#state.current?.refreshToken === message.tokens.refreshToken) return
    this.#state.adopt(message.tokens)
    this.#emitTokens(message.tokens, 'other-tab')
  }
}
