/**
 * One batch = one workflow: extract and transform run as soon as the batch is accepted (in
 * parallel with earlier batches), the load waits for its permit so batches commit in seq order.
 * Its id, search attributes and result make it a readable row in the Web UI.
 */
import { condition, patched, proxyActivities, proxyLocalActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { hasFileDeletes } from '../lib/file-keys.js';
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
  /** An earlier batch in flight carries DDL: the load plans at its turn (activities/load). */
  afterDdl?: boolean;
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
  /** Where the load's time went (ms per phase: read, plan, wait, write, commit). */
  timingsMs?: Record<string, number>;
  /** `atomic`, `parallel`, or `parallel, fell back to atomic` (load.mode parallel after a conflict). */
  writtenAs?: string;
  /** Files copied with the rows, skipped as already there, missing at the source (`onMissing: skip`), deleted. */
  files?: { copied: number; skipped: number; missing: number; deleted: number; missingKeys?: string[] };
}

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' };

function activitiesFor(spec: PipelineSpec) {
  const atTarget = proxyActivities<Activities>({
    taskQueue: spec.targetQueue,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '10 seconds',
    // A row the target refuses (bad value, missing table) fails for good and halts the pipeline;
    // anything else (connection lost, deadlock, server restarting) is retried with backoff.
    retry: { ...retry, nonRetryableErrorTypes: ['TargetRefused', 'TransformFailed', 'StageCorrupt', 'PositionMismatch', 'FileMissing'] },
  });
  // This workflow runs on the source's task queue (see pipeline.ts), so extract and transform run
  // as local activities of the source's worker: no server round trip, and no stage read across
  // datacenters before the load. Only file copy and load cross to the target's queue.
  const local = proxyLocalActivities<Activities>({
    startToCloseTimeout: '5 minutes',
    retry: { ...retry, nonRetryableErrorTypes: ['TransformFailed', 'StageCorrupt'] },
  });
  return { extractBatch: local.extractBatch, transformBatch: local.transformBatch, copyFiles: atTarget.copyFiles, deleteFiles: atTarget.deleteFiles, loadBatch: atTarget.loadBatch };
}

export async function syncBatchWorkflow(input: SyncBatchInput): Promise<SyncBatchResult> {
  let permitted = input.permitted;
  setHandler(loadPermitSignal, () => void (permitted = true));
  const { spec, batch } = input;
  const a = activitiesFor(spec);
  const setState = (state: string) => upsertSearchAttributes([{ key: SA_STATE, value: state }]);

  // The batch starts in state 'preparing' (set by the pipeline at its start): extract and
  // transform are local activities, so state changes here would only add history events.
  // Extract re-reads rows only for `consistency: backQuery`; otherwise transform reads the
  // captured batch itself (and halts on a missing one), so a separate step would only add a
  // local-activity round trip to every batch. (`patched`: a batch started by an older worker,
  // which always ran extract, replays as it ran.)
  const needsExtract = spec.consistency === 'backQuery' || !patched('extract-only-for-back-query');
  const extracted = needsExtract ? await a.extractBatch({ spec, batch }) : { ref: batch.ref, bytes: 0 };
  const transformed = await a.transformBatch({ spec, batch, extracted });
  let copied: Awaited<ReturnType<Activities['copyFiles']>> | undefined;
  const copy = async () => {
    if (transformed.fileRefs === 0) return;
    setState('copying files');
    copied = await a.copyFiles({ spec, batch, transformed });
  };
  // Files are copied while earlier batches load, unless rules delete files: then only after the
  // permit, which such a pipeline gives once the previous batch has finished (lib/file-keys.ts).
  const copyAfterPermit = hasFileDeletes(spec.tables, spec.rules);
  if (!copyAfterPermit) await copy();
  if (!permitted) {
    setState('waiting for permit');
    await condition(() => permitted);
  }
  if (copyAfterPermit) await copy();
  setState('loading');
  const loaded = await a.loadBatch({ spec, batch, transformed, ...(input.afterDdl ? { afterDdl: true } : {}) });
  // Files of deleted rows go only once the deletes are committed: a row never lacks its file.
  // It also removes the batch's staged file plan, so it runs for every batch that has a plan,
  // unless the plan also travelled inline and deletes nothing: then the load removes it.
  const needsDelete = transformed.fileDeletes || (transformed.filesRef && !transformed.filesInline);
  const deleted = needsDelete ? (await a.deleteFiles({ spec, batch, transformed })).deleted : 0;
  setState(loaded.alreadyApplied ? 'committed (already applied)' : 'committed');
  return { seq: batch.seq, ...loaded, ...(copied || deleted ? { files: { copied: 0, skipped: 0, missing: 0, ...copied, deleted } } : {}) };
}
