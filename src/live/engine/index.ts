/** @module The `parley.v1` session engine: `Peer` and its contract types. */

export { ENGINE_FRAMES, Peer } from './peer.ts'
export type * from './types.ts'
