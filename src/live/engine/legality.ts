/** @module The engine's part of the legality table of protocol section 3 (turn and credit columns). */

import type { FrameType } from '../protocol/frames.ts'

/**
 * The frames `receive()` handles, with the columns of the legality table of protocol section 3
 * that concern the engine: `turn` (half duplex: the holder only; simplex: the sender only) and
 * `credit` (consumes one). Any other frame type is the connection's business: 4202 here.
 */
export const ENGINE_FRAMES = {
  msg: { turn: true, credit: true },
  ack: { turn: false, credit: false },
  gap: { turn: false, credit: false },
  ckpt: { turn: true, credit: false },
  ckpt_ok: { turn: false, credit: false },
  resync: { turn: false, credit: false },
  resync_ok: { turn: false, credit: false },
  turn_please: { turn: false, credit: false },
  turn_give: { turn: false, credit: false },
  credit: { turn: false, credit: false },
  call: { turn: true, credit: false },
  result: { turn: false, credit: false },
  error: { turn: false, credit: false },
} as const satisfies Partial<Record<FrameType, { turn: boolean; credit: boolean }>>
