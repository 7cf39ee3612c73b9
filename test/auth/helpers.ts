/** @module Test helpers for the auth module: an Auth over memory stores, a manual clock, all events. */
import { randomBytes } from 'node:crypto'
import { Secret, TOTP } from 'otpauth'
import { expect } from 'vitest'
import { Auth, type AuthOptions } from '../../src/auth/auth.ts'
import { ManualClock } from '../../src/core/clock.ts'
import { isParleyError, type ParleyError } from '../../src/core/errors.ts'
import type { AuditEvent, AuditEventInput } from '../../src/core/session.ts'
import { Sessions } from '../../src/core/sessions.ts'
import { MemoryStore, MemoryUserStore } from '../../src/store/memory/index.ts'

/** Small argon2id parameters so tests run fast (never the defaults, except where they are tested). */
export const FAST = { memoryKiB: 1024, passes: 1, parallelism: 1 }
export const PASSWORD = 'correct horse battery staple'

/** A MemoryStore that also keeps every event appended directly (anonymous ones included). */
export class RecordingStore extends MemoryStore {
  readonly appended: AuditEventInput[] = []
  override async appendEvent(event: AuditEventInput): Promise<void> {
    this.appended.push(structuredClone(event))
    await super.appendEvent(event)
  }
}

export function setup(overrides: Partial<AuthOptions> = {}) {
  const clock = new ManualClock()
  const store = new RecordingStore()
  const users = new MemoryUserStore()
  const sessions = new Sessions({ store, clock })
  const secret = randomBytes(32).toString('base64url')
  const auth = new Auth({ users, sessions, clock, secret, password: FAST, ...overrides })
  /** Every event: the session events of the given principals plus everything appended directly. */
  // (events() also returns the appended ones of a principal: only the store's own are taken from it)
  const allEvents = async (...principals: string[]): Promise<(AuditEvent | AuditEventInput)[]> => {
    const own = await Promise.all(
      principals.map((principal) => store.events({ principal, limit: 1000 })),
    )
    return [...own.flat().filter((e) => e.type.startsWith('session.')), ...store.appended]
  }
  return { auth, clock, store, users, sessions, secret, allEvents }
}

/** The current TOTP code for a base32 secret at `at` (epoch ms). */
export function totpCode(secret: string, at: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at })
}

/** Runs `fn`, expects a ParleyError, and returns it. */
export async function rejection(fn: () => Promise<unknown>): Promise<ParleyError> {
  try {
    await fn()
  } catch (err) {
    if (isParleyError(err)) return err
    throw err
  }
  expect.fail('expected a ParleyError')
}

/** What a client sees of an error. */
export function wire(err: ParleyError) {
  return { code: err.code, status: err.status, message: err.message, details: err.details }
}
