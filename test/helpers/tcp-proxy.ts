/** @module A loopback TCP proxy that a test can cut and restore, to play a network outage. */
import net from 'node:net'

export interface TcpProxy {
  /** The port clients connect to. */
  port: number
  /** Drops every open connection and refuses new ones until restore(). */
  cut(): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startTcpProxy(
  targetPort: number,
  targetHost = '127.0.0.1',
): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  let cutOff = false
  const server = net.createServer((client) => {
    if (cutOff) {
      client.destroy()
      return
    }
    const upstream = net.connect(targetPort, targetHost)
    sockets.add(client)
    sockets.add(upstream)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    async cut() {
      cutOff = true
      for (const s of sockets) s.destroy()
      sockets.clear()
    },
    async restore() {
      cutOff = false
    },
    async close() {
      cutOff = true
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
