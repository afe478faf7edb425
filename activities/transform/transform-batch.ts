/**
 * `transformBatch`: maps captured changes onto target tables and columns (pure code in lib/) and
 * stages the result for the load. Changes of tables no rule maps are dropped here.
 */
import { ApplicationFailure, log } from '@temporalio/activity';
import { mapChange } from '../../lib/mapping.js';
import type { NumberedBatch, RowChange } from '../../lib/model.js';
import { findMapping, type PipelineSpec } from '../../lib/spec.js';
import { openStage } from '../stage/stage.js';
import { withHeartbeat } from '../heartbeat.js';
import type { ExtractResult } from '../extract/extract-batch.js';

export interface TransformInput {
  spec: PipelineSpec;
  batch: NumberedBatch;
  extracted: ExtractResult;
}

export interface TransformResult {
  ref: string;
  rows: number;
  /** Files the rows reference (copied before the load). */
  fileRefs: number;
}

export function createTransformActivities() {
  return {
    transformBatch(input: TransformInput): Promise<TransformResult> {
      return withHeartbeat(() => transform(input));
    },
  };
}

async function transform({ spec, batch, extracted }: TransformInput): Promise<TransformResult> {
  const stage = openStage(spec.stage);
  const changes = await stage.getChanges(extracted.ref);
  const out: RowChange[] = [];
  let unmapped = 0;
  for (const change of changes) {
    const mapping = findMapping(spec, change.schema, change.table);
    if (!mapping) {
      unmapped++;
      continue;
    }
    try {
      out.push(mapChange(change, mapping));
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`transform of ${change.schema}.${change.table} failed: ${(err as Error).message}`, 'TransformFailed');
    }
  }
  if (unmapped) log.warn('changes of unmapped tables dropped', { seq: batch.seq, unmapped });
  const ref = `${spec.id}/transformed/${batch.seq}.jsonl.gz`;
  await stage.putChanges(ref, out);
  return { ref, rows: out.length, fileRefs: 0 };
}
