/**
 * @module What the web-suite targets share: the `/me` answer (`{"principal":"bench-user-000042"}`,
 * the same size for every target), the request pool built from captured cookies, listening and
 * closing, and signing sessions in over HTTP before the load starts.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { withTimeout } from './child.ts'
import { type BenchRequest, ME_PATH } from './protocol.ts'

/** Session `i`'s principal: fixed width, so that every `/me` answer has the same size. */
export const principalOf = (i: number) => `bench-user-${String(i).padStart(6, '0')}`

/** The answer of `GET /me`. */
export const meBody = (principal: string) => JSON.stringify({ principal })

/** The headers of every JSON answer that is built by hand (node:http targets). */
const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
}

export function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) }).end(body)
}

export const UNAUTHENTICATED = '{"code":"ERR_UNAUTHENTICATED"}'

/** Whether a node:http request is `GET /me` (anything else is answered 404 by the targets). */
export const isMe = (req: IncomingMessage) => req.method === 'GET' && req.url === ME_PATH

/** The value of cookie `name` in a Cookie header, without any checks (for the baselines). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** A Cookie header from Set-Cookie lines: each `name=value`, without the attributes. */
export function cookieHeader(setCookies: string[]): string {
  return setCookies.map((line) => line.split(';', 1)[0]!.trim()).join('; ')
}

/** The load's request pool: `GET /me` with each session's Cookie header. */
export function meRequests(cookies: string[]): BenchRequest[] {
  return cookies.map((cookie) => ({ method: 'GET', path: ME_PATH, headers: { cookie } }))
}

/** Listens on a free loopback port and returns it. */
export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return (server.address() as AddressInfo).port
}

/** Closes the server (and its keep-alive connections), then the rest, each within 5 s. */
export function closer(server: Server, ...rest: (() => Promise<unknown>)[]): () => Promise<void> {
  return async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await withTimeout(closed, 5000)
    for (const close of rest) await withTimeout(close(), 5000).catch(() => {})
  }
}

/** `make(0)` ... `make(n - 1)`, `batch` at a time, in order. */
export async function inBatches<T>(
  n: number,
  batch: number,
  make: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i)
    out.push(...(await Promise.all(Array.from({ length: size }, (_, j) => make(i + j)))))
  }
  return out
}

/**
 * Signs `n` sessions in through the target's own `POST /login?i=<n>` route (which sets session
 * `i`'s principal) and returns each session's Cookie header, from the Set-Cookie it answered.
 */
export function signInOverHttp(port: number, n: number): Promise<string[]> {
  return inBatches(n, 50, async (i) => {
    const res = await fetch(`http://127.0.0.1:${port}/login?i=${i}`, { method: 'POST' })
    await res.arrayBuffer()
    const set = res.headers.getSetCookie()
    if (!res.ok || set.length === 0) {
      throw new Error(`sign-in ${i} answered ${res.status} with ${set.length} cookies`)
    }
    return cookieHeader(set)
  })
}

/** The `i` of `POST /login?i=<n>`. */
export function loginIndex(url: string | undefined): number {
  const i = Number(new URL(url ?? '/', 'http://x').searchParams.get('i'))
  if (!Number.isInteger(i) || i < 0) throw new Error(`bad login url ${url}`)
  return i
}
