/**
 * @module A loopback TCP proxy whose network can go silent: hang() keeps every connection open
 * but forwards nothing more (as a firewall that drops packets would), restore() resets the hung
 * connections and forwards again. For the outage that no error announces: only timeouts end it.
 */
import net from 'node:net'

export interface BlackholeProxy {
  port: number
  /** From now on nothing is forwarded; connections stay open, new ones are accepted and ignored. */
  hang(): Promise<void>
  /** Resets the hung connections and forwards new ones again. */
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startBlackholeProxy(
  targetPort: number,
  targetHost = '127.0.0.1',
): Promise<BlackholeProxy> {
  const sockets = new Set<net.Socket>()
  let silent = false
  const track = (s: net.Socket) => {
    sockets.add(s)
    s.on('error', () => s.destroy())
    s.on('close', () => sockets.delete(s))
  }
  const server = net.createServer((client) => {
    track(client)
    if (silent) return // accepted, never answered
    const upstream = net.connect(targetPort, targetHost)
    track(upstream)
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => {
        if (!silent) to.write(chunk)
      })
    }
    forward(client, upstream)
    forward(upstream, client)
    const drop = () => {
      if (silent) return // while hung, nobody hears of the other side closing
      client.destroy()
      upstream.destroy()
    }
    client.on('close', drop)
    upstream.on('close', drop)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    async hang() {
      silent = true
    },
    async restore() {
      for (const s of sockets) s.resetAndDestroy()
      sockets.clear()
      silent = false
    },
    async close() {
      silent = true
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
