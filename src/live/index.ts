/**
 * @module `parley/live`: live sessions. The `parley.v1` wire protocol (frames, codec, close codes,
 * limits), the transport-free session engine both ends run, the live-session store contract, and
 * the gateway that serves live sessions over WebSocket on any node:http server.
 */
export * from './engine/index.ts'
export type * from './live-store.ts'
export * from './protocol/index.ts'
export * from './server/index.ts'
