/**
 * MappingResolver: target columns follow each change's own columns (known ones as resolved, new
 * ones through the rule), and a table created after apply that a regex rule matches is mapped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MappingResolver } from '../../activities/transform/dynamic-mapping.js';
import type { RowChange } from '../../lib/model.js';
import type { PipelineSpec, TableMapping } from '../../lib/spec.js';

const orders: TableMapping = {
  source: { schema: 'shop', table: 'orders' },
  target: { schema: 'us', table: 'orders' },
  columns: [
    { source: 'id', target: 'id' },
    { source: 'buyer', target: 'buyer_id' },
  ],
  primaryKey: ['id'],
  uniqueKeys: [],
  weight: 3,
  rule: 0,
};

function spec(withRules = true): PipelineSpec {
  return {
    tables: [orders],
    ...(withRules
      ? {
          rules: [
            { source: 'shop.orders', target: 'us.orders', columns: { exclude: ['note'], rename: { buyer: 'buyer_id' } }, weight: 3 },
            { source: 'shop\\.log_(\\d+)', target: 'us.l$1', weight: 1, where: { level: 'error' } },
          ],
        }
      : {}),
  } as unknown as PipelineSpec;
}

const ins = (table: string, after: Record<string, string | number | null>): RowChange => ({ schema: 'shop', table, action: 'insert', after });

test('the layout known at apply maps to the resolved mapping itself', () => {
  const r = new MappingResolver(spec());
  assert.equal(r.mappingFor(ins('orders', { id: 1, buyer: 2 })), orders);
});

test('a column added later goes through the rule; an excluded one stays out; a dropped one is not written', () => {
  const r = new MappingResolver(spec());
  const m = r.mappingFor(ins('orders', { id: 1, buyer: 2, note: 'x', total: 5 }))!;
  assert.deepEqual(m.columns, [
    { source: 'id', target: 'id' },
    { source: 'buyer', target: 'buyer_id' },
    { source: 'total', target: 'total' },
  ]);
  assert.deepEqual(m.primaryKey, ['id']);
  assert.equal(r.mappingFor(ins('orders', { id: 2, buyer: 3, note: 'y', total: 6 })), m, 'one mapping per layout, cached');
  assert.deepEqual(r.mappingFor(ins('orders', { id: 1, total: 5 }))!.columns, [
    { source: 'id', target: 'id' },
    { source: 'total', target: 'total' },
  ]);
});

test('a table created after apply that a regex rule matches is mapped by that rule', () => {
  const r = new MappingResolver(spec());
  const m = r.mappingFor(ins('log_7', { id: 1, level: 'error' }))!;
  assert.deepEqual(m.target, { schema: 'us', table: 'l7' });
  assert.deepEqual(m.where, { level: 'error' });
  assert.equal(m.weight, 1);
  assert.deepEqual(m.columns, [
    { source: 'id', target: 'id' },
    { source: 'level', target: 'level' },
  ]);
  assert.equal(r.mappingFor(ins('other', { id: 1 })), null);
});

test('a table created after apply that two rules match halts the batch (TransformFailed), naming both rules', () => {
  const s = spec();
  s.rules!.push({ source: 'shop\\.log_\\d', target: 'us.logs', weight: 0 });
  const r = new MappingResolver(s);
  assert.throws(
    () => r.mappingFor(ins('log_7', { id: 1, level: 'error' })),
    (err: Error & { type?: string; nonRetryable?: boolean }) =>
      err.type === 'TransformFailed' && err.nonRetryable === true && /shop\.log_7, created after pipeline apply, is matched by both tables\[1\] .* and tables\[2\]/.test(err.message),
  );
  assert.equal(r.mappingFor(ins('log_70', { id: 1, level: 'error' }))!.target.table, 'l70', 'a table only one rule matches is mapped');
  assert.equal(r.mappingFor(ins('orders', { id: 1, buyer: 2 }))!.target.table, 'orders');
});

test('a spec from a build without rules keeps the resolved columns', () => {
  const r = new MappingResolver(spec(false));
  assert.equal(r.mappingFor(ins('orders', { id: 1, buyer: 2, total: 5 })), orders);
  assert.equal(r.mappingFor(ins('log_7', { id: 1 })), null);
});

test("a table created after apply keeps its rule's file rules (its rows never load without their files)", async () => {
  const { hasFileDeletes } = await import('../../lib/file-keys.js');
  const files = [{ columns: ['pic'], from: 'pics-hz', to: 'pics-us', onDelete: 'delete', onMissing: 'halt' }];
  const s = { tables: [], rules: [{ source: 'shop\\.order_(\\d+)', target: 'us.o$1', weight: 0, files }] } as unknown as PipelineSpec;
  const m = new MappingResolver(s).mappingFor(ins('order_2', { id: 1, pic: 'p/1.jpg' }))!;
  assert.deepEqual(m.target, { schema: 'us', table: 'o2' });
  assert.deepEqual(m.files, files);
  // Its deletes count as the pipeline's: batches copy only once earlier deleting ones are done.
  assert.equal(hasFileDeletes(s.tables), false);
  assert.equal(hasFileDeletes(s.tables, s.rules), true);
});

test('a column added later whose name another column is renamed to halts the batch, instead of one overwriting the other', () => {
  // spec(): the rule renames buyer to buyer_id; a column buyer_id is then added to shop.orders.
  assert.throws(
    () => new MappingResolver(spec()).mappingFor(ins('orders', { id: 1, buyer: 'B', buyer_id: 99 })),
    (err: Error & { type?: string }) => err.type === 'TransformFailed' && /columns "buyer" and "buyer_id" of shop\.orders both map to target column "buyer_id"/.test(err.message),
  );
});
