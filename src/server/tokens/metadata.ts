/** @module RFC 8414 authorization server metadata of `parley serve`, at `/.well-known/oauth-authorization-server`. */

/** The paths of the token routes, one place for the routes, the metadata and the docs. */
export const TOKEN_PATHS = Object.freeze({
  jwks: '/.well-known/jwks.json',
  metadata: '/.well-known/oauth-authorization-server',
  signIn: '/auth/token',
  token: '/oauth/token',
  introspect: '/oauth/introspect',
  revoke: '/oauth/revoke',
  revoked: '/v1/tokens/revoked',
})

/** The metadata document; every endpoint is the issuer's URL plus its path. */
export function authorizationServerMetadata(issuer: string, dpopAlgs: readonly string[]) {
  const at = (path: string) => `${issuer.replace(/\/$/, '')}${path}`
  return {
    issuer,
    token_endpoint: at(TOKEN_PATHS.token),
    introspection_endpoint: at(TOKEN_PATHS.introspect),
    revocation_endpoint: at(TOKEN_PATHS.revoke),
    jwks_uri: at(TOKEN_PATHS.jwks),
    grant_types_supported: ['refresh_token'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      'none',
    ],
    dpop_signing_alg_values_supported: [...dpopAlgs],
  }
}
