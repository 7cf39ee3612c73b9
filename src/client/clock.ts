/**
 * @module The client's default time source, `Date.now` (looked up when this module loads): the
 * client's counterpart of src/core/clock.ts, which it may not import. Every other client module
 * takes time from the injected `now` option.
 */

/** Milliseconds since the Unix epoch. */
export type Now = () => number

/** The system clock; in a browser under a fake clock (tests), the fake one. */
export const systemNow: Now = Date.now
