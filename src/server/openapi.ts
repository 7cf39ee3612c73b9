/** @module Builds the OpenAPI 3.1 document from the same route table and schemas that validate requests. */
import type { RouteDef } from './routes/types.ts'

function toOpenApiPath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, '{$1}')
}

function parameters(
  schema: { properties?: Record<string, object>; required?: readonly string[] } | undefined,
  where: 'path' | 'query',
) {
  return Object.entries(schema?.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (schema?.required ?? []).includes(name),
    schema: s,
  }))
}

/** The OpenAPI 3.1 document for `routes`. */
export function buildOpenApi(
  routes: readonly RouteDef[],
  version: string,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const path = toOpenApiPath(r.url)
    paths[path] ??= {}
    const responses: Record<string, unknown> = {}
    for (const [status, schema] of Object.entries(r.schema.response)) {
      const problem = Number(status) >= 400
      responses[status] = {
        description: problem ? 'problem details (docs/errors.md)' : 'success',
        content: { [problem ? 'application/problem+json' : 'application/json']: { schema } },
      }
    }
    paths[path][r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      ...(r.scope === null ? { security: [] } : { 'x-parley-scope': r.scope }),
      parameters: [
        ...parameters(r.schema.params as never, 'path'),
        ...parameters(r.schema.querystring as never, 'query'),
      ],
      ...(r.schema.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: r.schema.body } },
            },
          }
        : {}),
      responses,
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley service API',
      version,
      description:
        'Sessions for back ends: establish, validate, touch, end, list, audit. Authenticate with `Authorization: Bearer plyk_...` (an API key from `parley keys create`).',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'a Parley API key (plyk_...)' },
      },
    },
    security: [{ apiKey: [] }],
    paths,
  }
}
