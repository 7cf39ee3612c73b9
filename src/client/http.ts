/**
 * @module The client's `fetch` wrapper: JSON and form posts to the token endpoints, error bodies
 * (problem documents and OAuth errors) read into {@link ParleyClientError}s.
 */
import { ParleyClientError } from './errors.ts'

/** A `fetch` (the global one by default; inject one for tests or another runtime). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** The fields of an error body the client reads (problem+json or an RFC 6749 error). */
export interface ErrorBody {
  code?: string
  error?: string
  reason?: string
  detail?: string
  error_description?: string
  title?: string
  retryAfterSeconds?: number
}

/** Calls `fetchFn`, turning a network failure into a retryable ERR_NETWORK. */
export async function send(fetchFn: FetchLike, url: string | URL | Request, init?: RequestInit) {
  try {
    return await fetchFn(url, init)
  } catch (cause) {
    if ((cause as { name?: string })?.name === 'AbortError') throw cause
    throw new ParleyClientError('ERR_NETWORK', 'the server could not be reached', { cause })
  }
}

/** Whether `input` is a `Request` (checked by shape: it may come from another realm). */
export const isRequest = (input: unknown): input is Request =>
  typeof input === 'object' &&
  input !== null &&
  !(input instanceof URL) &&
  'url' in input &&
  'clone' in input

/** Whether a body is a stream, which cannot be sent twice. */
export const isStream = (body: unknown): boolean =>
  typeof (body as { getReader?: unknown } | null)?.getReader === 'function'

/**
 * Sends `input` (resolved to `url`) with `init` and `Authorization: Bearer <accessToken>`; a
 * Request is cloned, so the caller's stays unread and may be sent again.
 */
export function sendWithBearer(
  fetchFn: FetchLike,
  input: string | URL | Request,
  url: URL,
  init: RequestInit,
  accessToken: string,
): Promise<Response> {
  const headers = new Headers(isRequest(input) ? input.headers : undefined)
  new Headers(init.headers).forEach((value, name) => {
    headers.set(name, value)
  })
  headers.set('authorization', `Bearer ${accessToken}`)
  return send(fetchFn, isRequest(input) ? input.clone() : url, { ...init, headers })
}

/** POSTs `body` as JSON. */
export function postJson(fetchFn: FetchLike, url: URL, body: object): Promise<Response> {
  return send(fetchFn, url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    credentials: 'omit',
  })
}

/** POSTs `params` as `application/x-www-form-urlencoded` (the OAuth endpoints). */
export function postForm(fetchFn: FetchLike, url: URL, params: Record<string, string>) {
  return send(fetchFn, url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(params).toString(),
    credentials: 'omit',
  })
}

/** The JSON body of `response` (read from a clone, so the caller may still read it), or null. */
export async function jsonOf(response: Response): Promise<unknown> {
  const type = response.headers.get('content-type') ?? ''
  if (!/json/i.test(type)) return null
  try {
    return await response.clone().json()
  } catch {
    return null
  }
}

/** The error code of an OAuth error body that has no Parley `code`. */
const OAUTH_CODES: Record<string, string> = {
  invalid_grant: 'ERR_REFRESH_INVALID',
  invalid_client: 'ERR_CLIENT_INVALID',
  invalid_request: 'ERR_VALIDATION',
  temporarily_unavailable: 'ERR_STORE_UNAVAILABLE',
}

/** The {@link ParleyClientError} for a failed answer. */
export async function errorOf(response: Response): Promise<ParleyClientError> {
  const body = ((await jsonOf(response)) ?? {}) as ErrorBody
  const code =
    typeof body.code === 'string'
      ? body.code
      : ((body.error !== undefined ? OAUTH_CODES[body.error] : undefined) ??
        (response.status >= 500 ? 'ERR_INTERNAL' : 'ERR_BAD_RESPONSE'))
  const message = body.detail ?? body.error_description ?? body.title ?? `HTTP ${response.status}`
  const header = Number(response.headers.get('retry-after'))
  const retryAfterSeconds =
    typeof body.retryAfterSeconds === 'number'
      ? body.retryAfterSeconds
      : Number.isFinite(header) && header > 0
        ? header
        : null
  return new ParleyClientError(code, message, {
    status: response.status,
    reason: typeof body.reason === 'string' ? body.reason : null,
    retryAfterSeconds,
    oauthError: typeof body.error === 'string' ? body.error : null,
  })
}
