/**
 * @module The `hello` → `welcome` handshake (docs/protocol.md section 4): authenticate a new
 * session (SEC-47), or resume one with its single-use, rotating, hashed resume token (SEC-48).
 */

import { timingSafeEqual } from 'node:crypto'
import { hashSecret, newId, newSecret, TOKEN_PREFIXES } from '../../core/token.ts'
import type { BufferedMessage, Checkpoint, PeerState } from '../engine/types.ts'
import type { LiveRecord, LiveStore } from '../live-store.ts'
import type { Frame, HelloFrame, ResumeRequest, WelcomeFrame } from '../protocol/index.ts'
import { authenticate } from './auth.ts'
import type { Connection } from './connection.ts'
import { type GatewayCore, openLeaseMs } from './core.ts'
import { LiveSession } from './live-session.ts'

/** A new resume token: the resume prefix and 256 bits from the CSPRNG, base64url. */
export function newResumeToken(): string {
  return `${TOKEN_PREFIXES.resume}${newSecret()}`
}

/** SHA-256 of a resume token, base64url: the only form the store sees (SEC-48). */
export function hashResumeToken(token: string): string {
  return hashSecret(token)
}

/** Handles the first frame of a connection. Never throws (failures close the connection). */
export async function onHello(
  core: GatewayCore,
  conn: Connection,
  hello: HelloFrame,
): Promise<void> {
  conn.phase = 'hello'
  try {
    if (hello.resume !== undefined) await resume(core, conn, hello, hello.resume)
    else await fresh(core, conn, hello, hello.cred ?? '')
  } catch (err) {
    core.logger?.error?.({ err }, 'live: handshake failed')
    conn.fail(4006, 'internal error')
  }
}

function welcomeOf(
  core: GatewayCore,
  live: LiveSession,
  token: string,
  resumed: boolean,
  last: number,
): WelcomeFrame {
  const l = core.limits
  const w: WelcomeFrame = {
    t: 'welcome',
    sid: live.id,
    token,
    resumed,
    last,
    mode: live.peer.mode,
    credit: l.initialCredit,
    heartbeatMs: l.heartbeatMs,
    resumeWindowMs: l.resumeWindowMs,
    maxFrameBytes: l.maxFrameBytes,
    maxPayloadBytes: l.maxPayloadBytes,
    maxPendingCalls: l.maxPendingCalls,
  }
  const turn = live.peer.turn
  if (turn !== null) w.turn = turn
  if (live.credentialExp !== null) w.exp = live.credentialExp
  return w
}

async function fresh(
  core: GatewayCore,
  conn: Connection,
  hello: HelloFrame,
  cred: string,
): Promise<void> {
  const auth = await authenticate(cred, {
    sessions: core.sessions,
    verifier: core.options.verifier,
    cookieToken: conn.cookieToken,
  })
  if (conn.phase !== 'hello') return
  if ('code' in auth) {
    if (auth.cause !== undefined)
      core.logger?.error?.({ err: auth.cause }, 'live: authentication failed')
    conn.fail(auth.code, auth.message)
    return
  }
  const { session } = auth
  if (!core.admitPrincipal(conn, session.principal)) return
  const maxLive = core.options.maxLiveSessionsPerPrincipal ?? 64
  try {
    // Suspended live sessions count too: a connect-hello-drop loop cannot pile them up (SEC-49).
    if ((await core.store.countByPrincipal(session.principal)) >= maxLive) {
      conn.fail(4004, 'too many live sessions for this principal')
      return
    }
  } catch (err) {
    core.logger?.error?.({ err }, 'live: store count failed')
    conn.fail(4005, 'the session store is unavailable')
    return
  }
  if (conn.phase !== 'hello') return
  const now = core.clock.now()
  const l = core.limits
  const mode = core.options.mode ?? hello.mode ?? 'full'
  const turn = mode === 'full' ? null : core.turn
  const token = newResumeToken()
  const record: LiveRecord = {
    id: newId(),
    sessionId: session.id,
    principal: session.principal,
    tokenHash: hashResumeToken(token),
    prevTokenHash: null,
    gen: 1,
    mode,
    turn,
    state: 'open',
    createdAt: now,
    suspendedAt: null,
    expiresAt: now + openLeaseMs(l),
    endReason: null,
    endedAt: null,
    outSeq: 0,
    outAcked: 0,
    outLostTo: 0,
    outLostReason: null,
    inLast: 0,
  }
  try {
    await core.store.create(record, { at: now, actor: session.principal, ip: conn.address })
  } catch (err) {
    core.logger?.error?.({ err }, 'live: store create failed')
    conn.fail(4005, 'the session store is unavailable')
    return
  }
  const live = new LiveSession({ ...record, credentialExp: auth.exp }, core)
  live.peer = core.createPeer({ mode, turn, onEvent: live.onEvent })
  live.peer.attach(0, hello.credit ?? l.initialCredit, l.initialCredit)
  core.registry.add(live)
  if (conn.phase !== 'hello') {
    core.suspend(live) // closed while we created it: it waits for a resume like any other
    return
  }
  core.open(conn, live, welcomeOf(core, live, token, false, 0))
  core.logger?.info?.({ liveId: live.id, sessionId: live.sessionId }, 'live session opened')
  const h = core.handlers
  if (h.onOpen) {
    try {
      await h.onOpen(live.handle)
    } catch (err) {
      core.logger?.error?.({ liveId: live.id, err }, 'live handler failed')
    }
  }
}

