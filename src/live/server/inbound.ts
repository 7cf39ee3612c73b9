/**
 * @module Frames from the client: rate limit (4207), decode (never throws), the connection-level
 * frames (`hello`, `pong`, `refresh`, `bye`, `err`), and everything else to the engine. A bad
 * frame closes only its own connection (SEC-50).
 */

import type { RawData } from 'ws'
import type { EndReason } from '../../core/session.ts'
import { decodeFrame, type Frame } from '../protocol/index.ts'
import { authenticate } from './auth.ts'
import type { Connection } from './connection.ts'
import type { GatewayCore } from './core.ts'
import { onHello } from './handshake.ts'
import type { LiveSession } from './live-session.ts'

function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return data
}

/** The `message` listener of every connection. */
export function onMessage(core: GatewayCore, conn: Connection, data: RawData): void {
  if (conn.phase === 'closed' || conn.phase === 'closing') return
  if (!conn.bucket.take()) {
    conn.fail(4207, 'frames arrive faster than the allowed rate')
    return
  }
  const r = decodeFrame(bytesOf(data), core.limits)
  if (!r.ok) {
    conn.fail(r.code, r.reason)
    return
  }
  conn.lastSeen = core.clock.now()
  const frame = r.frame
  if (conn.phase === 'handshaking') {
    if (frame.t !== 'hello') conn.fail(4202, 'the first frame must be hello')
    else void onHello(core, conn, frame)
    return
  }
  if (conn.phase === 'hello') {
    conn.fail(4202, 'no frame may follow hello before welcome')
    return
  }
  const live = conn.live
  if (live === null || live.conn !== conn) return
  if (live.tokenUnconfirmed) {
    // A frame after a resuming welcome proves the client holds the new resume token: the
    // previous one (kept in case that welcome was lost) stops working at the next commit.
    live.tokenUnconfirmed = false
    live.confirmToken = true
    core.markDirty(live)
  }
  onOpenFrame(core, conn, live, frame)
}

function onOpenFrame(core: GatewayCore, conn: Connection, live: LiveSession, frame: Frame): void {
  switch (frame.t) {
    case 'hello':
    case 'welcome':
    case 'ping':
    case 'refreshed':
      conn.fail(4202, `${frame.t} is not allowed from the client now`)
      return
    case 'pong':
      if (frame.ack !== undefined) toPeer(core, conn, live, { t: 'ack', ack: frame.ack })
      else core.markDirty(live) // a chance to renew the store lease
      return
    case 'refresh':
      void refresh(core, conn, live, frame.cred)
      return
    case 'bye':
      void clientBye(core, conn, live, frame.reason)
      return
    case 'err':
      // The client closes right after; its close code is what counts.
      core.logger?.debug?.({ liveId: live.id, code: frame.code }, 'live: err from client')
      return
    default:
      toPeer(core, conn, live, frame)
  }
}

function toPeer(core: GatewayCore, conn: Connection, live: LiveSession, frame: Frame): void {
  const violation = live.peer.receive(frame)
  if (violation !== null) {
    conn.fail(violation.code, violation.message)
    return
  }
  core.markDirty(live)
}

/** `refresh`: a fresh credential for the same Parley session, or 4101. */
async function refresh(
  core: GatewayCore,
  conn: Connection,
  live: LiveSession,
  cred: string,
): Promise<void> {
  if (conn.refreshing) {
    conn.fail(4202, 'a refresh is already pending')
    return
  }
  conn.refreshing = true
  const auth = await authenticate(cred, {
    sessions: core.sessions,
    verifier: core.options.verifier,
    cookieToken: conn.cookieToken,
  })
  conn.refreshing = false
  if (conn.phase !== 'open' || live.conn !== conn) return
  if ('code' in auth) {
    conn.fail(auth.code, auth.message)
    return
  }
  if (auth.session.id !== live.sessionId) {
    conn.fail(4101, 'the credential belongs to another session')
    return
  }
  live.credentialExp = auth.exp
  core.rearmExpiry(conn)
  conn.send(auth.exp === null ? { t: 'refreshed' } : { t: 'refreshed', exp: auth.exp })
}

/** `bye` from the client: logout only; flush, answer `bye`, record, close 4100. */
async function clientBye(
  core: GatewayCore,
  conn: Connection,
  live: LiveSession,
  reason: EndReason,
): Promise<void> {
  if (reason !== 'logout') {
    conn.fail(4202, 'a client ends a session with logout only')
    return
  }
  conn.phase = 'closing' // later frames are ignored while queued frames and answers go out
  core.markDirty(live)
  await core.flusher.flushed(live)
  if (live.conn !== conn) return
  await core.endLive(live, 'logout')
}
