/** @module The `parley.v1` wire protocol: frame types, close codes, limits and the codec. */

export {
  CLOSE_CODES,
  type CloseCode,
  type CloseCodeName,
  closeCodeName,
  DECODE_CLOSE_CODES,
  type DecodeCloseCode,
  mayResume,
} from './close-codes.ts'
export { type DecodeResult, decodeFrame, encodeFrame } from './codec.ts'
export * from './frames.ts'
export { BOUNDS, DEFAULT_LIMITS, type DecodeLimits, type LiveLimits } from './limits.ts'
export { type FieldSpec, SCHEMAS } from './schema.ts'
