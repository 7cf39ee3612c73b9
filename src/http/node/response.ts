/**
 * @module node:http request and response plumbing for the HTTP core, shared by the node:http and
 * Express adapters (an Express request and response are node's, extended).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { ResolvedContext } from '../context.ts'
import { PROBLEM_CONTENT_TYPE, type Problem } from '../problem.ts'
import type { RequestAccess } from '../resolve.ts'

function method(req: IncomingMessage): string {
  return req.method ?? ''
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return typeof value === 'string' ? value : undefined
}

function encrypted(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket | null)?.encrypted === true
}

/** How the core reads a node:http request. */
export const nodeAccess: RequestAccess<IncomingMessage> = Object.freeze({
  method,
  header,
  encrypted,
})

/** Answers with a problem (`application/problem+json`), unless the headers are already out. */
export function sendProblem(res: ServerResponse, problem: Problem): void {
  if (res.headersSent) {
    res.end()
    return
  }
  const body = JSON.stringify(problem)
  res.statusCode = problem.status
  res.setHeader('content-type', PROBLEM_CONTENT_TYPE)
  res.setHeader('content-length', Buffer.byteLength(body))
  res.setHeader('cache-control', 'no-store')
  res.setHeader('x-content-type-options', 'nosniff')
  res.end(body)
}

/**
 * Adds a Set-Cookie for `name`, dropping any earlier one for the same name on this response (a
 * sign-in after a refused cookie sends only the new cookie). A response carrying a session cookie
 * is never cached.
 */
export function putCookie(res: ServerResponse, name: string, setCookie: string): void {
  const prev = res.getHeader('set-cookie')
  if (prev === undefined) res.setHeader('set-cookie', setCookie)
  else {
    const prefix = `${name}=`
    const list = (Array.isArray(prev) ? prev : [String(prev)]).filter((c) => !c.startsWith(prefix))
    list.push(setCookie)
    res.setHeader('set-cookie', list)
  }
  res.setHeader('cache-control', 'no-store')
}

/** What a resolved request puts on its response: no-store when authenticated, a dead cookie deleted. */
export function applyContext(
  res: ServerResponse,
  ctx: ResolvedContext,
  name: string,
  clearHeader: string,
): void {
  if (ctx.clearCookie) putCookie(res, name, clearHeader)
  else if (ctx.session !== null) res.setHeader('cache-control', 'no-store')
}
