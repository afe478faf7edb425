/**
 * `copyFiles`, at the target's datacenter: copies the files a batch's rows reference before the
 * rows load, so a row never appears without its file. Pipelines without file rules never call it.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { NumberedBatch } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';
import type { TransformResult } from '../transform/transform-batch.js';

export interface CopyFilesInput {
  spec: PipelineSpec;
  batch: NumberedBatch;
  transformed: TransformResult;
}

export interface CopyFilesResult {
  copied: number;
  skipped: number;
}

export function createFileActivities() {
  return {
    async copyFiles({ transformed }: CopyFilesInput): Promise<CopyFilesResult> {
      if (transformed.fileRefs === 0) return { copied: 0, skipped: 0 };
      throw ApplicationFailure.nonRetryable('file rules are not supported by this build yet', 'TransformFailed');
    },
  };
}
