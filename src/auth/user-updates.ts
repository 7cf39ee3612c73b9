/** @module Version-checked user updates with retry, and the checks on role and permission names. */
import type { Clock } from '../core/clock.ts'
import { isParleyError, ParleyError } from '../core/errors.ts'
import type { UserPatch, UserRecord, UserStore } from './user-store.ts'

/** Attempts before a conflicting update gives up with ERR_VERSION_CONFLICT. */
export const UPDATE_TRIES = 8

/**
 * Applies a patch computed from the current user, reading again and retrying when someone else
 * wrote first. `patch` may throw to refuse (for example ERR_TOTP_STATE).
 *
 * @example
 * const user = await mutateUser(users, clock, id, (u) => ({ disabled: true }))
 */
export async function mutateUser(
  users: UserStore,
  clock: Clock,
  id: string,
  patch: (user: UserRecord) => Omit<UserPatch, 'updatedAt'>,
): Promise<UserRecord> {
  for (let attempt = 1; ; attempt++) {
    const user = typeof id === 'string' ? await users.getUser(id) : null
    if (user === null) throw new ParleyError('ERR_USER_NOT_FOUND')
    try {
      return await users.updateUser(id, user.version, { ...patch(user), updatedAt: clock.now() })
    } catch (err) {
      if (!isParleyError(err, 'ERR_VERSION_CONFLICT') || attempt >= UPDATE_TRIES) throw err
    }
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * A list of role or permission names: at most 256, each 1 to 128 characters, no control
 * characters; duplicates dropped. Throws ERR_VALIDATION.
 *
 * @example
 * checkNames('roles', ['admin', 'editor']) // ['admin', 'editor']
 */
export function checkNames(name: string, value: unknown): string[] {
  const ok =
    Array.isArray(value) &&
    value.length <= 256 &&
    value.every(
      (v) =>
        typeof v === 'string' &&
        v.length > 0 &&
        v.length <= 128 &&
        v.isWellFormed() &&
        !CONTROL.test(v),
    )
  if (!ok) throw new ParleyError('ERR_VALIDATION', `${name} must be a list of up to 256 names`)
  return [...new Set(value as string[])]
}
