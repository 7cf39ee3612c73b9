/** @module Service API routes for sessions and principals (`/v1/...`). */
import type { EndReason } from '../../core/session.ts'
import * as S from '../schemas.ts'
import type { RouteContext, RouteDef } from './types.ts'

const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: S.sessionId },
}
const principalParams = {
  type: 'object',
  required: ['principal'],
  additionalProperties: false,
  properties: { principal: S.principal },
}
const one = { type: 'object', required: ['session'], properties: { session: S.session } }
const list = {
  type: 'object',
  required: ['sessions'],
  properties: { sessions: { type: 'array', items: S.session } },
}
const events = {
  type: 'object',
  required: ['events'],
  properties: { events: { type: 'array', items: S.event } },
}
const errors = { 400: S.problem, 401: S.problem, 403: S.problem, 503: S.problem }

type Body<T> = Partial<T> & Record<string, unknown>
const params = (ctx: RouteContext) => ctx.request.params as Record<string, string>
const body = <T>(ctx: RouteContext) => (ctx.request.body ?? {}) as Body<T>
const limitOf = (ctx: RouteContext) => {
  const q = ctx.request.query as { limit?: string }
  return q.limit === undefined ? undefined : Number(q.limit)
}

interface ClientBody {
  ip: string
  userAgent: string
}

