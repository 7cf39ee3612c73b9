/**
 * @module Example: Parley embedded in your process on the SQLite store, with a manual clock so the
 * whole lifecycle (create, validate, idle timeout, sweep, audit) runs in an instant.
 * Run: node examples/embedded/main.ts
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isParleyError, ManualClock, Sessions } from '../../src/index.ts'
import { SqliteStore } from '../../src/store/sqlite/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'parley-example-'))
const store = new SqliteStore({ path: join(dir, 'app.db') })
await store.init()
const clock = new ManualClock(Date.UTC(2026, 0, 1, 9, 0))
const sessions = new Sessions({
  store,
  clock,
  policy: { idleTimeoutMs: 15 * 60_000, maxSessionsPerPrincipal: 2 },
})

// Establish: after your own sign-in check, create a session and hand the token to the client.
const laptop = await sessions.create({
  principal: 'user-42',
  ip: '203.0.113.9',
  userAgent: 'Laptop',
  auth: { factors: ['password'], level: 1 },
})
console.log('created', laptop.session.id, 'token prefix', laptop.token.slice(0, 5))

// Maintain: validate the token on each request (no write unless the touch interval passed).
clock.advance(5 * 60_000)
console.log('valid for', (await sessions.validate(laptop.token)).principal)

// The limit: a third device evicts the least recently used session.
const phone = await sessions.create({ principal: 'user-42', userAgent: 'Phone' })
clock.advance(60_000)
await sessions.validate(laptop.token)
const tablet = await sessions.create({ principal: 'user-42', userAgent: 'Tablet' })
console.log('evicted', tablet.ended.map((s) => `${s.client.userAgent}:${s.endReason}`).join(', '))

// Terminate: nobody uses the laptop for 15 minutes; the sweep records why it ended.
clock.advance(16 * 60_000)
await sessions.sweep()
try {
  await sessions.validate(laptop.token)
} catch (err) {
  if (isParleyError(err, 'ERR_SESSION_ENDED')) console.log('laptop refused:', err.details?.reason)
}

// Why was I logged out? The audit trail answers.
for (const e of await sessions.events({ principal: 'user-42' })) {
  console.log(
    new Date(e.at).toISOString(),
    e.type,
    e.reason ?? '',
    e.sessionId === phone.session.id ? '(phone)' : '',
  )
}
await store.close()
rmSync(dir, { recursive: true, force: true })
