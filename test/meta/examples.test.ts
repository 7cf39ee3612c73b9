import { type ChildProcess, execFile, spawn } from 'node:child_process'
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
})
