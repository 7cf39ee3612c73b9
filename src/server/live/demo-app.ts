/**
 * @module The application behind `/live/demo`: it echoes every message, streams numbered ticks on
 * request, and counts calls (each `count` call runs exactly once, even when the client re-sends it
 * after a resume). It is what a Parley live application looks like: plain handlers, no transport
 * code.
 */
import type { JsonValue } from '../../live/protocol/frames.ts'
import { LiveRpcError } from '../../live/server/errors.ts'

/** The most ticks one `stream` call may ask for. */
export const MAX_STREAM = 1_000

/** The part of a live session handle the demo uses. */
export interface DemoSession {
  readonly id: string
  send(data: JsonValue): Promise<unknown>
}

/** Per live session counters, dropped when the session ends. */
const counters = new Map<string, number>()
/** Live sessions with a stream running: one at a time each, so a client cannot pile up sends. */
const streaming = new Set<string>()

/** Sends ticks one after another, each waiting for the client's credit; stops when it ends. */
async function stream(session: DemoSession, n: number): Promise<void> {
  try {
    for (let i = 1; i <= n; i++) await session.send({ tick: i })
  } catch {
    // the session ended or its turn moved: the stream stops
  } finally {
    streaming.delete(session.id)
  }
}

/** The demo's handlers, in the shape `createLiveGateway` takes. */
export const demoHandlers = {
  onMessage(session: DemoSession, data: JsonValue, seq: number): void {
    const text =
      data !== null && typeof data === 'object' && !Array.isArray(data) ? data.text : undefined
    void session
      .send({ echo: typeof text === 'string' ? text.slice(0, 500) : null, of: seq })
      .catch(() => {}) // the session ended meanwhile
  },
  onEnd(session: DemoSession): void {
    counters.delete(session.id)
    streaming.delete(session.id)
  },
  methods: {
    /**
     * Streams `count` numbered ticks (1..count) as messages, one after another; answers at once
     * with how many will come. One stream per live session at a time (`busy` otherwise).
     */
    stream(params: JsonValue | undefined, ctx: { session: DemoSession }): { queued: number } {
      const raw =
        params !== null && typeof params === 'object' && !Array.isArray(params)
          ? params.count
          : undefined
      const count = typeof raw === 'number' && Number.isInteger(raw) ? raw : 10
      const n = Math.max(0, Math.min(MAX_STREAM, count))
      if (streaming.has(ctx.session.id))
        throw new LiveRpcError('busy', 'a stream is already running on this live session')
      streaming.add(ctx.session.id)
      void stream(ctx.session, n)
      return { queued: n }
    },
    /** Counts calls per live session: a call replayed after a resume is not counted twice. */
    count(_params: JsonValue | undefined, ctx: { session: DemoSession }): { count: number } {
      const next = (counters.get(ctx.session.id) ?? 0) + 1
      counters.set(ctx.session.id, next)
      return { count: next }
    },
  },
}
