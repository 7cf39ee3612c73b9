/**
 * @module A loopback TCP proxy for live-session tests: it can be pointed at another backend (a
 * failover), cut (every connection dropped, new ones refused: an outage), and hold the
 * server-to-client direction of the connections open now (the client stops hearing anything
 * while its own frames still go through), with the held bytes kept for inspection.
 */
import net from 'node:net'

export interface SwitchProxy {
  /** The port clients connect to. */
  readonly port: number
  /** The backend port new connections go to. */
  target: number
  /** Drops every open connection and refuses new ones until restore(). */
  cut(): void
  restore(): void
  /**
   * From now on, what the backends send on the connections open now is kept here instead of
   * reaching the client (new connections are not affected).
   */
  hold(): void
  /** Everything ever held, as text (server frames are unmasked: their JSON is readable). */
  held(): string
  /** Drops the held connections without delivering what they held. */
  dropHeld(): void
  /**
   * Arms a trigger: the first chunk a backend sends whose text matches `pattern` is not delivered,
   * and at that moment the proxy cuts (as cut()) or holds (as hold()). Resolves once it fired.
   */
  when(pattern: string, action: 'cut' | 'hold'): Promise<void>
  close(): Promise<void>
}

interface Pair {
  client: net.Socket
  upstream: net.Socket
  held: Buffer[] | null
}

export async function startSwitchProxy(target: number): Promise<SwitchProxy> {
  const pairs = new Set<Pair>()
  let heldText = ''
  let cutOff = false
  let trigger: { pattern: string; action: 'cut' | 'hold'; fired: () => void } | null = null
  const drop = (p: Pair) => {
    p.client.destroy()
    p.upstream.destroy()
    pairs.delete(p)
  }
  const server = net.createServer((client) => {
    if (cutOff) {
      client.destroy()
      return
    }
    const upstream = net.connect(proxy.target, '127.0.0.1')
    const pair: Pair = { client, upstream, held: null }
    pairs.add(pair)
    client.on('error', () => drop(pair)).on('close', () => drop(pair))
    upstream.on('error', () => drop(pair)).on('close', () => drop(pair))
    client.pipe(upstream)
    upstream.on('data', (chunk: Buffer) => {
      if (
        trigger !== null &&
        pair.held === null &&
        chunk.toString('latin1').includes(trigger.pattern)
      ) {
        const t = trigger
        trigger = null
        if (t.action === 'cut') proxy.cut()
        else {
          proxy.hold()
          pair.held = [chunk]
          heldText += chunk.toString('latin1')
        }
        t.fired()
        return
      }
      if (pair.held !== null) {
        pair.held.push(chunk)
        heldText += chunk.toString('latin1')
      } else if (!client.write(chunk)) {
        upstream.pause()
        client.once('drain', () => upstream.resume())
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const proxy: SwitchProxy = {
    port: (server.address() as net.AddressInfo).port,
    target,
    cut() {
      cutOff = true
      for (const p of [...pairs]) drop(p)
    },
    restore() {
      cutOff = false
    },
    hold() {
      for (const p of pairs) p.held ??= []
    },
    held() {
      return heldText
    },
    dropHeld() {
      for (const p of [...pairs]) if (p.held !== null) drop(p)
    },
    when(pattern, action) {
      return new Promise<void>((fired) => {
        trigger = { pattern, action, fired }
      })
    },
    async close() {
      cutOff = true
      for (const p of [...pairs]) drop(p)
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return proxy
}
