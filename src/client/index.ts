/** @module `parley/client`: the token client for browsers and Node (no Node-only imports). */
export { ParleyClient, type ParleyClientOptions, type SignInInput } from './client.ts'
export type { Now } from './clock.ts'
export type { CrossTabMessage } from './cross-tab.ts'
export type { BroadcastChannelLike, LockManagerLike, StorageLike } from './dom.ts'
export {
  type ClientErrorDetails,
  type ClientOnlyCode,
  type KnownCode,
  ParleyClientError,
} from './errors.ts'
export type { ClientEvents, SignedOutEvent, TokensEvent } from './events.ts'
export type { FetchLike } from './http.ts'
export type { Random } from './live-backoff.ts'
export { LiveClient } from './live-client.ts'
export {
  globalWebSocket,
  type WebSocketConstructor,
  type WebSocketLike,
} from './live-connection.ts'
export { LiveCallError, LiveError, type LiveErrorCode } from './live-errors.ts'
export type * from './live-events.ts'
export type { LiveClientOptions } from './live-options.ts'
export {
  BrowserLiveStorage,
  type LiveStorage,
  MemoryLiveStorage,
  type SavedLive,
} from './live-outbox.ts'
export type { CallHandler } from './live-rpc.ts'
export {
  type Cancel,
  type LiveClock,
  type LiveScheduler,
  ManualScheduler,
} from './live-scheduler.ts'
export { MemoryStorage, type Tokens } from './token-state.ts'
