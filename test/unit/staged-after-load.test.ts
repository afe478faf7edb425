/**
 * What a committed batch leaves on the stage for its load to remove (stagedAfterLoad): only what
 * was written there, so that across datacenters no removal crosses the link for nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stagedAfterLoad, type TransformResult } from '../../activities/transform/transform-batch.js';
import type { NumberedBatch } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';

const batch = { seq: 7, ref: 'p/captured/7.jsonl.gz' } as NumberedBatch;
const spec = (consistency: string) => ({ id: 'p', consistency }) as unknown as PipelineSpec;
const staged: TransformResult = { ref: 'p/transformed/7.jsonl.gz', rows: 3, fileRefs: 0 };
const plan = { copies: [], deletes: [] };

test('a staged batch: the captured and the transformed batch', () => {
  assert.deepEqual(stagedAfterLoad(spec('binlog'), batch, staged), ['p/captured/7.jsonl.gz', 'p/transformed/7.jsonl.gz']);
});

test('an inline batch: only the captured one; back-queried rows when the pipeline back-queries', () => {
  assert.deepEqual(stagedAfterLoad(spec('binlog'), batch, { ...staged, inline: '{}' }), ['p/captured/7.jsonl.gz']);
  assert.deepEqual(stagedAfterLoad(spec('binlog'), batch, { ...staged, inlineGzip: 'H4s=' }), ['p/captured/7.jsonl.gz']);
  assert.deepEqual(stagedAfterLoad(spec('backQuery'), batch, { ...staged, inline: '{}' }), ['p/captured/7.jsonl.gz', 'p/backquery/7.jsonl.gz']);
});

test('a file plan: removed by the load only when it also travelled inline and deleteFiles does not run', () => {
  const withPlan = { ...staged, inline: '{}', fileRefs: 2, fileCopies: 2, fileDeletes: 0, filesRef: 'p/files/7.json.gz' };
  assert.deepEqual(stagedAfterLoad(spec('binlog'), batch, withPlan), ['p/captured/7.jsonl.gz'], 'staged only: deleteFiles removes it');
  assert.deepEqual(stagedAfterLoad(spec('binlog'), batch, { ...withPlan, filesInline: plan }), ['p/captured/7.jsonl.gz', 'p/files/7.json.gz']);
  assert.deepEqual(stagedAfterLoad(spec('binlog'), batch, { ...withPlan, fileDeletes: 1, filesInline: plan }), ['p/captured/7.jsonl.gz'], 'deleteFiles runs and removes it');
});
