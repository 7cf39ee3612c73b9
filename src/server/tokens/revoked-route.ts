/**
 * @module `GET /v1/tokens/revoked`: the ended-session feed a remote Verifier's DenyList polls, so
 * that access tokens of ended sessions fail there within the poll interval (SEC-41).
 */

import type { RouteDef } from '../routes/types.ts'
import * as S from '../schemas.ts'
import { TOKEN_PATHS } from './metadata.ts'

/** Most ended sessions in one answer; a caller pages on with the last `endedAt`. */
export const REVOKED_PAGE_MAX = 5000
const REVOKED_PAGE_DEFAULT = 1000

const query = {
  type: 'object',
  additionalProperties: false,
  required: ['since'],
  properties: {
    since: {
      type: 'string',
      pattern: '^[0-9]{1,15}$',
      description: 'ms since the epoch: sessions that ended at or after it',
    },
    limit: {
      type: 'string',
      pattern: '^[1-9][0-9]{0,3}$',
      description: `at most this many, oldest first (1 to ${REVOKED_PAGE_MAX}, default ${REVOKED_PAGE_DEFAULT})`,
    },
  },
} as const

const answer = {
  type: 'object',
  required: ['ended', 'now'],
  properties: {
    ended: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'endedAt'],
        properties: { id: S.sessionId, endedAt: { type: 'integer' } },
      },
    },
    now: { type: 'integer', description: "the server's clock when it read the feed (ms)" },
  },
} as const

/** The route, in the shape of src/server/routes/ (so it is in /openapi.json and needs a key). */
export const revokedRoute: RouteDef = {
  method: 'GET',
  url: TOKEN_PATHS.revoked,
  scope: 'read',
  operationId: 'listEndedSessions',
  summary:
    'Sessions ended at or after `since`, oldest first: the deny-list feed of access-token verifiers',
  tag: 'tokens',
  schema: {
    querystring: query,
    response: { 200: answer, 400: S.problem, 401: S.problem, 403: S.problem, 503: S.problem },
  },
  async handler(ctx) {
    const q = ctx.request.query as { since: string; limit?: string }
    const limit = Math.min(
      REVOKED_PAGE_MAX,
      q.limit === undefined ? REVOKED_PAGE_DEFAULT : Number(q.limit),
    )
    const now = ctx.sessions.clock.now()
    const ended = await ctx.sessions.store.endedSince(Number(q.since), limit)
    return { ended, now }
  },
}
