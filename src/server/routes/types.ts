/** @module The route table's shape: one definition serves Fastify and the OpenAPI document. */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Sessions } from '../../core/sessions.ts'
import type { ApiKeyRecord } from '../../core/store.ts'
import type { Scope } from '../api-keys.ts'

export interface RouteContext {
  request: FastifyRequest
  reply: FastifyReply
  sessions: Sessions
  /** The API key that authenticated the call; null on public routes. */
  key: ApiKeyRecord | null
  /** `api_key:<id>`: recorded as the actor of what the call changes. */
  actor: string
}

export interface RouteDef {
  method: 'GET' | 'POST' | 'PATCH'
  url: string
  /** The API key scope the route needs; null for public routes. */
  scope: Scope | null
  operationId: string
  summary: string
  tag: string
  schema: {
    params?: object
    querystring?: object
    body?: object
    response: Record<number, object>
  }
  handler(ctx: RouteContext): Promise<unknown>
}
