/** All activities, built from their dependencies; workflows take their types from here. */
import type { Client } from '@temporalio/client';
import { createCaptureActivities } from './capture/capture-binlog.js';
import { createExtractActivities } from './extract/extract-batch.js';
import { createFileActivities } from './files/copy-files.js';
import { createLoadActivities } from './load/load-batch.js';
import type { PipelineSpec } from '../lib/spec.js';
import type { Resources } from './resources.js';
import { createTransformActivities } from './transform/transform-batch.js';
import { checkSpecAllowed } from './worker-config.js';

export interface ActivityDeps {
  resources: Resources;
  /** The worker's Temporal client (capture submits batches with it). */
  client: () => Client;
}

export function createActivities(deps: ActivityDeps) {
  return checkingSpecs({
    ...createCaptureActivities(deps),
    ...createExtractActivities(deps),
    ...createTransformActivities(),
    ...createFileActivities(),
    ...createLoadActivities(deps),
  });
}

type SpecActivity = (input: { spec: PipelineSpec }) => Promise<unknown>;
/** Activities whose input carries the pipeline's spec (every one of seaotter's). */
type SpecActivities<T> = { [K in keyof T]: T[K] extends (input: infer I) => Promise<unknown> ? (I extends { spec: PipelineSpec } ? T[K] : never) : never };

/** Every activity first checks its spec against the worker's own config (worker-config.ts). */
function checkingSpecs<T extends SpecActivities<T>>(activities: T): T {
  const out: Record<string, SpecActivity> = {};
  for (const [name, fn] of Object.entries(activities) as [string, SpecActivity][]) {
    out[name] = async (input) => {
      await checkSpecAllowed(input.spec);
      return fn(input);
    };
  }
  return out as T;
}
