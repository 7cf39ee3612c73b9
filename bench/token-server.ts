/**
 * @module A token-suite server child: started by `run.ts` with `child_process.fork`. It issues
 * its access tokens, serves one target of `token-suite.ts` (`GET /me` behind a bearer token) and
 * reports its port and one request per token.
 */
import { runChild } from './child.ts'
import type { TokenChildConfig } from './protocol.ts'
import { startTokenTarget } from './token-targets.ts'

runChild<TokenChildConfig>(startTokenTarget)
