/**
 * Per-datacenter endpoints of an s3 store: one bucket is often reached through a different
 * address from each region or network (a VPC endpoint, a proxy). A worker of datacenter X uses
 * `endpoints[X]` when the store gives one, else `endpoint` (else the SDK's default for the region).
 */
import type { ConfigProblem } from './parse.js';
import type { SeaotterConfig } from './schema.js';

/** The endpoint a process of datacenter `dc` (undefined: not a worker, e.g. the CLI) uses for a store. */
export function endpointFor(store: { endpoint?: string; endpoints?: Record<string, string> }, dc: string | undefined): string | undefined {
  return (dc !== undefined ? store.endpoints?.[dc] : undefined) ?? store.endpoint;
}

/** Every datacenter named in the config: the data sources' `datacenter` values. */
export function datacentersOf(config: SeaotterConfig): Set<string> {
  return new Set(Object.values(config.dataSources).map((ds) => ds.datacenter));
}

/** Keys of `endpoints` that name no datacenter of the config (most likely a typo), by path. */
export function checkEndpoints(config: SeaotterConfig): ConfigProblem[] {
  const known = datacentersOf(config);
  const problems: ConfigProblem[] = [];
  for (const [name, ds] of Object.entries(config.dataSources)) {
    if (ds.type !== 's3' || !ds.endpoints) continue;
    for (const dc of Object.keys(ds.endpoints)) {
      if (!known.has(dc)) {
        problems.push({ path: `dataSources.${name}.endpoints.${dc}`, message: `no data source is in datacenter "${dc}" (known: ${[...known].sort().join(', ')})` });
      }
    }
  }
  return problems;
}
