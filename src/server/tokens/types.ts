/** @module What the token routes need of the TokenService (src/tokens/): the five operations behind them. */

import type { TokenService } from '../../tokens/service.ts'
import type { TokenContext } from '../../tokens/token-events.ts'

export type { TokenResponse } from '../../tokens/service-options.ts'
export type TokenCallContext = TokenContext

/** The TokenService operations behind the endpoints. */
export type TokenEndpoints = Pick<
  TokenService,
  'issue' | 'refresh' | 'revoke' | 'introspect' | 'jwks'
>
