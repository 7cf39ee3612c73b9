/**
 * @module The token suite's targets, each a node:http server answering `GET /me` with the token's
 * subject after checking `Authorization: Bearer <jwt>`: the baseline (reads the header, no check),
 * jose's `jwtVerify` on every request, and Parley's `Verifier` with and without its cache. Every
 * target issues the same kind of tokens first (EdDSA, a TokenService on a MemoryStore), so every
 * row receives the same requests.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { importJWK, jwtVerify } from 'jose'
import { Sessions } from '../src/core/sessions.ts'
import { MemoryStore } from '../src/store/memory/index.ts'
import { TokenService, Verifier } from '../src/tokens/index.ts'
import type { Started } from './child.ts'
import { type BenchRequest, ME_PATH, type TokenChildConfig } from './protocol.ts'
import {
  closer,
  inBatches,
  isMe,
  listen,
  meBody,
  principalOf,
  sendJson,
  UNAUTHENTICATED,
} from './web-common.ts'

const ISSUER = 'http://127.0.0.1'
const AUDIENCE = 'parley-bench'
const CLIENT = 'bench'
/** Long enough for any run (the default is 5 minutes); the session's idle timeout (30 min) caps it. */
const ACCESS_TTL_MS = 30 * 60_000

/** Checks a bearer token; resolves to the principal (`sub`) or rejects. */
type Check = (token: string) => Promise<string>

interface Issued {
  service: TokenService
  store: MemoryStore
  tokens: string[]
}

/** `n` access tokens, one per session, issued by a TokenService on a MemoryStore in this process. */
async function issueTokens(n: number): Promise<Issued> {
  const store = new MemoryStore()
  await store.init()
  const sessions = new Sessions({ store })
  const service = new TokenService({
    sessions,
    tokens: store.tokens(),
    secret: randomBytes(32).toString('base64url'),
    issuer: ISSUER,
    audience: AUDIENCE,
    clients: [{ id: CLIENT }],
    alg: 'EdDSA',
    accessTtlMs: ACCESS_TTL_MS,
  })
  await service.init()
  const tokens = await inBatches(n, 50, async (i) => {
    const { session } = await sessions.create({ principal: principalOf(i) })
    return (await service.issue(session, { clientId: CLIENT })).access_token
  })
  return { service, store, tokens }
}

function bearerRequests(tokens: string[]): BenchRequest[] {
  return tokens.map((token) => ({
    method: 'GET',
    path: ME_PATH,
    headers: { authorization: `Bearer ${token}` },
  }))
}

/** The token of an `Authorization: Bearer` header, unchecked. */
function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined
}

/** The baseline's principal: the last 6 characters of the token, as long as a real one. */
const barePrincipal = (token: string) => `bench-user-${token.slice(-6)}`

function serveBare(req: IncomingMessage, res: ServerResponse): void {
  if (!isMe(req)) {
    res.writeHead(404).end()
    return
  }
  const token = bearerOf(req)
  if (token === undefined) sendJson(res, 401, UNAUTHENTICATED)
  else sendJson(res, 200, meBody(barePrincipal(token)))
}

/** A node:http server answering `GET /me` with `check`'s principal, 401 when it rejects. */
function checkingServer(check: Check) {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!isMe(req)) {
      res.writeHead(404).end()
      return
    }
    const token = bearerOf(req)
    if (token === undefined) {
      sendJson(res, 401, UNAUTHENTICATED)
      return
    }
    check(token).then(
      (principal) => sendJson(res, 200, meBody(principal)),
      () => sendJson(res, 401, UNAUTHENTICATED),
    )
  })
}

/** jose `jwtVerify` with the public key (imported once from the JWKS), no cache. */
async function joseCheck(issued: Issued): Promise<Check> {
  const [jwk] = (await issued.service.jwks()).keys
  if (jwk === undefined) throw new Error('no signing key')
  const key = await importJWK(jwk, 'EdDSA')
  const options = { issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA'], typ: 'at+jwt' }
  return async (token) => {
    const { payload } = await jwtVerify(token, key, options)
    if (typeof payload.sub !== 'string') throw new Error('no sub')
    return payload.sub
  }
}

/** Parley's Verifier on the service's in-process KeyRing and store-fed deny list. */
function parleyCheck(issued: Issued, cache: boolean): Check {
  const verifier = new Verifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: issued.service.keyRing,
    denyList: issued.service.denyList,
    cache: cache ? {} : false,
  })
  return async (token) => (await verifier.verify(token)).sub
}

/** Issues the tokens, then serves the target; the service and store close with the server. */
export async function startTokenTarget(config: TokenChildConfig): Promise<Started> {
  const issued = await issueTokens(config.tokens)
  const release = async () => {
    await issued.service.close()
    await issued.store.close()
  }
  try {
    const server =
      config.target === 'bare-http'
        ? createServer(serveBare)
        : checkingServer(
            config.target === 'jose-verify'
              ? await joseCheck(issued)
              : parleyCheck(issued, config.target === 'parley-cache'),
          )
    return {
      port: await listen(server),
      requests: bearerRequests(issued.tokens),
      close: closer(server, release),
    }
  } catch (err) {
    await release()
    throw err
  }
}
