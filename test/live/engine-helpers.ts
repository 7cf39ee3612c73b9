/** @module Test support: build Peers with small limits and collect their events. */

import { ManualClock } from '../../src/core/clock.ts'
import type {
  PeerEvent,
  PeerLimits,
  PeerOptions,
  PeerState,
  SlowConsumerPolicy,
} from '../../src/live/engine/index.ts'
import { Peer } from '../../src/live/engine/index.ts'
import type { DialogMode, Frame, Side } from '../../src/live/protocol/frames.ts'

export const LIMITS: PeerLimits = {
  replayMaxCount: 1000,
  replayMaxBytes: 1_000_000,
  replayMaxAgeMs: 60_000,
  maxPendingCalls: 4,
  maxCredit: 100,
  maxQueued: 10,
}

export interface Made {
  peer: Peer
  events: PeerEvent[]
  clock: ManualClock
}

/** A Peer with collected events; attached unless `attach: false`. */
export function make(
  o: {
    side?: Side
    limits?: Partial<PeerLimits>
    policy?: SlowConsumerPolicy
    mode?: DialogMode
    turn?: Side | null
    state?: PeerState
    credit?: number
    grant?: number
    attach?: boolean
    autoCredit?: boolean
    clock?: ManualClock
  } = {},
): Made {
  const events: PeerEvent[] = []
  const clock = o.clock ?? new ManualClock(1_000)
  const opts: PeerOptions = {
    side: o.side ?? 'server',
    clock,
    limits: { ...LIMITS, ...o.limits },
    policy: o.policy ?? 'wait',
    mode: o.mode ?? 'full',
    turn: o.turn ?? null,
    onEvent: (e) => events.push(e),
    autoCredit: o.autoCredit ?? false,
  }
  if (o.state) opts.state = o.state
  const peer = new Peer(opts)
  if (o.attach !== false) peer.attach(0, o.credit ?? 10, o.grant ?? 10)
  return { peer, events, clock }
}

/** The frames of one flush. */
export function frames(p: Peer): Frame[] {
  return p.flush().frames
}

/** Delivers frames to `to`, failing on a violation. */
export function pipe(fs: Frame[], to: Peer): void {
  for (const f of fs) {
    const v = to.receive(f)
    if (v) throw new Error(`violation ${v.code} ${v.message} on ${JSON.stringify(f)}`)
  }
}
