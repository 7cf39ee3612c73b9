/** @module How the HTTP layer asks "is this token a live session?": in-process or through a server. */
import type { Session } from '../core/session.ts'
import type { Sessions, ValidateOptions } from '../core/sessions.ts'

/**
 * Resolves a presented token to its session, or throws a ParleyError: ERR_SESSION_INVALID,
 * ERR_SESSION_ENDED (with `details.reason`) or ERR_STORE_UNAVAILABLE (fail closed).
 */
export interface SessionValidator {
  validate(token: string): Promise<Session>
}

/** In-process: the Sessions manager on any store. */
export class LocalValidator implements SessionValidator {
  readonly sessions: Sessions
  #options: ValidateOptions

  constructor(sessions: Sessions, touch: boolean) {
    this.sessions = sessions
    this.#options = Object.freeze({ touch })
  }

  validate(token: string): Promise<Session> {
    return this.sessions.validate(token, this.#options)
  }
}
