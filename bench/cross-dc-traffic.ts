// What crossed each simulated link during a phase: bytes and connections per link, the difference
// of two snapshots of counters that see the bytes as they pass (bench/toxiproxy.ts), kept-alive
// connections included. The stage link must have carried the us worker's requests to the stage,
// or the bench would measure a stage the us worker reached without crossing.
import type { ResultRow } from './report.js';
import type { LinkTraffic } from './toxiproxy.js';

export type Traffic = Record<string, LinkTraffic>;

export function trafficDelta(before: Traffic, after: Traffic): Traffic {
  return Object.fromEntries(
    Object.entries(after).map(([name, a]) => {
      const b = before[name] ?? { bytesToUpstream: 0, bytesToClient: 0, connections: 0 };
      return [name, { bytesToUpstream: a.bytesToUpstream - b.bytesToUpstream, bytesToClient: a.bytesToClient - b.bytesToClient, connections: a.connections - b.connections }];
    }),
  );
}

const size = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

/**
 * Results rows: in a phase, one per link that carried bytes or accepted connections then; for the
 * whole run (`phase` "links"), one per link.
 */
export function trafficRows(phase: string, delta: Traffic, roles: Record<string, string>, wholeRun = false): ResultRow[] {
  return Object.entries(delta)
    .filter(([, t]) => wholeRun || t.connections > 0 || t.bytesToClient + t.bytesToUpstream > 0)
    .map(([name, t]) => ({
      phase,
      system: `link ${name}`,
      note: `${roles[name] ?? name}: ${t.connections} connection(s) accepted; ${size(t.bytesToClient)} hz → us, ${size(t.bytesToUpstream)} us → hz`,
    }));
}

/** Why the stage link's traffic is not that of the us worker reading staged batches, or undefined. */
export function stageTrafficProblem(delta: Traffic, batches: number): string | undefined {
  const t = delta['stage-from-us'];
  if (!t) return 'no stage-from-us link';
  if (batches > 0 && t.bytesToClient === 0) return `${batches} batches committed but the us worker reached the stage through the link for none of them`;
  return undefined;
}
