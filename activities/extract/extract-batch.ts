/**
 * `extractBatch`, at the source's datacenter: checks the captured batch is on the stage and
 * readable before anything downstream depends on it. (With `consistency: backQuery` this is where
 * current rows are re-read from the source by primary key.)
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { NumberedBatch } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';

export interface ExtractInput {
  spec: PipelineSpec;
  batch: NumberedBatch;
}

/** Where the batch's changes are now, and how big they are on the stage. */
export interface ExtractResult {
  ref: string;
  bytes: number;
}

export function createExtractActivities() {
  return {
    async extractBatch({ spec, batch }: ExtractInput): Promise<ExtractResult> {
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
