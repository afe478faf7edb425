/**
 * One batch = one workflow: extract and transform run as soon as the batch is accepted (in
 * parallel with earlier batches), the load waits for its permit so batches commit in seq order.
 * Its id, search attributes and result make it a readable row in the Web UI.
 */
import { condition, proxyActivities, proxyLocalActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { NumberedBatch } from '../lib/model.js';
import type { PipelineSpec } from '../lib/spec.js';
import { loadPermitSignal, SA_STATE } from './messages.js';

type Activities = ReturnType<typeof createActivities>;

/** Input of `syncBatchWorkflow`. */
export interface SyncBatchInput {
  spec: PipelineSpec;
  batch: NumberedBatch;
  /** True when the batch may load at once (the previous one has committed). */
  permitted: boolean;
}

/** Result of `syncBatchWorkflow`. */
export interface SyncBatchResult {
  seq: number;
  rowsApplied: number;
  /** True when the target's checkpoint showed the batch already applied (a retried load). */
  alreadyApplied: boolean;
  statements: number;
  deadLettered: number;
  deadLetterFile?: string;
}

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' };

function activitiesFor(spec: PipelineSpec) {
  const atTarget = proxyActivities<Activities>({
    taskQueue: spec.targetQueue,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '10 seconds',
    // A row the target refuses (bad value, missing table) fails for good and halts the pipeline;
    // anything else (connection lost, deadlock, server restarting) is retried with backoff.
    retry: { ...retry, nonRetryableErrorTypes: ['TargetRefused', 'TransformFailed', 'StageCorrupt', 'PositionMismatch'] },
  });
  // This workflow runs on the source's task queue (see pipeline.ts), so extract and transform run
  // as local activities of the source's worker: no server round trip, and no stage read across
  // datacenters before the load. Only file copy and load cross to the target's queue.
  const local = proxyLocalActivities<Activities>({
    startToCloseTimeout: '5 minutes',
    retry: { ...retry, nonRetryableErrorTypes: ['TransformFailed', 'StageCorrupt'] },
  });
  return { extractBatch: local.extractBatch, transformBatch: local.transformBatch, copyFiles: atTarget.copyFiles, loadBatch: atTarget.loadBatch };
}

export async function syncBatchWorkflow(input: SyncBatchInput): Promise<SyncBatchResult> {
  let permitted = input.permitted;
  setHandler(loadPermitSignal, () => void (permitted = true));
  const { spec, batch } = input;
  const a = activitiesFor(spec);
  const setState = (state: string) => upsertSearchAttributes([{ key: SA_STATE, value: state }]);

  setState('extracting');
  const extracted = await a.extractBatch({ spec, batch });
  setState('transforming');
  const transformed = await a.transformBatch({ spec, batch, extracted });
  if (transformed.fileRefs > 0) {
    setState('copying files');
    await a.copyFiles({ spec, batch, transformed });
  }
  if (!permitted) {
    setState('waiting for permit');
    await condition(() => permitted);
  }
  setState('loading');
  const loaded = await a.loadBatch({ spec, batch, transformed });
  setState(loaded.alreadyApplied ? 'committed (already applied)' : 'committed');
  return { seq: batch.seq, ...loaded };
}
