/** All activities, built from their dependencies; workflows take their types from here. */
import type { Client } from '@temporalio/client';
import { createCaptureActivities } from './capture/capture-binlog.js';
import { createExtractActivities } from './extract/extract-batch.js';
import { createFileActivities } from './files/copy-files.js';
import { createLoadActivities } from './load/load-batch.js';
import type { Resources } from './resources.js';
import { createTransformActivities } from './transform/transform-batch.js';

export interface ActivityDeps {
  resources: Resources;
  /** The worker's Temporal client (capture submits batches with it). */
  client: () => Client;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createCaptureActivities(deps),
    ...createExtractActivities(deps),
    ...createTransformActivities(),
    ...createFileActivities(),
    ...createLoadActivities(deps),
  };
}
