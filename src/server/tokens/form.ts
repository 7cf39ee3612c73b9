/**
 * @module The `application/x-www-form-urlencoded` body parser of the OAuth endpoints (RFC 6749
 * sec. 3.2), registered in their scope only: a parameter given twice is refused (sec. 3.1).
 */
import type { FastifyInstance } from 'fastify'
import { badRequest } from './oauth-errors.ts'

/** Largest form body read, in bytes: a refresh token, a proof-less request and some slack. */
export const FORM_BODY_LIMIT = 8192

/** Parses a form body into a null-prototype record of single values; throws ERR_VALIDATION. */
export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null)
  for (const [key, value] of new URLSearchParams(body)) {
    if (key in out) throw badRequest(`${key} is given more than once`)
    out[key] = value
  }
  return out
}

/** Registers the form parser on `scope` (an encapsulated scope: the rest of the server stays JSON-only). */
export function registerFormParser(scope: FastifyInstance, bodyLimit = FORM_BODY_LIMIT): void {
  scope.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit },
    (_request, body, done) => {
      try {
        done(null, parseForm(body as string))
      } catch (err) {
        done(err as Error, undefined)
      }
    },
  )
}
