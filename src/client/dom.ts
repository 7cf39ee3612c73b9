/**
 * @module The few Web platform interfaces the client uses (the project compiles without the DOM
 * lib, so they are declared here, minimal), and where to find them at run time.
 */

/** What the client needs of `localStorage` (or any `Storage`). */
export interface StorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/** What the client needs of a `BroadcastChannel`. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void
  close(): void
  onmessage: ((event: { data: unknown }) => void) | null
}

/** What the client needs of `navigator.locks` (the Web Locks API): an exclusive lock by name. */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>
}

interface WebGlobals {
  window?: unknown
  localStorage?: StorageLike
  navigator?: { locks?: LockManagerLike }
  BroadcastChannel?: new (name: string) => BroadcastChannelLike & { unref?: () => void }
}

const web = globalThis as unknown as WebGlobals

/** The page's `localStorage`, or null outside a browser window or where reading it throws. */
export function browserStorage(): StorageLike | null {
  try {
    if (typeof web.window !== 'object' || web.window === null) return null
    return web.localStorage ?? null
  } catch {
    return null // a sandboxed frame or storage disabled by the user: SecurityError
  }
}

/** `navigator.locks`, or null where the Web Locks API is missing. */
export function webLocks(): LockManagerLike | null {
  const locks = web.navigator?.locks
  return locks !== undefined && typeof locks.request === 'function' ? locks : null
}

/** A new `BroadcastChannel` (never keeping a Node process alive), or null where there is none. */
export function openChannel(name: string): BroadcastChannelLike | null {
  const Channel = web.BroadcastChannel
  if (typeof Channel !== 'function') return null
  const channel = new Channel(name)
  channel.unref?.()
  return channel
}
