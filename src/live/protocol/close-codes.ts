/** @module WebSocket close codes of `parley.v1`: one table, ranges that say whether to resume. */

/**
 * Every close code Parley sends, in the private range 4000–4999. The hundreds tell the client
 * what to do: 4000–4099 resume (after a backoff), 4100–4199 do not resume, authenticate again,
 * 4200–4299 protocol error, do not resume. docs/protocol.md lists the same table; a test keeps
 * the two equal.
 */
export const CLOSE_CODES = {
  server_draining: {
    code: 4000,
    resumable: true,
    sec: null,
    description: 'The server is shutting down or shedding load; resume after retryMs or a jitter.',
  },
  heartbeat_timeout: {
    code: 4001,
    resumable: true,
    sec: null,
    description: 'No pong or other frame arrived within heartbeatMs after a ping.',
  },
  handshake_timeout: {
    code: 4002,
    resumable: true,
    sec: 'SEC-47',
    description: 'No valid hello arrived within the handshake timeout; connect again.',
  },
  slow_consumer: {
    code: 4003,
    resumable: true,
    sec: 'SEC-49',
    description: 'The outbound queue overflowed under the disconnect policy; resume to replay.',
  },
  too_many_connections: {
    code: 4004,
    resumable: true,
    sec: 'SEC-49',
    description: 'Too many connections for this principal or address; retry after a backoff.',
  },
  store_unavailable: {
    code: 4005,
    resumable: true,
    sec: null,
    description: 'The session store is unavailable; resume after a backoff.',
  },
  internal_error: {
    code: 4006,
    resumable: true,
    sec: null,
    description: 'An unexpected server failure; resume after a backoff.',
  },
  session_ended: {
    code: 4100,
    resumable: false,
    sec: 'SEC-51',
    description: 'The session has ended; the bye frame before the close carries the end reason.',
  },
  credential_invalid: {
    code: 4101,
    resumable: false,
    sec: 'SEC-47',
    description: 'The credential in hello or refresh is malformed, unknown, revoked or wrong.',
  },
  credential_expired: {
    code: 4102,
    resumable: false,
    sec: 'SEC-47',
    description: 'The credential expired and no refresh arrived in time.',
  },
  resume_token_invalid: {
    code: 4103,
    resumable: false,
    sec: 'SEC-48',
    description: 'The resume token is stale, foreign, reused or unknown; the session is untouched.',
  },
  superseded: {
    code: 4104,
    resumable: false,
    sec: 'SEC-48',
    description: 'Another connection resumed this session with a valid token.',
  },
  malformed_frame: {
    code: 4200,
    resumable: false,
    sec: 'SEC-50',
    description:
      'Not UTF-8, not JSON, not an object, or a field is missing, mistyped or out of range.',
  },
  unknown_frame_type: {
    code: 4201,
    resumable: false,
    sec: 'SEC-50',
    description: 'The t field names no frame type of parley.v1.',
  },
  frame_out_of_state: {
    code: 4202,
    resumable: false,
    sec: 'SEC-50',
    description: 'The frame is not legal in this state or from this side.',
  },
  sequence_error: {
    code: 4203,
    resumable: false,
    sec: 'SEC-50',
    description: 'A seq is not the next expected, or an ack exceeds what was sent.',
  },
  out_of_turn: {
    code: 4204,
    resumable: false,
    sec: 'SEC-50',
    description: 'A frame that needs the turn came from the side that does not hold it.',
  },
  over_credit: {
    code: 4205,
    resumable: false,
    sec: 'SEC-50',
    description: 'A msg arrived without credit, or a grant raised the balance over maxCredit.',
  },
  too_large: {
    code: 4206,
    resumable: false,
    sec: 'SEC-49',
    description: 'The frame, a payload or its nesting depth is over the limit.',
  },
  rate_limited: {
    code: 4207,
    resumable: false,
    sec: 'SEC-49',
    description: 'The peer sent frames faster than the message rate allows.',
  },
  unsupported_protocol: {
    code: 4208,
    resumable: false,
    sec: null,
    description: 'The connection did not negotiate the parley.v1 subprotocol.',
  },
} as const satisfies Record<
  string,
  { code: number; resumable: boolean; sec: `SEC-${number}` | null; description: string }
>

export type CloseCodeName = keyof typeof CLOSE_CODES
export type CloseCode = (typeof CLOSE_CODES)[CloseCodeName]['code']

/** The codes {@link decodeFrame} can return: a documented subset of the 4200 range. */
export const DECODE_CLOSE_CODES = [
  CLOSE_CODES.malformed_frame.code,
  CLOSE_CODES.unknown_frame_type.code,
  CLOSE_CODES.too_large.code,
] as const

export type DecodeCloseCode = (typeof DECODE_CLOSE_CODES)[number]

const BY_CODE = new Map<number, CloseCodeName>(
  Object.entries(CLOSE_CODES).map(([name, { code }]) => [code, name as CloseCodeName]),
)

/**
 * The name of a close code, or `undefined` for a code this version does not define.
 *
 * @example
 * closeCodeName(4103) // 'resume_token_invalid'
 */
export function closeCodeName(code: number): CloseCodeName | undefined {
  return BY_CODE.get(code)
}

/** Standard WebSocket codes that mean transport trouble, not a verdict on the session. */
const STANDARD_RESUMABLE: ReadonlySet<number> = new Set([
  1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014,
])

/**
 * Whether a client may resume after a close with `code`. Parley codes decide by range, so codes
 * a later version adds are handled too: 4000–4099 yes, the rest of 4000–4999 no. Of the standard
 * codes, those that mean transport trouble (1000, 1001, 1005, 1006, 1011–1014) allow a resume;
 * protocol-level ones (1002, 1003, 1007–1010, 1015) and 3000–3999 do not.
 *
 * @example
 * if (mayResume(event.code)) scheduleResume(); else signInAgain()
 */
export function mayResume(code: number): boolean {
  if (code >= 4000 && code <= 4099) return Number.isInteger(code)
  return STANDARD_RESUMABLE.has(code)
}
