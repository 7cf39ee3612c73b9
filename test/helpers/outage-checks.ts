/** @module Shared steps of the store-outage end-to-end tests (SEC-56, attack scenario 10). */
import { afterEach, expect } from 'vitest'
import {
  killAll,
  pollUntil,
  type Reply,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
} from './parley-process.ts'

/**
 * Registers an afterEach that kills every spawned process, then runs the returned list's cleanups
 * newest first (all of them, even when one fails), then removes the temp dirs.
 */
export function useCleanups(): (() => Promise<unknown>)[] {
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    await killAll()
    const errors: unknown[] = []
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((err) => errors.push(err))
    await removeTempDirs()
    if (errors.length > 0) throw errors[0]
  })
  return cleanups
}

/** `parley keys create` against the given store; returns the key. */
export async function createKey(storeArgs: string[], dataDir: string): Promise<string> {
  const r = await runCli([
    'keys',
    'create',
    '--name',
    'e2e-outage',
    ...storeArgs,
    '--data-dir',
    dataDir,
  ])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}

/** `parley serve` on a free port with the given store (request errors are not logged). */
export async function startParley(storeArgs: string[], dataDir: string): Promise<ServerProcess> {
  return startServer(['--port', '0', '--data-dir', dataDir, '--log-level', 'fatal', ...storeArgs])
}

/** A 503 problem+json with code ERR_STORE_UNAVAILABLE that says nothing about the store. */
export function expectUnavailable(r: Reply, what: string): void {
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(503)
  expect(r.contentType, what).toMatch(/^application\/problem\+json/)
  expect(r.body, what).toMatchObject({
    status: 503,
    code: 'ERR_STORE_UNAVAILABLE',
    type: 'urn:parley:error:ERR_STORE_UNAVAILABLE',
  })
  // Nothing about the store (host, driver message) leaks to the client.
  expect(r.body.detail, what).toBeUndefined()
}

/**
 * After the store is reachable again: the session created before the outage validates (polling
 * while the server reconnects), /readyz is 200, a new session works, and the server never crashed.
 */
export async function expectRecovered(
  api: {
    validate(token: string): Promise<Reply>
    create(principal: string): Promise<Reply>
    readyz(): Promise<Reply>
  },
  before: Reply,
  principal: string,
  server: ServerProcess,
): Promise<void> {
  const back = await pollUntil(
    'the old session to validate again',
    async () => {
      const r = await api.validate(before.body.token)
      return r.status === 503 ? undefined : r
    },
    { tries: 50, intervalMs: 200 },
  )
  expect(back.status).toBe(200)
  expect(back.body.session).toMatchObject({ id: before.body.session.id, state: 'active' })
  expect((await api.readyz()).status).toBe(200)
  const after = await api.create(principal)
  expect(after.status).toBe(201)
  expect((await api.validate(after.body.token)).status).toBe(200)
  expect(server.alive(), 'the server process crashed').toBe(true)
}
