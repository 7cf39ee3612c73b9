/** @module Shared steps of the store-outage end-to-end tests (SEC-56, attack scenario 10). */
import { expect } from 'vitest'
import { type Reply, runCli, type ServerProcess, startServer } from './parley-process.ts'

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
