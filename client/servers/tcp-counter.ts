/**
 * A TCP forwarder on 127.0.0.1 that counts the connections and bytes it carried as they pass, so
 * a test can tell which address a process really used (e.g. a store's per-datacenter endpoint),
 * and the cross-datacenter bench what crossed each simulated link, kept-alive connections included.
 */
import net from 'node:net';

export interface TcpCounter {
  port: number;
  connections: number;
  bytesToClient: number;
  bytesToUpstream: number;
  /** HTTP requests seen going upstream, by method (request lines; bodies are not parsed). */
  requests: Record<string, number>;
  close(): Promise<void>;
}

/** `countRequests: false` leaves the request lines uncounted (no scan of every chunk). */
export async function startTcpCounter(upstreamPort: number, opts: { countRequests?: boolean } = {}): Promise<TcpCounter> {
  const countRequests = opts.countRequests ?? true;
  const sockets = new Set<net.Socket>();
  const counter = { port: 0, connections: 0, bytesToClient: 0, bytesToUpstream: 0, requests: {} } as TcpCounter;
  const server = net.createServer((client) => {
    counter.connections++;
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => (client.destroy(), upstream.destroy()));
    }
    upstream.on('data', (d: Buffer) => (counter.bytesToClient += d.length));
    client.on('data', (d: Buffer) => {
      counter.bytesToUpstream += d.length;
      if (!countRequests) return;
      for (const [, method] of d.toString('latin1').matchAll(/(?:^|\r\n)(GET|HEAD|PUT|POST|DELETE) \S+ HTTP\/1\.1\r\n/g)) counter.requests[method!] = (counter.requests[method!] ?? 0) + 1;
    });
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  counter.port = (server.address() as net.AddressInfo).port;
  counter.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return counter;
}
