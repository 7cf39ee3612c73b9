/**
 * @module Remote mode: validates tokens through a Parley server's service API
 * (`POST /v1/sessions/validate`), with a small local cache keyed by SHA-256 of the token. An ended
 * session may pass here for at most `cacheMs` (the documented staleness bound); any failure of the
 * service API fails closed with ERR_STORE_UNAVAILABLE, never open (SEC-56).
 */
import { hash } from 'node:crypto'
import type { Clock } from '../core/clock.ts'
import { ParleyError, storeUnavailable } from '../core/errors.ts'
import { copyAuth, copyData, type EndReason, isEndReason, type Session } from '../core/session.ts'
import { parseToken } from '../core/token.ts'
import { HTTP_DEFAULTS, type RemoteOptions } from './options.ts'
import type { SessionValidator } from './validator.ts'

/** A cached answer: a session, or why the token was refused (a refusal is as final as a session). */
interface Entry {
  until: number
  session: Session | null
  /** For a refusal: null for ERR_SESSION_INVALID, the reason for ERR_SESSION_ENDED. */
  endReason: EndReason | null
}

function configError(message: string): ParleyError {
  return new ParleyError('ERR_CONFIG_INVALID', message)
}

function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
) {
  const n = value ?? fallback
  if (!Number.isInteger(n) || n < min || n > max) {
    throw configError(`remote.${name} must be an integer from ${min} to ${max}`)
  }
  return n
}

function isSession(value: unknown): value is Session {
  const s = value as Session | null
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.id === 'string' &&
    typeof s.principal === 'string' &&
    s.state === 'active' &&
    typeof s.auth === 'object' &&
    s.auth !== null &&
    Array.isArray(s.auth.factors) &&
    typeof s.client === 'object' &&
    s.client !== null &&
    typeof s.data === 'object' &&
    s.data !== null
  )
}

/** A caller's own copy: cached answers are shared between requests. */
function copySession(s: Session): Session {
  return { ...s, auth: copyAuth(s.auth), client: { ...s.client }, data: copyData(s.data) }
}

function refusal(entry: Entry): ParleyError {
  return entry.endReason === null
    ? new ParleyError('ERR_SESSION_INVALID')
    : new ParleyError('ERR_SESSION_ENDED', undefined, { details: { reason: entry.endReason } })
}

/**
 * Validates against a Parley server.
 *
 * @example
 * const remote = new RemoteValidator({ url: 'http://127.0.0.1:7700', apiKey }, systemClock, true)
 * const session = await remote.validate(token)
 */
export class RemoteValidator implements SessionValidator {
  readonly endpoint: string
  readonly cacheMs: number
  readonly maxEntries: number
  readonly timeoutMs: number
  #clock: Clock
  #touch: boolean
  #headers: Record<string, string>
  #cache = new Map<string, Entry>()
  #inflight = new Map<string, Promise<Entry>>()

  constructor(options: RemoteOptions, clock: Clock, touch: boolean) {
    const base = typeof options.url === 'string' ? URL.parse(options.url) : null
    if (base === null || (base.protocol !== 'http:' && base.protocol !== 'https:')) {
      throw configError('remote.url must be an http(s) URL of a Parley server')
    }
    if (parseToken('apiKey', options.apiKey) === null) {
      throw configError('remote.apiKey must be a Parley API key (plyk_...)')
    }
    let path = base.pathname
    while (path.endsWith('/')) path = path.slice(0, -1)
    this.endpoint = `${base.origin}${path}/v1/sessions/validate`
    this.cacheMs = integer(
      'cacheMs',
      options.cacheMs,
      HTTP_DEFAULTS.remoteCacheMs,
      0,
      HTTP_DEFAULTS.remoteCacheMaxMs,
    )
    this.maxEntries = integer(
      'maxEntries',
      options.maxEntries,
      HTTP_DEFAULTS.remoteMaxEntries,
      1,
      10_000_000,
    )
    this.timeoutMs = integer(
      'timeoutMs',
      options.timeoutMs,
      HTTP_DEFAULTS.remoteTimeoutMs,
      1,
      60_000,
    )
    this.#clock = clock
    this.#touch = touch
    this.#headers = {
      authorization: `Bearer ${options.apiKey}`,
      'content-type': 'application/json',
      accept: 'application/json',
    }
  }

  /** Answers cached now (for metrics and tests). */
  get size(): number {
    return this.#cache.size
  }

  async validate(token: string): Promise<Session> {
    // A malformed token is refused here: it never reaches the server nor the cache.
    if (parseToken('session', token) === null) throw new ParleyError('ERR_SESSION_INVALID')
    const key = hash('sha256', token, 'base64url')
    const cached = this.#cache.get(key)
    let entry: Entry
    if (cached !== undefined && cached.until > this.#clock.now()) entry = cached
    else {
      if (cached !== undefined) this.#cache.delete(key)
      let pending = this.#inflight.get(key)
      if (pending === undefined) {
        pending = this.#ask(token, key)
        this.#inflight.set(key, pending)
      }
      entry = await pending
    }
    if (entry.session === null) throw refusal(entry)
    return copySession(entry.session)
  }

  /** Forgets every cached answer (for example after a mass revocation). */
  clear(): void {
    this.#cache.clear()
  }

  async #ask(token: string, key: string): Promise<Entry> {
    const asked = this.#clock.now() // the staleness bound counts from the question, not the answer
    try {
      const entry = await this.#call(token, asked + this.cacheMs)
      if (this.cacheMs > 0) {
        if (this.#cache.size >= this.maxEntries) {
          const oldest = this.#cache.keys().next()
          if (!oldest.done) this.#cache.delete(oldest.value)
        }
        this.#cache.set(key, entry)
      }
      return entry
    } finally {
      this.#inflight.delete(key)
    }
  }

  async #call(token: string, until: number): Promise<Entry> {
    let res: Response
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers: this.#headers,
        body: JSON.stringify({ token, touch: this.#touch }),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      })
    } catch (err) {
      throw storeUnavailable(err)
    }
    let body: { session?: unknown; code?: unknown; reason?: unknown } | null
    try {
      body = (await res.json()) as typeof body
    } catch (err) {
      throw storeUnavailable(err)
    }
    if (res.status === 200 && isSession(body?.session)) {
      return { until, session: body.session, endReason: null }
    }
    if (res.status === 401 && body?.code === 'ERR_SESSION_INVALID') {
      return { until, session: null, endReason: null }
    }
    if (res.status === 401 && body?.code === 'ERR_SESSION_ENDED' && isEndReason(body.reason)) {
      return { until, session: null, endReason: body.reason }
    }
    // A bad API key, an outage, anything unexpected: fail closed.
    throw storeUnavailable(
      new Error(`the Parley service API answered ${res.status} ${String(body?.code ?? '')}`),
    )
  }
}
