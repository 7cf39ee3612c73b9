import fc from 'fast-check'
import { describe, it } from 'vitest'
import type { SlowConsumerPolicy } from '../../src/live/engine/index.ts'
import { type Cmd, runScenario, type Who } from './engine-scenario.ts'

const who = fc.constantFrom<Who>('c', 's')
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('send' as const), who }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('call' as const), who }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('answer' as const), who }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ckpt' as const), who }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('confirm' as const), who }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('flush' as const), who }) },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('deliver' as const),
      who,
      n: fc.integer({ min: 1, max: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ k: 'disconnect' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'connect' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'restartServer' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'restartClient' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 400 }) }),
  },
)

const setup = fc.record({
  lossless: fc.boolean(),
  replayMaxCount: fc.integer({ min: 2, max: 200 }),
  replayMaxBytes: fc.constantFrom(200, 100_000),
  replayMaxAgeMs: fc.constantFrom(1_000, 1_000_000),
  maxQueued: fc.integer({ min: 1, max: 20 }),
  maxPendingCalls: fc.integer({ min: 1, max: 8 }),
  policy: fc.constantFrom<SlowConsumerPolicy>('wait', 'drop-oldest', 'disconnect'),
  helloCredit: fc.integer({ min: 1, max: 8 }),
  welcomeCredit: fc.integer({ min: 1, max: 8 }),
})

describe('engine property: two peers over a faulty link', () => {
  it('delivers every message exactly once in order or as a gap; calls run at most once and are answered once', () => {
    fc.assert(
      fc.property(setup, fc.array(cmd, { minLength: 40, maxLength: 160 }), (cfg, cmds) => {
        runScenario(cfg, cmds)
      }),
      { numRuns: 200 },
    )
  })
})
