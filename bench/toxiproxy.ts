// A latency-injecting TCP proxy between the benchmark's two simulated datacenters: Toxiproxy
// (built by `node scripts/setup.mjs --for-bench`), driven through its HTTP API. Every link adds
// the same delay in each direction, so a 100 ms link has a 200 ms round trip. Behind each link a
// counting forwarder in this process (client/servers/tcp-counter.ts) sees the bytes as they pass,
// so kept-alive connections (the worker's gRPC channel, S3 requests) are counted per phase too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, spawnServer, stopPid, waitForPort } from '../client/servers/ports.js';
import { startTcpCounter, type TcpCounter } from '../client/servers/tcp-counter.js';

/** The toxiproxy server binary: $SEAOTTER_TOXIPROXY_BIN, else where setup builds it. */
export function resolveToxiproxyBin(): string {
  const cache = process.env.SEAOTTER_CACHE ?? path.join(os.homedir(), '.cache', 'seaotter');
  const candidates = [process.env.SEAOTTER_TOXIPROXY_BIN, path.join(cache, 'toxiproxy', 'server'), '/root/.cache/seaotter/toxiproxy/server'];
  const found = candidates.find((c) => c && fs.existsSync(c));
  if (!found) throw new Error('the toxiproxy server was not found; run `node scripts/setup.mjs --for-bench` to build it');
  return found;
}

/** Bytes a link carried and connections it accepted, since the link was made. */
export interface LinkTraffic {
  /** Client → upstream (e.g. the us worker's requests). */
  bytesToUpstream: number;
  /** Upstream → client (e.g. the staged batches the us worker read). */
  bytesToClient: number;
  connections: number;
}

/** One proxied link: clients connect to `listenPort` instead of `upstreamPort`. */
export interface Link {
  name: string;
  listenPort: number;
  upstreamPort: number;
  oneWayMs: number;
}

export interface Toxiproxy {
  pid: number;
  apiPort: number;
  links: Link[];
  /** Adds a link to 127.0.0.1:upstreamPort delayed by oneWayMs each way; resolves with it. */
  link(name: string, upstreamPort: number, oneWayMs: number): Promise<Link>;
  /** Traffic per link name, counted as it passes. */
  traffic(): Promise<Record<string, LinkTraffic>>;
  stop(): Promise<void>;
}

export async function startToxiproxy(opts: { logFile: string }): Promise<Toxiproxy> {
  const apiPort = await freePort();
  const child = spawnServer(resolveToxiproxyBin(), ['-host', '127.0.0.1', '-port', String(apiPort)], { logFile: opts.logFile });
  const pid = child.pid!;
  await waitForPort('127.0.0.1', apiPort, 30_000);
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${route}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`toxiproxy ${method} ${route}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  const links: Link[] = [];
  const counters = new Map<string, TcpCounter>();
  return {
    pid,
    apiPort,
    links,
    async link(name, upstreamPort, oneWayMs) {
      const listenPort = await freePort();
      const counter = await startTcpCounter(upstreamPort, { countRequests: false });
      counters.set(name, counter);
      await api('POST', '/proxies', { name, listen: `127.0.0.1:${listenPort}`, upstream: `127.0.0.1:${counter.port}`, enabled: true });
      for (const stream of ['upstream', 'downstream']) {
        await api('POST', `/proxies/${name}/toxics`, { name: `${name}-${stream}`, type: 'latency', stream, toxicity: 1, attributes: { latency: oneWayMs, jitter: 0 } });
      }
      const l = { name, listenPort, upstreamPort, oneWayMs };
      links.push(l);
      return l;
    },
    async traffic() {
      return Object.fromEntries(
        links.map((l) => {
          const c = counters.get(l.name)!;
          return [l.name, { bytesToUpstream: c.bytesToUpstream, bytesToClient: c.bytesToClient, connections: c.connections }];
        }),
      );
    },
    async stop() {
      await stopPid(pid, 5_000);
      await Promise.all([...counters.values()].map((c) => c.close()));
    },
  };
}
