/**
 * Column rules (lib/columns.ts): static checks, resolution against a source table's columns,
 * derived columns, and which columns a field-mode update writes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addDerived, changedColumns, checkColumnRules, resolveColumns, toFieldChange, type DerivedColumn } from '../../lib/columns.js';
import type { RowChange } from '../../lib/model.js';

test('static checks: each mistake by its path below the rule', () => {
  const cases: { rules: Parameters<typeof checkColumnRules>[0]; path: string; message: RegExp }[] = [
    { rules: { exclude: ['a'], rename: { a: 'b' } }, path: 'columns.rename.a', message: /"a" is excluded, so it cannot be renamed/ },
    { rules: { rename: { a: 'x', b: 'x' } }, path: 'columns.rename.b', message: /"a" is renamed to "x" too/ },
    { rules: { include: ['id'], rename: { a: 'b' } }, path: 'columns.rename.a', message: /"a" is not in columns.include, so it cannot be renamed/ },
    { rules: { exclude: ['b'], groups: [['a', 'b']] }, path: 'columns.groups[0][1]', message: /"b" is excluded/ },
    { rules: { include: ['id', 'a'], groups: [['a'], ['c']] }, path: 'columns.groups[1][0]', message: /"c" is not in columns.include/ },
    { rules: { rename: { a: 'region' }, add: { region: { value: 'hz' } } }, path: 'columns.add.region', message: /already the target of rename a/ },
    { rules: { include: ['id', 'region'], add: { region: { value: 'hz' } } }, path: 'columns.add.region', message: /also an included source column/ },
  ];
  for (const c of cases) {
    const problems = checkColumnRules(c.rules);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0].path, c.path);
    assert.match(problems[0].message, c.message);
  }
  assert.deepEqual(checkColumnRules({ include: ['id', 'a'], rename: { a: 'b' }, groups: [['a']], add: { a: { copy: 'a' } } }), []);
  assert.deepEqual(checkColumnRules(undefined), []);
});

test('resolveColumns: target names, groups by target name, derived columns, unknown columns named with the table', () => {
  const r = resolveColumns(['id', 'buyer', 'note', 'street', 'city'], {
    exclude: ['note'],
    rename: { buyer: 'buyer_id', city: 'town' },
    groups: [['street', 'city']],
    add: { region: { value: 'hz' }, shard: { source: 'table' }, buyer_copy: { copy: 'buyer' } },
  }, 'shop.order_3');
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.columns, [
    { source: 'id', target: 'id' }, { source: 'buyer', target: 'buyer_id' }, { source: 'street', target: 'street' }, { source: 'city', target: 'town' },
  ]);
  assert.deepEqual(r.groups, [['street', 'town']]);
  assert.deepEqual(r.derived.map((d) => d.target), ['region', 'shard', 'buyer_copy']);

  const bad = resolveColumns(['id', 'a'], {
    include: ['id', 'a', 'zz'],
    rename: { yy: 'y' },
    groups: [['a', 'gg']],
    add: { a: { value: 1 }, c: { copy: 'cc' } },
  }, 'shop.t');
  assert.deepEqual(bad.problems.map((p) => `${p.path}: ${p.message}`), [
    'columns.include: the source table shop.t has no column "zz"',
    'columns.rename.yy: the source table shop.t has no column "yy"',
    'columns.groups[0][1]: the source table shop.t has no column "gg"',
    'columns.add.a: shop.t already maps a source column to "a"; exclude or rename it',
    'columns.add.c.copy: the source table shop.t has no column "cc"',
  ]);

  // A rename onto a column the table keeps under its own name: both would write it.
  const clash = resolveColumns(['id', 'buyer', 'buyer_id'], { rename: { buyer: 'buyer_id' } }, 'shop.orders');
  assert.deepEqual(clash.problems.map((p) => `${p.path}: ${p.message}`), [
    'columns.rename.buyer: shop.orders also has a column "buyer_id" mapped to "buyer_id"; exclude or rename that one',
  ]);
  // Fine once that column is excluded or renamed away.
  assert.deepEqual(resolveColumns(['id', 'buyer', 'buyer_id'], { rename: { buyer: 'buyer_id' }, exclude: ['buyer_id'] }, 'shop.orders').problems, []);
  assert.deepEqual(resolveColumns(['id', 'buyer', 'buyer_id'], { rename: { buyer: 'buyer_id', buyer_id: 'old_buyer' } }, 'shop.orders').problems, []);
});

test('derived columns go into both images: constants, the source table, a copy', () => {
  const derived: DerivedColumn[] = [
    { target: 'region', value: 'hz' }, { target: 'shard', source: 'table' }, { target: 'sch', source: 'schema' },
    { target: 'full', source: 'name' }, { target: 'amt2', copy: 'amount' }, { target: 'none', value: null },
  ];
  const mapping = { derived, source: { schema: 'shop', table: 'order_3' } };
  const source: RowChange = { schema: 'shop', table: 'order_3', action: 'update', before: { id: 1, amount: '1.00' }, after: { id: 1, amount: '2.00' } };
  const mapped: RowChange = { schema: 'all', table: 'orders', action: 'update', before: { id: 1 }, after: { id: 1 } };
  const out = addDerived(mapped, source, mapping);
  assert.deepEqual(out.before, { id: 1, region: 'hz', shard: 'order_3', sch: 'shop', full: 'shop.order_3', amt2: '1.00', none: null });
  assert.deepEqual(out.after, { id: 1, region: 'hz', shard: 'order_3', sch: 'shop', full: 'shop.order_3', amt2: '2.00', none: null });
  assert.equal(mapped.after!.region, undefined, 'the mapped change is not modified');
  const del: RowChange = { schema: 'shop', table: 'order_3', action: 'delete', before: { id: 1, amount: '1.00' } };
  assert.deepEqual(addDerived({ ...del, before: { id: 1 } }, del, mapping).after, undefined);
  assert.throws(() => addDerived(mapped, { ...source, after: { id: 1 } }, mapping), /lacks column amount \(copied to amt2\)/);
});

test('changedColumns: by exact value and type, widened by groups, key columns never', () => {
  const before = { id: 1, a: 1, b: '1', c: Buffer.from([1]), d: null, street: 'x', town: 'y' };
  assert.deepEqual(changedColumns(before, { ...before }, ['id']), []);
  assert.deepEqual(changedColumns(before, { ...before, a: '1', c: Buffer.from([1]), d: 0 }, ['id']), ['a', 'd']);
  assert.deepEqual(changedColumns(before, { ...before, street: 'z' }, ['id'], [['street', 'town'], ['a', 'b']]), ['street', 'town']);
  assert.deepEqual(changedColumns(before, { ...before, b: '2' }, ['id'], [['id', 'a', 'b']]), ['a', 'b']);
});

test('toFieldChange: updates carry their changed columns; nothing changed → null; others stay whole', () => {
  const m = { mode: 'field' as const, primaryKey: ['id'], groups: [['a', 'b']] };
  const u = (before: object, after: object): RowChange => ({ schema: 's', table: 't', action: 'update', before: { id: 1, a: 0, b: 0, c: 0, ...before }, after: { id: 1, a: 0, b: 0, c: 0, ...after } });
  assert.deepEqual(toFieldChange(u({}, { c: 5 }), m)?.changed, ['c']);
  assert.deepEqual(toFieldChange(u({}, { b: 5 }), m)?.changed, ['a', 'b']);
  assert.equal(toFieldChange(u({}, {}), m), null);
  assert.equal(toFieldChange(u({}, { id: 2 }), m)?.changed, undefined, 'a key change stays whole');
  assert.equal(toFieldChange(u({}, { c: 5 }), { ...m, mode: undefined })?.changed, undefined, 'row mode');
  const ins: RowChange = { schema: 's', table: 't', action: 'insert', after: { id: 1 } };
  assert.equal(toFieldChange(ins, m), ins);
});
