/**
 * @module JSON schemas of the service API: they validate requests (unknown fields refused, sizes
 * bounded, SEC-53), shape responses, and generate /openapi.json.
 */
import { END_REASONS, EVENT_TYPES } from '../core/session.ts'

/**
 * `type: [T, 'null']` rather than `anyOf`: the response serializer (fast-json-stringify) handles a
 * type list directly, while `anyOf` makes it run a validator on every value of the hot path.
 */
const nullable = (schema: { type: string; [k: string]: unknown }) => {
  const { enum: values, ...rest } = schema as { enum?: readonly unknown[]; type: string }
  return { ...rest, type: [schema.type, 'null'], ...(values ? { enum: [...values, null] } : {}) }
}
const time = { type: 'integer', description: 'epoch milliseconds' } as const

export const sessionId = {
  type: 'string',
  pattern: '^[A-Za-z0-9_-]{22}$',
  description: 'a session id (not a token)',
} as const
export const principal = {
  type: 'string',
  minLength: 1,
  maxLength: 256,
  description: 'the user, device or service the session belongs to',
} as const
export const endReason = { type: 'string', enum: [...END_REASONS] } as const
const ip = { type: 'string', maxLength: 64, pattern: '^[0-9A-Fa-f:.]+$' } as const
const userAgent = { type: 'string', maxLength: 512 } as const
const data = {
  type: 'object',
  additionalProperties: true,
  description: 'small application data (JSON object)',
} as const
/** Roles and permissions: short names, bounded in number (SEC-36). */
const names = {
  type: 'array',
  maxItems: 64,
  items: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:*-]+$' },
} as const
const authIn = {
  type: 'object',
  additionalProperties: false,
  properties: {
    factors: {
      type: 'array',
      maxItems: 8,
      items: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[a-z0-9_-]+$' },
    },
    level: { type: 'integer', minimum: 0, maximum: 9 },
    authenticatedAt: time,
    roles: names,
    permissions: names,
  },
} as const

export const session = {
  type: 'object',
  required: [
    'id',
    'principal',
    'state',
    'createdAt',
    'lastSeenAt',
    'idleTimeoutMs',
    'idleExpiresAt',
    'absoluteExpiresAt',
    'endedAt',
    'endReason',
    'auth',
    'client',
    'data',
    'version',
  ],
  properties: {
    id: sessionId,
    principal: { type: 'string' },
    state: { type: 'string', enum: ['active', 'ended'] },
    createdAt: time,
    lastSeenAt: time,
    idleTimeoutMs: { type: 'integer' },
    idleExpiresAt: time,
    absoluteExpiresAt: time,
    endedAt: nullable(time),
    endReason: nullable(endReason),
    auth: {
      type: 'object',
      properties: {
        factors: { type: 'array', items: { type: 'string' } },
        level: { type: 'integer' },
        authenticatedAt: time,
        roles: { type: 'array', items: { type: 'string' } },
        permissions: { type: 'array', items: { type: 'string' } },
      },
    },
    client: {
      type: 'object',
      properties: { ip: nullable({ type: 'string' }), userAgent: nullable({ type: 'string' }) },
    },
    data,
    version: { type: 'integer' },
  },
} as const

export const event = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    at: time,
    type: { type: 'string', enum: [...EVENT_TYPES] },
    sessionId: nullable({ type: 'string' }),
    principal: nullable({ type: 'string' }),
    reason: nullable(endReason),
    actor: nullable({ type: 'string' }),
    ip: nullable({ type: 'string' }),
    userAgent: nullable({ type: 'string' }),
    detail: nullable({ type: 'object', additionalProperties: true }),
  },
} as const

export const problem = {
  type: 'object',
  description: 'RFC 9457 problem details; `code` is stable (docs/errors.md)',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string' },
    detail: { type: 'string' },
    reason: endReason,
  },
  additionalProperties: true,
} as const

export const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['principal'],
  properties: {
    principal,
    ip,
    userAgent,
    auth: authIn,
    data,
    idleTimeoutMs: { type: 'integer', minimum: 1000, maximum: 31_622_400_000 },
    absoluteTimeoutMs: { type: 'integer', minimum: 1000, maximum: 31_622_400_000 },
  },
} as const

export const validateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: {
    token: {
      type: 'string',
      maxLength: 256,
      description: 'the session token the client presented',
    },
    touch: { type: 'boolean', default: true },
  },
} as const

export const updateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['expectedVersion'],
  properties: {
    expectedVersion: { type: 'integer', minimum: 1 },
    data,
    auth: { ...authIn, required: ['factors', 'level', 'authenticatedAt'] },
  },
} as const

export const endBody = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: endReason, ip, userAgent },
} as const

export const endPrincipalBody = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: endReason, exceptSessionId: sessionId, ip, userAgent },
} as const

export const endAllBody = {
  type: 'object',
  additionalProperties: false,
  required: ['confirm'],
  properties: { reason: endReason, confirm: { const: 'end-all-sessions' } },
} as const

export const eventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: {
      type: 'string',
      pattern: '^[1-9][0-9]{0,3}$',
      description: 'how many of the most recent events (1 to 1000, default 100)',
    },
  },
} as const
