/** @module The live-session gateway (`parley/live`): the server side of `parley.v1` over WebSocket. */

export {
  type Authenticated,
  type AuthInput,
  type AuthRefusal,
  authenticate,
  COOKIE_CREDENTIAL,
  checkUpgrade,
  offersSubprotocol,
  type UpgradeVerdict,
} from './auth.ts'
export { LiveRpcError, LiveSendError, type LiveSendErrorCode } from './errors.ts'
export { createLiveGateway, type LiveGateway } from './gateway.ts'
export { hashResumeToken, newResumeToken } from './handshake.ts'
export { TokenBucket } from './rate-limiter.ts'
export { Counter, Registry } from './registry.ts'
export {
  type Scheduler,
  systemScheduler,
  TimerWheel,
  type TimerWheelOptions,
  type WheelTimer,
} from './timer-wheel.ts'
export type * from './types.ts'
