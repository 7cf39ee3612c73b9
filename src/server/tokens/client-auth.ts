/**
 * @module Client authentication at introspection and revocation (SEC-45): an API key as client
 * credentials, `client_id=plyk_<id>` and `client_secret=<secret>`, by HTTP Basic
 * (`client_secret_basic`) or in the form (`client_secret_post`); or a public client by id alone
 * where the endpoint allows it.
 */
import type { FastifyRequest } from 'fastify'
import type { ApiKeyRecord } from '../../core/store.ts'
import { TOKEN_PREFIXES } from '../../core/token.ts'
import type { ApiKeyChecker } from '../api-keys.ts'
import { OAuthError } from './oauth-errors.ts'

export type AuthenticatedClient =
  | { kind: 'api_key'; clientId: string; key: ApiKeyRecord }
  | { kind: 'public'; clientId: string }

const failed = (why: string) => new OAuthError('invalid_client', why, 'ERR_CLIENT_INVALID')

/** RFC 6749 sec. 2.3.1: the id and secret are form-encoded before they are joined and base64ed. */
function basicCredentials(header: string): { id: string; secret: string } | null {
  if (!/^basic /i.test(header)) return null
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon === -1) throw failed('malformed Basic credentials')
  try {
    const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '))
    return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) }
  } catch {
    throw failed('malformed Basic credentials')
  }
}

/**
 * Authenticates the client of a form request. Throws `invalid_client` (401, answered with
 * `WWW-Authenticate: Basic`) for missing, unknown or wrong credentials.
 *
 * @example
 * const client = await authenticateClient(request, form, apiKeys, { publicClients })
 */
export async function authenticateClient(
  request: FastifyRequest,
  form: Record<string, string>,
  apiKeys: ApiKeyChecker,
  options: { publicClients?: ReadonlySet<string> } = {},
): Promise<AuthenticatedClient> {
  const header = request.headers.authorization
  const basic = typeof header === 'string' ? basicCredentials(header) : null
  if (typeof header === 'string' && basic === null)
    throw failed('use HTTP Basic client credentials')
  if (basic !== null && form.client_secret !== undefined)
    throw failed('use one client authentication method, not two')
  if (basic !== null && form.client_id !== undefined && form.client_id !== basic.id)
    throw failed('client_id does not match the credentials')
  const id = basic?.id ?? form.client_id
  const secret = basic?.secret ?? form.client_secret
  if (id === undefined || id === '') throw failed('client authentication is required')
  if (secret === undefined) {
    if (options.publicClients?.has(id)) return { kind: 'public', clientId: id }
    throw failed('client authentication is required')
  }
  if (!id.startsWith(TOKEN_PREFIXES.apiKey)) throw failed('unknown client')
  try {
    const key = await apiKeys.check(`Bearer ${id}.${secret}`)
    return { kind: 'api_key', clientId: id, key }
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_API_KEY_INVALID') throw failed('unknown client')
    throw err
  }
}
