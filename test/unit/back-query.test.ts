/** consistency: backQuery, the pure part: which keys are re-read and how current rows rewrite a batch. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyBackQuery, keysToReread, looseKey } from '../../lib/back-query.js';
import type { Row, RowChange } from '../../lib/model.js';

const I = (after: Row): RowChange => ({ schema: 's', table: 't', action: 'insert', after });
const U = (before: Row, after: Row): RowChange => ({ schema: 's', table: 't', action: 'update', before, after });
const D = (before: Row): RowChange => ({ schema: 's', table: 't', action: 'delete', before });

test('keys are matched by text, so a number and a numeric string are one key; bytes by content', () => {
  assert.equal(looseKey({ id: 5 }, ['id']), looseKey({ id: '5' }, ['id']));
  assert.equal(looseKey({ id: Buffer.from([1]) }, ['id']), looseKey({ id: new Uint8Array([1]) }, ['id']));
  assert.notEqual(looseKey({ a: '1', b: '23' }, ['a', 'b']), looseKey({ a: '12', b: '3' }, ['a', 'b']));
  assert.notEqual(looseKey({ id: null }, ['id']), looseKey({ id: 'z' }, ['id']));
  assert.throws(() => looseKey({}, ['id']), /lacks key column id/);
});

test('re-read keys: every insert and update target key once, not deletes', () => {
  const keys = keysToReread([I({ id: 1, v: 0 }), U({ id: 1, v: 0 }, { id: 1, v: 1 }), U({ id: 2, v: 0 }, { id: 3, v: 0 }), D({ id: 4, v: 0 })], ['id']);
  assert.deepEqual(keys, [[1], [3]]);
});

const cases: { name: string; change: RowChange; current: Row | undefined; expect: RowChange }[] = [
  { name: 'insert, row still there → insert of the current row', change: I({ id: 1, v: 0 }), current: { id: 1, v: 9 }, expect: I({ id: 1, v: 9 }) },
  { name: 'insert, row gone → delete', change: I({ id: 1, v: 0 }), current: undefined, expect: D({ id: 1, v: 0 }) },
  { name: 'update, row there → update to the current row', change: U({ id: 1, v: 0 }, { id: 1, v: 1 }), current: { id: 1, v: 7 }, expect: U({ id: 1, v: 0 }, { id: 1, v: 7 }) },
  { name: 'update, row gone → delete of the old image', change: U({ id: 1, v: 0 }, { id: 1, v: 1 }), current: undefined, expect: D({ id: 1, v: 0 }) },
  { name: 'key change, new key there → update to the current row', change: U({ id: 1, v: 0 }, { id: 2, v: 0 }), current: { id: 2, v: 5 }, expect: U({ id: 1, v: 0 }, { id: 2, v: 5 }) },
  { name: 'key change, new key gone → delete of the old key', change: U({ id: 1, v: 0 }, { id: 2, v: 0 }), current: undefined, expect: D({ id: 1, v: 0 }) },
  { name: 'delete stays a delete even if the row is back', change: D({ id: 1, v: 0 }), current: { id: 1, v: 3 }, expect: D({ id: 1, v: 0 }) },
];

for (const c of cases) {
  test(`backQuery: ${c.name}`, () => {
    const image = c.change.after ?? c.change.before!;
    const current = new Map(c.current ? [[looseKey(image, ['id']), c.current]] : []);
    assert.deepEqual(applyBackQuery([c.change], ['id'], current), [c.expect]);
  });
}

test('backQuery: a re-read key that comes back as digits (BIGINT) keeps the captured number, so an update stays an update', async () => {
  const { mergeTableChanges } = await import('../../lib/merge.js');
  const change = U({ id: 5, v: 0 }, { id: 5, v: 1 });
  const current = new Map([[looseKey({ id: 5 }, ['id']), { id: '5', v: 7 }]]);
  const [rewritten] = applyBackQuery([change], ['id'], current);
  assert.deepEqual(rewritten, U({ id: 5, v: 0 }, { id: 5, v: 7 }));
  // Merged, it is one upsert of key 5, not a delete of 5 and an insert of '5' (which a parallel
  // load could run in two parts at once, the delete last).
  const merged = mergeTableChanges([rewritten], ['id']);
  assert.deepEqual(merged.deletes, []);
  assert.deepEqual(merged.upserts, [{ id: 5, v: 7 }]);
});
