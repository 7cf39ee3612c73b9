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
export { MemoryStorage, type Tokens } from './token-state.ts'