async function resume(
  core: GatewayCore,
  conn: Connection,
  hello: HelloFrame,
  req: ResumeRequest,
): Promise<void> {
  const local = core.registry.get(req.sid)
  if (local !== undefined) {
    // Nothing of the old generation may be committed after the store moved to the new one.
    local.resuming = true
    await core.flusher.current()
  }
  try {
    await resumeWith(core, conn, hello, req)
  } finally {
    if (local !== undefined) {
      local.resuming = false
      if (local.state !== 'ended') core.markDirty(local)
    }
  }
}

async function resumeWith(
  core: GatewayCore,
  conn: Connection,
  hello: HelloFrame,
  req: ResumeRequest,
): Promise<void> {
  const l = core.limits
  // Every check that can refuse comes before the store spends the presented token, so a refusal
  // the client may retry (4004, 4005) never costs it its session (SEC-48). The token is checked
  // first, so nothing is learnt about a session without it.
  let current: LiveRecord | null
  try {
    current = await core.store.get(req.sid)
  } catch (err) {
    core.logger?.error?.({ err }, 'live: store read failed')
    conn.fail(4005, 'the session store is unavailable')
    return
  }
  const presented = hashResumeToken(req.token)
  if (current === null || !tokenMatches(current, presented)) {
    conn.fail(4103, 'resume token not valid')
    return
  }
  if (current.state !== 'ended') {
    let status: Awaited<ReturnType<GatewayCore['sessionStatus']>>
    try {
      status = await core.sessionStatus(current.sessionId)
    } catch (err) {
      core.logger?.error?.({ err }, 'live: session check failed')
      conn.fail(4005, 'the session store is unavailable')
      return
    }
    if (!status.active) {
      conn.send({ t: 'bye', reason: status.reason })
      conn.close(4100)
      const local = core.registry.get(req.sid)
      if (local !== undefined) await core.endLive(local, status.reason)
      else await core.store.end(req.sid, status.reason, { at: core.clock.now(), actor: 'system' })
      return
    }
    if (conn.phase !== 'hello' || !core.admitPrincipal(conn, current.principal)) return
  }
  const now = core.clock.now()
  const token = newResumeToken()
  let outcome: Awaited<ReturnType<LiveStore['resume']>>
  try {
    outcome = await core.store.resume(req.sid, {
      tokenHash: presented,
      newTokenHash: hashResumeToken(token),
      expiresAt: now + openLeaseMs(l),
      at: now,
    })
  } catch (err) {
    core.logger?.error?.({ err }, 'live: store resume failed')
    conn.fail(4005, 'the session store is unavailable')
    return
  }
  if (!outcome.ok) {
    if (outcome.reason === 'invalid') {
      // SEC-48: stale, foreign, reused or unknown; whoever holds the session is not disturbed.
      conn.fail(4103, 'resume token not valid')
      return
    }
    conn.send({ t: 'bye', reason: outcome.endReason })
    conn.close(4100)
    const local = core.registry.get(req.sid)
    if (local !== undefined) await core.endLive(local, outcome.endReason, true)
    return
  }
  const record = outcome.record
  let live = core.registry.get(record.id)
  if (live !== undefined && live.state !== 'ended') {
    const old = live.conn
    live.conn = null
    old?.fail(4104, 'the session was resumed by another connection')
    if (live.peer.attached) live.peer.detach()
    live.expiryTimer?.cancel()
    live.expiryTimer = null
    live.pendingState = null
    if (live.credentialExp !== null && live.credentialExp <= now)
      live.credentialExp = now + l.heartbeatMs // a grace to refresh: the token stood for it
  } else {
    const state = await stateFromStore(core, record)
    live = new LiveSession({ ...record, credentialExp: null }, core)
    live.peer = core.createPeer({ state, onEvent: live.onEvent })
    core.registry.add(live)
  }
  live.gen = record.gen
  live.expiresAt = record.expiresAt
  live.state = 'open'
  live.tokenUnconfirmed = true
  live.confirmToken = false
  if (conn.phase !== 'hello') {
    core.suspend(live)
    return
  }
  const violation = live.peer.attach(req.last, hello.credit ?? l.initialCredit, l.initialCredit)
  if (violation !== null) {
    conn.fail(violation.code, violation.message)
    core.suspend(live)
    return
  }
  const last = live.peer.snapshot().inLast
  // Commit before write, as for every flush: `welcome.last` acknowledges the client's messages
  // up to `last` (it drops them from its outbox) and the replay follows, so what they stand for
  // must be durable under the new gen before either goes out.
  const held = live.resuming
  live.resuming = true
  let frames: Frame[] | 'superseded'
  try {
    frames = await core.flusher.flushOne(live)
  } catch (err) {
    core.logger?.error?.({ liveId: live.id, err }, 'live: store commit failed')
    conn.fail(4005, 'the session store is unavailable')
    core.suspend(live)
    return
  } finally {
    live.resuming = held
  }
  if (frames === 'superseded') {
    conn.fail(4104, 'the session was resumed by another connection')
    return
  }
  if (conn.phase !== 'hello') {
    core.suspend(live)
    return
  }
  core.open(conn, live, welcomeOf(core, live, token, true, last))
  conn.sendAll(frames)
  core.logger?.info?.({ liveId: live.id, gen: live.gen }, 'live session resumed')
}

