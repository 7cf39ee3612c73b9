/**
 * @module The Redis store's change feed: a subscriber connection on `<prefix>changes`, where every
 * script that ends or updates a session publishes its id. Reports the link going down and coming
 * back, so the session cache can flush and stand aside while it cannot hear about changes.
 */
import type { StoreChange } from '../../core/cache.ts'
import { toParleyError } from './connection.ts'

/** The part of a node-redis v6 subscriber client used here. */
export interface SubscriberLike {
  connect(): Promise<unknown>
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>
  close(): Promise<unknown>
  destroy(): void
  on(event: string, listener: (...args: unknown[]) => void): unknown
}

/**
 * Subscribes `subscriber` (a fresh, unconnected client) to `channel` and feeds `listener`.
 * Resolves once subscribed, with a function that unsubscribes and closes the connection.
 */
export async function watchChanges(
  subscriber: SubscriberLike,
  channel: string,
  listener: (change: StoreChange) => void,
  timeoutMs: number,
): Promise<() => Promise<void>> {
  let subscribed = false
  let up = false
  let closed = false
  const down = () => {
    if (!up) return
    up = false
    listener({ type: 'link', up: false })
  }
  subscriber.on('error', down)
  subscriber.on('end', down)
  subscriber.on('reconnecting', down)
  // node-redis subscribes again as part of reconnecting, before it reports ready.
  subscriber.on('ready', () => {
    if (!subscribed || closed || up) return
    up = true
    listener({ type: 'link', up: true })
  })
  let timer: ReturnType<typeof setTimeout> | undefined
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('subscribing timed out')), timeoutMs)
  })
  try {
    await Promise.race([
      (async () => {
        await subscriber.connect()
        await subscriber.subscribe(channel, (id) => listener({ type: 'invalidate', id }))
      })(),
      timedOut,
    ])
  } catch (err) {
    subscriber.destroy()
    throw toParleyError(err)
  } finally {
    clearTimeout(timer)
  }
  subscribed = true
  up = true
  listener({ type: 'link', up: true })
  return async () => {
    closed = true
    down()
    try {
      await subscriber.close()
    } catch {
      subscriber.destroy()
    }
  }
}
