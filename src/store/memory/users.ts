/** @module MemoryUserStore: the UserStore in one process's memory, for tests and embedding. */
import type {
  FailureCount,
  TotpRecord,
  UserPatch,
  UserRecord,
  UserStore,
} from '../../auth/user-store.ts'
import { ParleyError } from '../../core/errors.ts'

function copyTotp(t: TotpRecord | null): TotpRecord | null {
  return t === null ? null : { ...t }
}

function copyUser(u: UserRecord): UserRecord {
  return {
    ...u,
    roles: [...u.roles],
    permissions: [...u.permissions],
    totp: copyTotp(u.totp),
    recoveryCodes: [...u.recoveryCodes],
  }
}

/**
 * Users in memory. Every method completes in one synchronous step, so each is atomic.
 *
 * @example
 * const auth = new Auth({ users: new MemoryUserStore(), sessions, encryptionKey })
 */
export class MemoryUserStore implements UserStore {
  readonly kind = 'memory'
  #users = new Map<string, UserRecord>()
  #byName = new Map<string, string>()
  #failures = new Map<string, FailureCount & { windowEndsAt: number }>()

  async init(): Promise<void> {}
  async close(): Promise<void> {}

  async createUser(record: UserRecord): Promise<void> {
    if (this.#byName.has(record.username) || this.#users.has(record.id)) {
      throw new ParleyError('ERR_USER_EXISTS')
    }
    this.#users.set(record.id, copyUser(record))
    this.#byName.set(record.username, record.id)
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const u = this.#users.get(id)
    return u === undefined ? null : copyUser(u)
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    const id = this.#byName.get(username)
    return id === undefined ? null : this.getUser(id)
  }

  async updateUser(id: string, expectedVersion: number, patch: UserPatch): Promise<UserRecord> {
    const u = this.#users.get(id)
    if (u === undefined) throw new ParleyError('ERR_USER_NOT_FOUND')
    if (u.version !== expectedVersion) throw new ParleyError('ERR_VERSION_CONFLICT')
    const next: UserRecord = copyUser({
      ...u,
      ...definedOnly(patch),
      version: u.version + 1,
    })
    this.#users.set(id, next)
    return copyUser(next)
  }

  async useTotpStep(id: string, step: number): Promise<boolean> {
    const u = this.#users.get(id)
    if (u?.totp == null || !Number.isSafeInteger(step) || step <= u.totp.lastUsedStep) return false
    u.totp.lastUsedStep = step
    return true
  }

  async useRecoveryCode(id: string, codeHash: string): Promise<boolean> {
    const u = this.#users.get(id)
    const i = u?.recoveryCodes.indexOf(codeHash) ?? -1
    if (u === undefined || i < 0) return false
    u.recoveryCodes.splice(i, 1)
    return true
  }

  async recordFailure(key: string, at: number, windowMs: number): Promise<FailureCount> {
    const current = this.#failures.get(key)
    const next =
      current === undefined || at >= current.firstAt + windowMs
        ? { count: 1, firstAt: at, lastAt: at, windowEndsAt: at + windowMs }
        : { ...current, count: current.count + 1, lastAt: at }
    this.#failures.set(key, next)
    return { count: next.count, firstAt: next.firstAt, lastAt: next.lastAt }
  }

  async getFailures(key: string, at: number, windowMs: number): Promise<FailureCount | null> {
    const current = this.#failures.get(key)
    if (current === undefined) return null
    if (at >= current.firstAt + windowMs) {
      this.#failures.delete(key)
      return null
    }
    return { count: current.count, firstAt: current.firstAt, lastAt: current.lastAt }
  }

  async clearFailures(key: string): Promise<void> {
    this.#failures.delete(key)
  }

  async purgeFailures(now: number): Promise<number> {
    let n = 0
    for (const [key, f] of this.#failures) {
      if (f.windowEndsAt <= now) {
        this.#failures.delete(key)
        n++
      }
    }
    return n
  }
}

function definedOnly(patch: UserPatch): Partial<UserRecord> {
  const out: Partial<UserRecord> = {}
  for (const [k, v] of Object.entries(patch)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v
  }
  return out
}
