/**
 * The datacenter this process works for, set once when `seaotter worker --dc X` starts. Activities
 * that reach a store with per-datacenter endpoints (s3-client.ts) read it; outside a worker (the
 * CLI's checks at `pipeline apply`) it is undefined and stores use their plain `endpoint`.
 */
let current: string | undefined;

export function setWorkerDatacenter(dc: string): void {
  if (current !== undefined && current !== dc) throw new Error(`this process already works for datacenter ${current}, not ${dc}`);
  current = dc;
}

export function workerDatacenter(): string | undefined {
  return current;
}
