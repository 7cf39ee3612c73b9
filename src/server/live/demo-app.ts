/**
 * @module The application behind `/live/demo`: it echoes every message, streams numbered ticks on
 * request, and counts calls (each `count` call runs exactly once, even when the client re-sends it
 * after a resume). It is what a Parley live application looks like: plain handlers, no transport
 * code.
 */
import type { JsonValue } from '../../live/protocol/frames.ts'

/** The most ticks one `stream` call may ask for. */
export const MAX_STREAM = 1_000

/** The part of a live session handle the demo uses. */
export interface DemoSession {
  readonly id: string
  send(data: JsonValue): unknown
}

/** Per live session counters, dropped when the session ends. */
const counters = new Map<string, number>()

/** The demo's handlers, in the shape `createLiveGateway` takes. */
export const demoHandlers = {
  onMessage(session: DemoSession, data: JsonValue, seq: number): void {
    const text =
      data !== null && typeof data === 'object' && !Array.isArray(data) ? data.text : undefined
    session.send({ echo: typeof text === 'string' ? text.slice(0, 500) : null, of: seq })
  },
  onEnd(session: DemoSession): void {
    counters.delete(session.id)
  },
  methods: {
    /** Sends `count` numbered ticks (1..count) as messages; answers how many it queued. */
    stream(params: JsonValue | undefined, ctx: { session: DemoSession }): { queued: number } {
      const raw =
        params !== null && typeof params === 'object' && !Array.isArray(params)
          ? params.count
          : undefined
      const count = typeof raw === 'number' && Number.isInteger(raw) ? raw : 10
      const n = Math.max(0, Math.min(MAX_STREAM, count))
      for (let i = 1; i <= n; i++) void ctx.session.send({ tick: i })
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
