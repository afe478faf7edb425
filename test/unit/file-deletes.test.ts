/**
 * Capture's guess whether a batch may delete files (activities/capture/file-deletes.ts): never
 * "no" where transform could delete one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileDeleteRisk } from '../../activities/capture/file-deletes.js';
import type { RowChange } from '../../lib/model.js';
import type { PipelineSpec, TableMapping } from '../../lib/spec.js';

const table = (name: string, extra: Partial<TableMapping> = {}): TableMapping => ({
  source: { schema: 's', table: name },
  target: { schema: 't', table: name },
  columns: [{ source: 'id', target: 'id' }, { source: 'path', target: 'path' }],
  primaryKey: ['id'],
  uniqueKeys: [],
  weight: 0,
  ...extra,
});
const files = (onDelete: 'delete' | 'keep') => ({ files: [{ column: 'path', from: 'a', to: 'b', onDelete, onMissing: 'halt' }] }) as unknown as Partial<TableMapping>;
const change = (t: string, action: RowChange['action']): RowChange => {
  const row = { id: 1, path: 'p/1.jpg' };
  return { schema: 's', table: t, action, ...(action !== 'insert' ? { before: row } : {}), ...(action !== 'delete' ? { after: row } : {}) } as RowChange;
};
const specOf = (tables: TableMapping[], consistency = 'binlog') => ({ id: 'p', tables, consistency }) as unknown as PipelineSpec;

test('a pipeline that deletes no files needs no guess', () => {
  assert.equal(fileDeleteRisk(specOf([table('pics', files('keep'))])), undefined);
});

test('deletes of tables that delete files; updates only with a row filter; any change with a processor', () => {
  const risk = fileDeleteRisk(specOf([
    table('pics', files('delete')),
    table('filtered', { ...files('delete'), where: { path: { like: 'p/%' } } } as Partial<TableMapping>),
    table('processed', { ...files('delete'), processor: '/x/p.mjs' }),
    table('kept', files('keep')),
    table('plain'),
  ]))!;
  const says = (t: string) => (['insert', 'update', 'delete'] as const).map((a) => risk(change(t, a)));
  assert.deepEqual(says('pics'), [false, false, true]);
  assert.deepEqual(says('filtered'), [false, true, true]);
  assert.deepEqual(says('processed'), [true, true, true]);
  assert.deepEqual(says('kept'), [false, false, false]);
  assert.deepEqual(says('plain'), [false, false, false]);
  assert.deepEqual(says('unmapped'), [false, false, false]);
});

test('with consistency: backQuery, any change of a table that deletes files (a row gone since becomes a delete)', () => {
  const risk = fileDeleteRisk(specOf([table('pics', files('delete')), table('plain')], 'backQuery'))!;
  assert.deepEqual((['insert', 'update', 'delete'] as const).map((a) => risk(change('pics', a))), [true, true, true]);
  assert.equal(risk(change('plain', 'update')), false);
});
