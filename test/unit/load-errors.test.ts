/** Which load errors halt and which are retried (activities/load/errors.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { classifyMysqlError, isRefused, planFailure } from '../../activities/load/errors.js';
import { planLoad } from '../../lib/load-plan.js';

test('a row without a key column as resolved at apply (the key changed by DDL) halts the batch, saying what to do', () => {
  const table = { target: { schema: 'd', table: 't' }, primaryKey: ['id'], uniqueKeys: [], weight: 0 };
  let thrown: unknown;
  try {
    planLoad([{ schema: 'd', table: 't', action: 'insert', after: { order_id: 1, v: 'x' } }], [table], { maxStatementBytes: 1 << 20 });
  } catch (err) {
    thrown = err;
  }
  const failure = planFailure(thrown, 7) as ApplicationFailure;
  assert.ok(failure instanceof ApplicationFailure, String(thrown));
  assert.equal(failure.type, 'TransformFailed');
  assert.equal(failure.nonRetryable, true);
  assert.match(failure.message, /^batch 7 cannot be planned: .*lacks key column id\. The table's key changed .*stop the pipeline and apply it again/);
  // Anything else is left as it was.
  const other = new Error('connection lost');
  assert.equal(planFailure(other, 7), other);
});

test('a value the target truncates (1265) halts; a lost connection is retried', () => {
  assert.equal(isRefused({ errno: 1265 }), true);
  assert.equal(isRefused({ errno: 2013 }), false);
  const refused = classifyMysqlError(Object.assign(new Error("Data truncated for column 'e' at row 1"), { errno: 1265, code: 'WARN_DATA_TRUNCATED' }), 'INSERT …', 3);
  assert.equal((refused as ApplicationFailure).type, 'TargetRefused');
});
