/**
 * @module What the user and token stores share of the session store's Redis connection: loading
 * their scripts, EVALSHA with the EVAL fallback, and driver errors mapped to ParleyError.
 */
import { ErrorReply } from 'redis'
import { toParleyError } from './connection.ts'
import type { LuaScript } from './scripts.ts'

/** What a store beside the session store needs of the Redis connection it shares. */
export interface RedisConnection {
  /** Prefix of every key, the session store's. */
  readonly prefix: string
  /** Opens the shared connection (when its owner made it); safe to call again. */
  open(): Promise<void>
  /** Sends one command, bounded by the owner's command timeout; rejects with the driver's error. */
  send(args: string[]): Promise<unknown>
}

/**
 * Commands and scripts on a shared connection; every failure is a ParleyError.
 *
 * @example
 * const redis = new SharedRedis(connection)
 * await redis.load(USER_SCRIPTS)
 * const reply = await redis.eval(CREATE_USER, [id, nameKey])
 */
export class SharedRedis {
  readonly prefix: string
  readonly #conn: RedisConnection

  constructor(connection: RedisConnection) {
    this.#conn = connection
    this.prefix = connection.prefix
  }

  /** Opens the shared connection when needed and loads `scripts`; safe to call again. */
  load(scripts: readonly LuaScript[]): Promise<void> {
    return this.call(async () => {
      await this.#conn.open()
      await Promise.all(scripts.map((s) => this.#conn.send(['SCRIPT', 'LOAD', s.source])))
    })
  }

  /** One command. */
  send(args: string[]): Promise<unknown> {
    return this.call(() => this.#conn.send(args))
  }

  async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw toParleyError(err)
    }
  }

  /** EVALSHA, falling back to EVAL when Redis has lost the script (a restart, SCRIPT FLUSH). */
  eval(script: LuaScript, args: string[]): Promise<unknown> {
    const argv = [this.prefix, ...args]
    return this.call(async () => {
      try {
        return await this.#conn.send(['EVALSHA', script.sha, '0', ...argv])
      } catch (err) {
        if (!(err instanceof ErrorReply) || !err.message.startsWith('NOSCRIPT')) throw err
        return await this.#conn.send(['EVAL', script.source, '0', ...argv])
      }
    })
  }
}
