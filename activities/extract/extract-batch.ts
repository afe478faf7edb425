/**
 * `extractBatch`, at the source's datacenter: checks the captured batch is on the stage and
 * readable before anything downstream depends on it. With `consistency: backQuery` it re-reads
 * the current rows from the source by primary key (back-query.ts) and stages the rewritten batch
 * for transform.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplicationFailure, log } from '@temporalio/activity';
import type { NumberedBatch } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';
import { withHeartbeat } from '../heartbeat.js';
import type { Resources } from '../resources.js';
import { openStage } from '../stage/stage.js';
import { backQueryChanges } from './back-query.js';

export interface ExtractInput {
  spec: PipelineSpec;
  batch: NumberedBatch;
}

/** Where the batch's changes are now, and how big they are on the stage. */
export interface ExtractResult {
  ref: string;
  bytes: number;
}

/** Where a back-queried batch is staged (the load removes it with the batch). */
export function backQueryRef(pipelineId: string, seq: number): string {
  return `${pipelineId}/backquery/${seq}.jsonl.gz`;
}

export function createExtractActivities(deps: { resources: Resources }) {
  return {
    async extractBatch({ spec, batch }: ExtractInput): Promise<ExtractResult> {
      if (spec.consistency === 'backQuery') return withHeartbeat(() => backQuery(deps.resources, spec, batch));
      if (spec.stage.type !== 'local') return { ref: batch.ref, bytes: 0 };
      try {
        const s = await stat(join(spec.stage.dir, batch.ref));
        return { ref: batch.ref, bytes: s.size };
      } catch {
        throw ApplicationFailure.nonRetryable(`staged batch ${batch.ref} is missing from ${spec.stage.dir}`, 'StageCorrupt');
      }
    },
  };
}

async function backQuery(resources: Resources, spec: PipelineSpec, batch: NumberedBatch): Promise<ExtractResult> {
  const stage = openStage(spec.stage);
  const changes = await stage.getChanges(batch.ref);
  const started = Date.now();
  const rewritten = await backQueryChanges(resources.mysqlPool(spec.source), spec, changes);
  const ref = backQueryRef(spec.id, batch.seq);
  const bytes = await stage.putChanges(ref, rewritten);
  log.debug('batch re-read from the source', { seq: batch.seq, changes: changes.length, ms: Date.now() - started });
  return { ref, bytes };
}
