/** @module PublicUser: what callers see of a user; never a hash, an encrypted secret or a code. */
import type { UserRecord } from './user-store.ts'

export interface PublicUser {
  id: string
  username: string
  roles: string[]
  permissions: string[]
  disabled: boolean
  /** True once a TOTP factor is confirmed. */
  totpEnabled: boolean
  recoveryCodesLeft: number
  createdAt: number
}

/**
 * The public view of a user record.
 *
 * @example
 * const user = toPublicUser(await users.getUser(id)) // { id, username, roles, ... }
 */
export function toPublicUser(u: UserRecord): PublicUser {
  return {
    id: u.id,
    username: u.username,
    roles: [...u.roles],
    permissions: [...u.permissions],
    disabled: u.disabled,
    totpEnabled: u.totp?.confirmed === true,
    recoveryCodesLeft: u.recoveryCodes.length,
    createdAt: u.createdAt,
  }
}
