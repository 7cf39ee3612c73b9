/** @module Test support: runs one scenario of the engine property test and checks its outcome. */

import { expect } from 'vitest'
import type { PeerLimits, SlowConsumerPolicy } from '../../src/live/engine/index.ts'
import { type AppLog, Sim } from './engine-sim.ts'

export type Who = 'c' | 's'
export type Cmd =
  | { k: 'send' | 'call' | 'answer' | 'ckpt' | 'confirm' | 'flush'; who: Who }
  | { k: 'deliver'; who: Who; n: number }
  | { k: 'disconnect' | 'connect' | 'restartServer' | 'restartClient' }
  | { k: 'tick'; ms: number }

export interface Config {
  lossless: boolean
  replayMaxCount: number
  replayMaxBytes: number
  replayMaxAgeMs: number
  maxQueued: number
  maxPendingCalls: number
  policy: SlowConsumerPolicy
  helloCredit: number
  welcomeCredit: number
}

/** The receiver's durable stream covers 1..last exactly once, in order, with the sent data. */
function checkStream(rx: AppLog, tx: AppLog, upTo: number | null, reasons: string[]): void {
  let next = 1
  for (const e of rx.received) {
    if ('seq' in e) {
      expect(e.seq).toBe(next)
      expect(e.json).toBe(tx.sent.get(e.seq))
      next++
    } else {
      expect(reasons).toContain(e.reason)
      expect(e.from).toBe(next)
      expect(e.to).toBeGreaterThanOrEqual(e.from)
      next = e.to + 1
    }
  }
  if (upTo !== null) expect(next - 1).toBe(upTo)
}

function checkCalls(caller: AppLog, callee: AppLog, survived: boolean): void {
  expect(new Set(callee.executed).size).toBe(callee.executed.length)
  expect(new Set(caller.results).size).toBe(caller.results.length)
  for (const id of caller.results) expect(caller.calls).toContain(id)
  if (survived) expect([...caller.results].sort()).toEqual([...caller.calls].sort())
}

/** Runs `cmds`, settles without faults, and checks every guarantee. */
export function runScenario(cfg: Config, cmds: Cmd[]): void {
  const limits: PeerLimits = {
    replayMaxCount: cfg.lossless ? 100_000 : cfg.replayMaxCount,
    replayMaxBytes: cfg.lossless ? 100_000_000 : cfg.replayMaxBytes,
    replayMaxAgeMs: cfg.lossless ? 100_000_000 : cfg.replayMaxAgeMs,
    maxPendingCalls: cfg.maxPendingCalls,
    maxCredit: 65_536,
    maxQueued: cfg.maxQueued,
  }
  const sim = new Sim({
    limits,
    policy: cfg.policy,
    helloCredit: cfg.helloCredit,
    welcomeCredit: cfg.welcomeCredit,
  })
  for (const c of cmds) {
    const side = 'who' in c ? (c.who === 'c' ? sim.c : sim.s) : sim.c
    switch (c.k) {
      case 'send':
        sim.send(side)
        break
      case 'call':
        sim.call(side)
        break
      case 'answer':
        sim.answer(side)
        break
      case 'ckpt':
        sim.checkpoint(side)
        break
      case 'confirm':
        sim.confirm(side)
        break
      case 'flush':
        sim.flush(side)
        break
      case 'deliver':
        sim.deliver(side, c.n)
        break
      case 'disconnect':
        sim.disconnect()
        break
      case 'connect':
        sim.connect()
        break
      case 'restartServer':
        sim.restartServer()
        break
      case 'restartClient':
        sim.restartClient()
        break
      case 'tick':
        sim.clock.advance(c.ms)
        break
    }
    expect(sim.violations).toEqual([])
  }
  sim.settle()
  expect(sim.violations).toEqual([])
  expect(sim.creditNegative).toBe(false)
  const cs = sim.c.peer.snapshot()
  const ss = sim.s.peer.snapshot()
  // Gaps only for the losses this configuration allows (none when lossless).
  const reasons: string[] = []
  if (cfg.policy === 'drop-oldest') reasons.push('slow_consumer')
  if (!cfg.lossless) reasons.push('buffer_count', 'buffer_bytes', 'buffer_age')
  checkStream(sim.c.durable, sim.s.durable, ss.outSeq, reasons)
  checkStream(sim.s.durable, sim.c.durable, cs.outSeq, reasons)
  checkCalls(sim.c.durable, sim.s.durable, true)
  checkCalls(sim.s.durable, sim.c.durable, true)
  // Checkpoints both sides confirmed agree on the position in both streams.
  for (const a of cs.checkpoints) {
    const b = ss.checkpoints.find((x) => x.id === a.id)
    if (b) expect([a.outSeq, a.inSeq]).toEqual([b.inSeq, b.outSeq])
  }
  expect(sim.c.peer.unacked).toBe(0)
  expect(sim.s.peer.unacked).toBe(0)
}
