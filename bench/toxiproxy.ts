// A latency-injecting TCP proxy between the benchmark's two simulated datacenters: Toxiproxy
// (built by `node scripts/setup.mjs --for-bench`), driven through its HTTP API. Every link adds
// the same delay in each direction, so a 100 ms link has a 200 ms round trip.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, spawnServer, stopPid, waitForPort } from '../client/servers/ports.js';

/** The toxiproxy server binary: $SEAOTTER_TOXIPROXY_BIN, else where setup builds it. */
export function resolveToxiproxyBin(): string {
  const cache = process.env.SEAOTTER_CACHE ?? path.join(os.homedir(), '.cache', 'seaotter');
  const candidates = [process.env.SEAOTTER_TOXIPROXY_BIN, path.join(cache, 'toxiproxy', 'server'), '/root/.cache/seaotter/toxiproxy/server'];
  const found = candidates.find((c) => c && fs.existsSync(c));
  if (!found) throw new Error('the toxiproxy server was not found; run `node scripts/setup.mjs --for-bench` to build it');
  return found;
}

/** Bytes a link carried and connections it accepted, since the proxy started. */
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
  /** Traffic per link name, from the proxy's metrics and its log of accepted clients. */
  traffic(): Promise<Record<string, LinkTraffic>>;
  stop(): Promise<void>;
}

export async function startToxiproxy(opts: { logFile: string }): Promise<Toxiproxy> {
  const apiPort = await freePort();
  // -proxy-metrics: per-link byte counters, so the bench can show what crossed each link.
  const child = spawnServer(resolveToxiproxyBin(), ['-host', '127.0.0.1', '-port', String(apiPort), '-proxy-metrics'], { logFile: opts.logFile });
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
  return {
    pid,
    apiPort,
    links,
    async link(name, upstreamPort, oneWayMs) {
      const listenPort = await freePort();
      await api('POST', '/proxies', { name, listen: `127.0.0.1:${listenPort}`, upstream: `127.0.0.1:${upstreamPort}`, enabled: true });
      for (const stream of ['upstream', 'downstream']) {
        await api('POST', `/proxies/${name}/toxics`, { name: `${name}-${stream}`, type: 'latency', stream, toxicity: 1, attributes: { latency: oneWayMs, jitter: 0 } });
      }
      const l = { name, listenPort, upstreamPort, oneWayMs };
      links.push(l);
      return l;
    },
    async traffic() {
      const out: Record<string, LinkTraffic> = Object.fromEntries(links.map((l) => [l.name, { bytesToUpstream: 0, bytesToClient: 0, connections: 0 }]));
      const res = await fetch(`http://127.0.0.1:${apiPort}/metrics`);
      if (!res.ok) throw new Error(`toxiproxy GET /metrics: ${res.status}`);
      for (const m of (await res.text()).matchAll(/^toxiproxy_proxy_sent_bytes_total\{([^}]*)\} (\S+)$/gm)) {
        const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
        const t = out[labels.proxy!];
        if (t) t[labels.direction === 'upstream' ? 'bytesToUpstream' : 'bytesToClient'] += Number(m[2]);
      }
      for (const line of fs.readFileSync(opts.logFile, 'utf8').split('\n')) {
        if (!line.includes('"Accepted client"')) continue;
        const t = out[(JSON.parse(line) as { name: string }).name];
        if (t) t.connections += 1;
      }
      return out;
    },
    stop: () => stopPid(pid, 5_000),
  };
}