export const sessionRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/sessions',
    scope: 'manage',
    operationId: 'createSession',
    summary: 'Establish a session for a principal; returns the session and its token (shown once)',
    tag: 'sessions',
    schema: {
      body: S.createBody,
      response: {
        201: {
          type: 'object',
          required: ['session', 'token', 'ended'],
          properties: {
            session: S.session,
            token: {
              type: 'string',
              description: 'give it to the client (cookie or bearer); Parley keeps only its hash',
            },
            ended: {
              type: 'array',
              description: 'sessions of the principal this creation ended (limit or timeout)',
              items: { type: 'object', properties: { id: S.sessionId, endReason: S.endReason } },
            },
          },
        },
        409: S.problem,
        ...errors,
      },
    },
    async handler(ctx) {
      const b = body<{
        principal: string
        ip: string
        userAgent: string
        auth: object
        data: Record<string, unknown>
        idleTimeoutMs: number
        absoluteTimeoutMs: number
      }>(ctx)
      const created = await ctx.sessions.create({
        principal: b.principal as string,
        ip: b.ip ?? null,
        userAgent: b.userAgent ?? null,
        auth: b.auth as never,
        data: b.data,
        idleTimeoutMs: b.idleTimeoutMs,
        absoluteTimeoutMs: b.absoluteTimeoutMs,
        actor: ctx.actor,
      })
      ctx.reply.code(201)
      return {
        session: created.session,
        token: created.token,
        ended: created.ended.map((s) => ({ id: s.id, endReason: s.endReason })),
      }
    },
  },
  {
    method: 'POST',
    url: '/v1/sessions/validate',
    scope: 'read',
    operationId: 'validateSession',
    summary:
      'Validate a session token (the hot path); slides the idle expiry at most once per touch interval',
    tag: 'sessions',
    schema: { body: S.validateBody, response: { 200: one, ...errors } },
    async handler(ctx) {
      const b = body<{ token: string; touch: boolean }>(ctx)
      return { session: await ctx.sessions.validate(b.token, { touch: b.touch !== false }) }
    },
  },
  {
    method: 'GET',
    url: '/v1/sessions/:id',
    scope: 'read',
    operationId: 'getSession',
    summary: 'Read a session by id (active or ended, with its end reason)',
    tag: 'sessions',
    schema: { params: idParams, response: { 200: one, 404: S.problem, ...errors } },
    async handler(ctx) {
      return { session: await ctx.sessions.get(params(ctx).id!) }
    },
  },
  {
    method: 'POST',
    url: '/v1/sessions/:id/touch',
    scope: 'read',
    operationId: 'touchSession',
    summary:
      'Mark activity on a session by id (slides the idle expiry, never past the absolute one)',
    tag: 'sessions',
    schema: { params: idParams, response: { 200: one, 404: S.problem, ...errors } },
    async handler(ctx) {
      return { session: await ctx.sessions.touch(params(ctx).id!) }
    },
  },
  {
    method: 'PATCH',
    url: '/v1/sessions/:id',
    scope: 'manage',
    operationId: 'updateSession',
    summary: 'Replace the session data (and auth context) if expectedVersion still holds',
    tag: 'sessions',
    schema: {
      params: idParams,
      body: S.updateBody,
      response: { 200: one, 404: S.problem, 409: S.problem, ...errors },
    },
    async handler(ctx) {
      const b = body<{ expectedVersion: number; data: Record<string, unknown>; auth: never }>(ctx)
      const patch = {
        ...(b.data !== undefined ? { data: b.data } : {}),
        ...(b.auth !== undefined ? { auth: b.auth } : {}),
      }
      return {
        session: await ctx.sessions.update(params(ctx).id!, b.expectedVersion as number, patch, {
          actor: ctx.actor,
        }),
      }
    },
  },
  {
    method: 'POST',
    url: '/v1/sessions/:id/end',
    scope: 'manage',
    operationId: 'endSession',
    summary:
      'End a session with a reason (default revoked); ending an ended session changes nothing',
    tag: 'sessions',
    schema: {
      params: idParams,
      body: S.endBody,
      response: {
        200: { type: 'object', properties: { session: S.session, ended: { type: 'boolean' } } },
        404: S.problem,
        ...errors,
      },
    },
    async handler(ctx) {
      const b = body<ClientBody & { reason: EndReason }>(ctx)
      return ctx.sessions.end(params(ctx).id!, b.reason ?? 'revoked', {
        actor: ctx.actor,
        ip: b.ip ?? null,
        userAgent: b.userAgent ?? null,
      })
    },
  },
  {
    method: 'GET',
    url: '/v1/sessions/:id/events',
    scope: 'read',
    operationId: 'sessionEvents',
    summary: 'The audit trail of a session, oldest first: why and when it ended',
    tag: 'audit',
    schema: { params: idParams, querystring: S.eventsQuery, response: { 200: events, ...errors } },
    async handler(ctx) {
      return {
        events: await ctx.sessions.events({ sessionId: params(ctx).id!, limit: limitOf(ctx) }),
      }
    },
  },
  {
    method: 'GET',
    url: '/v1/principals/:principal/sessions',
    scope: 'read',
    operationId: 'listSessions',
    summary: 'Active sessions of a principal, most recently used first',
    tag: 'principals',
    schema: { params: principalParams, response: { 200: list, ...errors } },
    async handler(ctx) {
      return { sessions: await ctx.sessions.list(params(ctx).principal!) }
    },
  },
  {
    method: 'POST',
    url: '/v1/principals/:principal/sessions/end',
    scope: 'manage',
    operationId: 'endPrincipalSessions',
    summary:
      'End every session of a principal, or every one but exceptSessionId (default reason revoked_all)',
    tag: 'principals',
    schema: {
      params: principalParams,
      body: S.endPrincipalBody,
      response: { 200: list, ...errors },
    },
    async handler(ctx) {
      const b = body<ClientBody & { reason: EndReason; exceptSessionId: string }>(ctx)
      const ended = await ctx.sessions.endByPrincipal(
        params(ctx).principal!,
        b.reason ?? 'revoked_all',
        { actor: ctx.actor, ip: b.ip ?? null, userAgent: b.userAgent ?? null },
        b.exceptSessionId,
      )
      return { sessions: ended }
    },
  },
  {
    method: 'GET',
    url: '/v1/principals/:principal/events',
    scope: 'read',
    operationId: 'principalEvents',
    summary: 'The audit trail of a principal, oldest first',
    tag: 'audit',
    schema: {
      params: principalParams,
      querystring: S.eventsQuery,
      response: { 200: events, ...errors },
    },
    async handler(ctx) {
      return {
        events: await ctx.sessions.events({
          principal: params(ctx).principal!,
          limit: limitOf(ctx),
        }),
      }
    },
  },
  {
    method: 'POST',
    url: '/v1/sessions/end-all',
    scope: 'manage',
    operationId: 'endAllSessions',
    summary: 'End every active session of every principal (requires confirm: "end-all-sessions")',
    tag: 'sessions',
    schema: {
      body: S.endAllBody,
      response: { 200: { type: 'object', properties: { ended: { type: 'integer' } } }, ...errors },
    },
    async handler(ctx) {
      const b = body<{ reason: EndReason }>(ctx)
      return { ended: await ctx.sessions.endAll(b.reason ?? 'revoked_all', { actor: ctx.actor }) }
    },
  },
]
