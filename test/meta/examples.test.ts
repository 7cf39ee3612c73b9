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
    it(`examples/${name} signs in with the demo password, guards /me, signs out and refuses a forged post`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-example-test-'))
      try {
        child = spawn(node, [`examples/${name}/main.ts`], {
          env: {
            ...process.env,
            PORT: '0',
            PARLEY_DEMO_PASSWORD: 'correct-horse',
            PARLEY_DB: join(dir, 'sessions.db'),
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
        const json = { 'content-type': 'application/json' }
        const code = async (res: Response) => ((await res.json()) as { code?: string }).code
        expect(await code(await fetch(`${url}/me`))).toBe('ERR_UNAUTHENTICATED')
        const wrong = await fetch(`${url}/sign-in`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ password: 'wrong' }),
        })
        expect(wrong.status).toBe(401)
        expect(wrong.headers.getSetCookie()).toEqual([])
        const signIn = await fetch(`${url}/sign-in`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ password: 'correct-horse' }),
        })
        expect(signIn.status).toBe(200)
        const setCookie = signIn.headers.getSetCookie()[0]!
        expect(setCookie).toMatch(
          /^__Host-parley=plys_\S+; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
        )
        const cookie = setCookie.split(';')[0]!
        const me = await fetch(`${url}/me`, { headers: { cookie } })
        expect(((await me.json()) as { principal: string }).principal).toBe('demo-user')
        expect(me.headers.get('cache-control')).toBe('no-store')
        const forged = await fetch(`${url}/sign-out`, {
          method: 'POST',
          headers: { cookie, origin: 'https://evil.example' },
        })
        expect(await code(forged)).toBe('ERR_CSRF')
        const out = await fetch(`${url}/sign-out`, {
          method: 'POST',
          headers: { cookie, 'sec-fetch-site': 'same-origin' }, // PORT=0: no Origin to configure
        })
        expect(out.status).toBe(200)
        expect(out.headers.getSetCookie()[0]).toMatch(/^__Host-parley=; .*Max-Age=0$/)
        const after = await fetch(`${url}/me`, { headers: { cookie } })
        expect(await after.json()).toMatchObject({ code: 'ERR_SESSION_ENDED', reason: 'logout' })
      } finally {
        child?.kill('SIGKILL')
        rmSync(dir, { recursive: true, force: true })
      }
    }, 40_000)
  }
})
