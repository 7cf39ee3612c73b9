/**
 * @module End-to-end helpers: run the real `parley` CLI and `parley serve` as child processes,
 * talk to them over HTTP, and clean every process and temp directory up afterwards.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
/** The Node the project pins (node_modules/.bin/node), or this process's own. */
export const NODE = existsSync(join(ROOT, 'node_modules/.bin/node'))
  ? join(ROOT, 'node_modules/.bin/node')
  : process.execPath
export const MAIN = join(ROOT, 'src/cli/main.ts')

// ---------------------------------------------------------------- processes

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface Tracked {
  child: ChildProcess
  pid: number
  /** Everything written to stdout and stderr so far. */
  stdout(): string
  stderr(): string
  /** True until the process has exited. */
  alive(): boolean
  exited: Promise<Exit>
  /** Sends `signal` (SIGKILL by default) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<Exit>
}

const live = new Set<Tracked>()

/** Spawns a process that {@link killAll} will end; stdout and stderr are collected. */
export function spawnTracked(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Tracked {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd ?? tmpdir(),
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  })
  if (options.input !== undefined) child.stdin?.end(options.input)
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d
  })
  let running = true
  const exited = new Promise<Exit>((resolveExit) => {
    child.once('error', (e) => {
      err += `\nspawn error: ${e.message}`
      running = false
      resolveExit({ code: null, signal: null })
    })
    child.once('exit', (code, signal) => {
      running = false
      resolveExit({ code, signal })
    })
  })
  const tracked: Tracked = {
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    alive: () => running,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (running) child.kill(signal)
      return exited
    },
  }
  live.add(tracked)
  exited.then(() => live.delete(tracked))
  return tracked
}

/** SIGKILLs every process spawned by these helpers that is still running, and waits for them. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((t) => t.kill('SIGKILL')))
}

/** The environment for a child: this one without any PARLEY_* setting, NODE_ENV or NODE_OPTIONS. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (
      k.startsWith('PARLEY_') ||
      k === 'NODE_ENV' ||
      k === 'NODE_OPTIONS' ||
      k.startsWith('VITEST')
    )
      continue
    env[k] = v
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

export interface CliResult extends Exit {
  stdout: string
  stderr: string
}

/** Runs `parley <args>` to completion (SIGKILLed after `timeoutMs`, which then fails loudly). */
export async function runCli(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  const t = spawnTracked(NODE, [MAIN, ...args], {
    env: childEnv(options.env),
    ...(options.input !== undefined ? { input: options.input } : {}),
  })
  const timeoutMs = options.timeoutMs ?? 15_000
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), timeoutMs)
  })
  const first = await Promise.race([t.exited, timedOut])
  clearTimeout(timer)
  if (first === 'timeout') {
    await t.kill('SIGKILL')
    throw new Error(
      `parley ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${t.stdout()}\nstderr: ${t.stderr()}`,
    )
  }
  return { ...first, stdout: t.stdout(), stderr: t.stderr() }
}

export interface ServerProcess extends Tracked {
  /** `http://127.0.0.1:<port>`, as printed by `parley serve`. */
  url: string
  port: number
}

/**
 * Starts `parley serve <args>` and resolves once it prints `parley listening on <url>`; rejects
 * (with its output) if it exits or stays silent for `timeoutMs`.
 */
export async function startServer(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const t = spawnTracked(NODE, [MAIN, 'serve', ...args], { env: childEnv(options.env) })
  const timeoutMs = options.timeoutMs ?? 15_000
  const url = await new Promise<string>((resolveUrl, reject) => {
    const fail = (why: string) => {
      cleanup()
      reject(new Error(`parley serve ${why}\nstdout: ${t.stdout()}\nstderr: ${t.stderr()}`))
    }
    const timer = setTimeout(() => {
      cleanup() // the kill below is ours: not an exit "before listening"
      t.kill('SIGKILL').then(() => fail(`printed no listening line within ${timeoutMs} ms`))
    }, timeoutMs)
    const onData = () => {
      const m = /^parley listening on (http:\/\/\S+)/m.exec(t.stdout())
      if (m) {
        cleanup()
        resolveUrl(m[1]!)
      }
    }
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited (code ${code}, signal ${signal}) before listening`)
    const cleanup = () => {
      clearTimeout(timer)
      t.child.stdout?.off('data', onData)
      t.child.off('exit', onExit)
    }
    t.child.stdout?.on('data', onData)
    t.child.once('exit', onExit)
    onData()
  })
  return { ...t, url, port: Number(new URL(url).port) }
}

// ---------------------------------------------------------------- temp dirs

const dirs = new Set<string>()

export async function makeTempDir(prefix = 'parley-e2e-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  dirs.add(dir)
  return dir
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all([...dirs].map((d) => rm(d, { recursive: true, force: true })))
  dirs.clear()
}

// ---------------------------------------------------------------- HTTP

export interface Reply {
  status: number
  contentType: string
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field in tests
  body: any
}

/** One HTTP call; a network error or a timeout rejects. */
export async function call(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  options: { key?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {}
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(base + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  })
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body }
}

/** The service API of one server with one API key. */
export class Api {
  readonly base: string
  key: string
  constructor(base: string, key: string) {
    this.base = base
    this.key = key
  }
  create(principal: string, options: { timeoutMs?: number } = {}): Promise<Reply> {
    return call(this.base, 'POST', '/v1/sessions', {
      key: this.key,
      body: { principal },
      ...options,
    })
  }
  validate(token: string, options: { timeoutMs?: number; key?: string } = {}): Promise<Reply> {
    return call(this.base, 'POST', '/v1/sessions/validate', {
      key: options.key ?? this.key,
      body: { token },
      timeoutMs: options.timeoutMs,
    })
  }
  readyz(): Promise<Reply> {
    return call(this.base, 'GET', '/readyz')
  }
  healthz(): Promise<Reply> {
    return call(this.base, 'GET', '/healthz')
  }
}

/**
 * Calls `attempt` until it returns something other than undefined, at most `tries` times with
 * `intervalMs` between attempts; throws with `what` (and the last error) when it never does.
 */
export async function pollUntil<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  options: { tries?: number; intervalMs?: number } = {},
): Promise<T> {
  const tries = options.tries ?? 50
  let last: unknown
  for (let i = 0; i < tries; i++) {
    try {
      const v = await attempt()
      if (v !== undefined) return v
      last = undefined
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200))
  }
  throw new Error(
    `gave up waiting for ${what} after ${tries} tries${last ? `: ${(last as Error).message}` : ''}`,
  )
}

/** A token that has the shape of a session token but names no session. */
export const BOGUS_TOKEN = `plys_${'A'.repeat(22)}.${'B'.repeat(43)}`
