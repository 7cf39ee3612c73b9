/** @module The core: model, lifecycle, policy, credentials, clock, errors and the store contract. */
export { type Clock, ManualClock, systemClock } from './clock.ts'
export {
  ERROR_CODES,
  type ErrorCode,
  isParleyError,
  ParleyError,
  storeUnavailable,
} from './errors.ts'
export { DEFAULT_POLICY, resolvePolicy, type SessionPolicy } from './policy.ts'
export * from './session.ts'
export * from './sessions.ts'
export * from './store.ts'
export * from './token.ts'
