import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'

const node = process.execPath
const run = promisify(execFile)
let child: ChildProcess | undefined
afterEach(() => {
  child?.kill('SIGKILL')
})

describe('examples', () => {
  it('examples/embedded runs the whole lifecycle and explains each end', async () => {
    const { stdout } = await run(node, ['examples/embedded/main.ts'], { timeout: 30_000 })
    expect(stdout).toContain('valid for user-42')
    expect(stdout).toContain('evicted Phone:evicted_by_limit')
    expect(stdout).toContain('laptop refused: idle_timeout')
  }, 40_000)

  it('examples/live: a live session survives a dropped connection; every echo exactly once, the offline call run once', async () => {
    const { stdout } = await run(node, ['examples/live/main.ts'], { timeout: 30_000 })
    expect(stdout).toContain('client: resumed, nothing lost')
    expect(stdout).toContain('every message echoed exactly once: [1,2,3,4]')
    expect(stdout).toContain('cart.add -> { total: 3 }')
    expect(stdout).toContain('server: live session ended (logout)')
  }, 40_000)

  it('examples/service-api signs in with a cookie, validates it, signs out and says why', async () => {
    child = spawn(node, ['examples/service-api/main.ts'], { env: { ...process.env, PORT: '0' } })
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      child!.stdout!.on('data', (d) => {
        out += d
        const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
        if (m) resolve(m[1]!)
      })
      child!.on('exit', (code) => reject(new Error(`exited ${code}`)))
    })
    const login = await fetch(`${url}/login`, { method: 'POST', redirect: 'manual' })
    expect(login.status).toBe(303)
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    expect(cookie).toMatch(/^session=plys_/)
    expect(await (await fetch(url, { headers: { cookie } })).text()).toContain(
      'Signed in as demo-user',
    )
    await fetch(`${url}/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' })
    expect(await (await fetch(url, { headers: { cookie } })).text()).toContain(
      'your last session ended: logout',
    )
  }, 40_000)

  for (const name of ['node-http', 'express', 'fastify', 'hono']) {
    it(`examples/${name} signs up and in through Auth, guards its routes, signs out and refuses login CSRF`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-example-test-'))
      const origin = 'http://app.test'
      try {
        child = spawn(node, [`examples/${name}/main.ts`], {
          env: {
            ...process.env,
            PORT: '0',
            ORIGINS: origin,
            PARLEY_DB: join(dir, 'sessions.db'),
            PARLEY_SECRET: 'example-test-secret-0123456789abcdefghijklmnop',
          },
        })
        const url = await new Promise<string>((resolve, reject) => {
          let out = ''
          child!.stdout!.on('data', (d) => {
            out += d
            const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
            if (m) resolve(m[1]!)
          })
          child!.on('exit', (code) => reject(new Error(`exited ${code}`)))
        })
        const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
          fetch(`${url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', origin, ...headers },
            body: JSON.stringify(body),
          })
        const get = (path: string, cookie: string) =>
          fetch(`${url}${path}`, { headers: { cookie } })
        const problem = async (res: Response) => {
          expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
          return (await res.json()) as { status: number; code: string; reason?: string }
        }
        const cookieOf = (res: Response) => {
          const setCookie = res.headers.getSetCookie()[0]!
          expect(setCookie).toMatch(
            /^__Host-parley=plys_\S+; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
          )
          return setCookie.split(';')[0]!
        }
        const ada = { username: 'ada', password: 'correct horse battery' }

        expect((await problem(await fetch(`${url}/me`))).code).toBe('ERR_UNAUTHENTICATED')
        const signUp = await post('/sign-up', ada)
        expect(signUp.status).toBe(201)
        const first = cookieOf(signUp)
        const me = await get('/me', first)
        expect(me.status).toBe(200)
        expect(((await me.json()) as { user: { username: string } }).user.username).toBe('ada')
        expect(me.headers.get('cache-control')).toBe('no-store')
        expect(await problem(await get('/reports', first))).toMatchObject({
          status: 403,
          code: 'ERR_FORBIDDEN',
        })

        // Login CSRF: no cookie, a foreign Origin, refused before the password is looked at.
        const forged = await post('/sign-in', ada, { origin: 'https://evil.example' })
        expect(await problem(forged)).toMatchObject({ status: 403, code: 'ERR_CSRF' })
        expect(forged.headers.getSetCookie()).toEqual([])
        const wrong = await post('/sign-in', { ...ada, password: 'not the password' })
        expect(await problem(wrong)).toMatchObject({ status: 401, code: 'ERR_SIGN_IN_FAILED' })
        expect(wrong.headers.getSetCookie()).toEqual([])

        // Signing in again with the old cookie ends the old session (SEC-07).
        const signIn = await post('/sign-in', ada, { cookie: first })
        expect(signIn.status).toBe(200)
        const cookie = cookieOf(signIn)
        expect(cookie).not.toBe(first)
        expect(await problem(await get('/me', first))).toMatchObject({
          code: 'ERR_SESSION_ENDED',
          reason: 'rotated',
        })
        expect((await get('/me', cookie)).status).toBe(200)

        const out = await fetch(`${url}/sign-out`, { method: 'POST', headers: { cookie, origin } })
        expect(out.status).toBe(200)
        expect(out.headers.getSetCookie()[0]).toMatch(/^__Host-parley=; .*Max-Age=0$/)
        expect(await problem(await get('/me', cookie))).toMatchObject({
          status: 401,
          code: 'ERR_SESSION_ENDED',
          reason: 'logout',
        })
      } finally {
        child?.kill('SIGKILL')
        rmSync(dir, { recursive: true, force: true })
      }
    }, 40_000)
  }
})