/** Rebuilds the engine state of a live session from the store (a resume on another process). */
async function stateFromStore(core: GatewayCore, record: LiveRecord): Promise<PeerState> {
  const [messages, checkpoints]: [BufferedMessage[], Checkpoint[]] = await Promise.all([
    core.store.messages(record.id, record.outAcked, core.limits.replayMaxCount),
    core.store.checkpoints(record.id),
  ])
  let outLostTo = record.outLostTo
  let outLostReason = record.outLostReason
  // What the store cannot replay becomes an explicit gap, never a silent hole.
  const expected = Math.max(record.outAcked, record.outLostTo) + 1
  const firstKept = messages[0]?.seq ?? record.outSeq + 1
  if (firstKept > expected) {
    outLostTo = firstKept - 1
    outLostReason = 'store_lost'
  }
  // Call ids and resync numbers are never reused after a failover: each fencing generation has
  // its own range (the clock would not do: two processes may read the same ms, or skewed ones).
  const fresh = idBase(record.gen)
  return {
    side: 'server',
    mode: record.mode,
    turn: record.turn,
    outSeq: record.outSeq,
    outAcked: record.outAcked,
    outLostTo,
    outLostReason,
    outBuffer: messages,
    inLast: record.inLast,
    checkpoints,
    pendingCalls: [],
    nextCallId: fresh,
    nextResync: fresh,
  }
}

/** Whether `hash` is the record's current resume token hash, or its unconfirmed previous one. */
function tokenMatches(record: LiveRecord, hash: string): boolean {
  const prev = record.prevTokenHash
  return sameHash(record.tokenHash, hash) || (prev !== null && sameHash(prev, hash))
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Call ids and resync numbers a process may use per generation held (2^26). */
const IDS_PER_GEN = 2 ** 26

/**
 * The first call id number and resync number of a session rebuilt from the store under `gen`:
 * above every number an earlier generation's process used (it used fewer than 2^26), and safe
 * integers for 2^27 generations.
 */
export function idBase(gen: number): number {
  return gen * IDS_PER_GEN
}
