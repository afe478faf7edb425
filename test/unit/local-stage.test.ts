/**
 * The local stage as transform reads a captured batch: what was staged comes back equal, and a
 * batch that is missing or unreadable fails for good as StageCorrupt (the batch workflow then
 * halts the pipeline instead of retrying), since transform is the first step that reads it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { openStage } from '../../activities/stage/stage.js';
import type { RowChange } from '../../lib/model.js';

const dir = mkdtempSync(join(tmpdir(), 'seaotter-stage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const changes: RowChange[] = [
  { action: 'insert', schema: 'shop', table: 'orders', after: { id: 1, note: 'ü', amount: '12.50' } },
  { action: 'delete', schema: 'shop', table: 'orders', before: { id: 2, note: null, amount: '1.00' } },
];

function isStageCorrupt(err: unknown, mentions: string): boolean {
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  assert.equal(err.type, 'StageCorrupt');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, new RegExp(mentions));
  return true;
}

test('a staged batch reads back equal, from another process too (not only from memory)', async () => {
  await openStage({ type: 'local', dir }).putChanges('p/capture/a.jsonl.gz', changes);
  // A second stage object has its own memory: this read comes from the file.
  assert.deepEqual(await openStage({ type: 'local', dir }).getChanges('p/capture/a.jsonl.gz'), changes);
});

test('a missing captured batch is StageCorrupt, naming the batch and the directory', async () => {
  await assert.rejects(openStage({ type: 'local', dir }).getChanges('p/capture/gone.jsonl.gz'), (err) => isStageCorrupt(err, `p/capture/gone.jsonl.gz is missing from ${dir}`));
});

test('an unreadable captured batch is StageCorrupt', async () => {
  mkdirSync(join(dir, 'p/capture'), { recursive: true });
  writeFileSync(join(dir, 'p/capture/bad.jsonl.gz'), 'not gzip');
  await assert.rejects(openStage({ type: 'local', dir }).getChanges('p/capture/bad.jsonl.gz'), (err) => isStageCorrupt(err, 'cannot be read'));
});

test('inline batches: small ones as JSON lines, bigger ones gzip\'d, over the limit none; each reads back equal', async () => {
  const { inlineForm, transformedChanges, INLINE_GZIP_FROM } = await import('../../activities/transform/transform-batch.js');
  const stage = openStage({ type: 'local', dir });
  const ref = 'p/transformed/9.jsonl.gz';
  const small = await inlineForm(changes, 65536);
  assert.equal(typeof small?.inline, 'string');
  assert.equal(small?.inlineGzip, undefined);
  assert.deepEqual(await transformedChanges(stage, { ref, rows: 2, fileRefs: 0, ...small }), changes);

  // Tens of KB of JSON: over the gzip threshold, under the limit.
  const many: RowChange[] = Array.from({ length: 400 }, (_, i) => ({ action: 'update', schema: 'shop', table: 'orders', before: { id: i, note: 'x'.repeat(20), amount: '1.00' }, after: { id: i, note: `ü ${i}`, amount: '2.00' } }));
  const big = await inlineForm(many, 262_144);
  assert.equal(big?.inline, undefined);
  assert.equal(typeof big?.inlineGzip, 'string');
  const jsonBytes = Buffer.byteLength(JSON.stringify(many));
  assert.ok(jsonBytes > INLINE_GZIP_FROM && big!.inlineGzip!.length < jsonBytes / 3, `gzip'd ${big!.inlineGzip!.length} chars of ${jsonBytes} bytes`);
  assert.deepEqual(await transformedChanges(stage, { ref, rows: many.length, fileRefs: 0, ...big }), many);

  assert.equal(await inlineForm(many, 16_384), undefined, 'over the limit: through the stage');
  assert.equal(await inlineForm(many, 0), undefined, 'inlineMaxBytes 0: off');
  await assert.rejects(transformedChanges(stage, { ref, rows: 1, fileRefs: 0, inlineGzip: 'bm90IGd6aXA=' }), (err) => isStageCorrupt(err, 'inline'));
});
