import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepsBinlogOrder, keyString, mergeChanges, mergeTableChanges } from '../../lib/merge.js';
import type { Row, RowChange } from '../../lib/model.js';

const I = (id: number, v: number): RowChange => ({ schema: 's', table: 't', action: 'insert', after: { id, v } });
const U = (id: number, v0: number, id2: number, v: number): RowChange =>
  ({ schema: 's', table: 't', action: 'update', before: { id, v: v0 }, after: { id: id2, v } });
const D = (id: number, v: number): RowChange => ({ schema: 's', table: 't', action: 'delete', before: { id, v } });

const rules: { name: string; changes: RowChange[]; deletes: Row[]; upserts: Row[] }[] = [
  { name: 'I → upsert', changes: [I(1, 1)], deletes: [], upserts: [{ id: 1, v: 1 }] },
  { name: 'I+U → I of the updated row', changes: [I(1, 1), U(1, 1, 1, 2)], deletes: [], upserts: [{ id: 1, v: 2 }] },
  // An absent key is deleted even after I+D: harmless, and it converges a target that had the row.
  { name: 'I+D → delete', changes: [I(1, 1), D(1, 1)], deletes: [{ id: 1, v: 1 }], upserts: [] },
  { name: 'U+U → U of the last row', changes: [U(1, 0, 1, 1), U(1, 1, 1, 2)], deletes: [], upserts: [{ id: 1, v: 2 }] },
  { name: 'U+D → D', changes: [U(1, 0, 1, 1), D(1, 1)], deletes: [{ id: 1, v: 1 }], upserts: [] },
  { name: 'D+I → upsert', changes: [D(1, 0), I(1, 5)], deletes: [], upserts: [{ id: 1, v: 5 }] },
  { name: 'D+I+D → D', changes: [D(1, 0), I(1, 5), D(1, 5)], deletes: [{ id: 1, v: 5 }], upserts: [] },
  { name: 'key change → delete old + insert new', changes: [U(1, 0, 2, 0)], deletes: [{ id: 1, v: 0 }], upserts: [{ id: 2, v: 0 }] },
  { name: 'key change and back → upsert, other key deleted', changes: [U(1, 0, 2, 0), U(2, 0, 1, 3)],
    deletes: [{ id: 2, v: 0 }], upserts: [{ id: 1, v: 3 }] },
  { name: 'swap two keys through a third', changes: [U(1, 1, 3, 1), U(2, 2, 1, 2), U(3, 1, 2, 1)],
    deletes: [{ id: 3, v: 1 }], upserts: [{ id: 1, v: 2 }, { id: 2, v: 1 }] },
  { name: 'keys keep first-appearance order', changes: [I(3, 0), I(1, 0), U(3, 0, 3, 9)], deletes: [],
    upserts: [{ id: 3, v: 9 }, { id: 1, v: 0 }] },
];

for (const r of rules) {
  test(`merge rule: ${r.name}`, () => {
    assert.deepEqual(mergeTableChanges(r.changes, ['id']), { deletes: r.deletes, upserts: r.upserts });
  });
}

test('keys compare by type and exact value, composite keys unambiguously', () => {
  assert.notEqual(keyString({ id: 1 }, ['id']), keyString({ id: '1' }, ['id']));
  assert.equal(keyString({ id: Buffer.from([1, 2]) }, ['id']), keyString({ id: new Uint8Array([1, 2]) }, ['id']));
  assert.notEqual(keyString({ a: 'x:1', b: 'y' }, ['a', 'b']), keyString({ a: 'x', b: '1:y' }, ['a', 'b']));
  assert.notEqual(keyString({ a: 'ab', b: '' }, ['a', 'b']), keyString({ a: 'a', b: 'b' }, ['a', 'b']));
  assert.throws(() => keyString({ a: 1 }, ['a', 'b']), /lacks key column b/);
});

test('mergeChanges groups by table in order of first appearance', () => {
  const other = (c: RowChange): RowChange => ({ ...c, table: 'u' });
  const merged = mergeChanges([other(I(1, 1)), I(1, 1), other(D(1, 1)), U(1, 1, 1, 2)], (_s, t) => (t === 'u' ? ['id'] : ['id', 'v']));
  assert.deepEqual(merged, [
    { schema: 's', table: 'u', deletes: [{ id: 1, v: 1 }], upserts: [] },
    // Keyed on (id, v), the update changes the key.
    { schema: 's', table: 't', deletes: [{ id: 1, v: 1 }], upserts: [{ id: 1, v: 2 }] },
  ]);
});

test('malformed changes are refused', () => {
  assert.throws(() => mergeTableChanges([{ schema: 's', table: 't', action: 'update', after: { id: 1 } }], ['id']), /without before image/);
  assert.throws(() => mergeTableChanges([I(1, 1)], []), /without a primary key/);
  assert.throws(() => mergeTableChanges([I(1, 1)], ['nope']), /lacks key column nope/);
});

test('tables with other unique keys keep binlog order', () => {
  assert.equal(keepsBinlogOrder({ uniqueKeys: [] }), false);
  assert.equal(keepsBinlogOrder({ uniqueKeys: [['email']] }), true);
});

/** mulberry32: a small seeded PRNG, so failures reproduce. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

type Shape = { key: string[]; makeKey: (rand: (n: number) => number) => Row };
const shapes: Record<string, Shape> = {
  'int key 1..6': { key: ['id'], makeKey: (r) => ({ id: 1 + r(6) }) },
  'composite key (int, string)': { key: ['a', 'b'], makeKey: (r) => ({ a: r(3), b: ['x', 'y', 'x:'][r(3)] }) },
};

/** Random valid changes: inserts of absent keys, updates (some changing the key to an absent one), deletes of present keys. */
function randomCase(rand: (n: number) => number, shape: Shape): { start: Map<string, Row>; changes: RowChange[] } {
  const start = new Map<string, Row>();
  for (let i = rand(5); i > 0; i--) {
    const row = { ...shape.makeKey(rand), v: rand(100) };
    start.set(keyString(row, shape.key), row);
  }
  const live = new Map(start);
  const changes: RowChange[] = [];
  for (let n = 1 + rand(12); n > 0; n--) {
    const fresh = { ...shape.makeKey(rand), v: rand(100) };
    const freshKey = keyString(fresh, shape.key);
    const present = [...live.values()];
    const op = rand(3);
    if ((op === 0 || present.length === 0) && !live.has(freshKey)) {
      changes.push({ schema: 's', table: 't', action: 'insert', after: fresh });
      live.set(freshKey, fresh);
    } else if (present.length > 0 && op !== 2) {
      const before = present[rand(present.length)];
      const after = rand(3) === 0 && !live.has(freshKey) ? fresh : { ...before, v: rand(100) };
      changes.push({ schema: 's', table: 't', action: 'update', before, after });
      live.delete(keyString(before, shape.key));
      live.set(keyString(after, shape.key), after);
    } else if (present.length > 0) {
      const before = present[rand(present.length)];
      changes.push({ schema: 's', table: 't', action: 'delete', before });
      live.delete(keyString(before, shape.key));
    }
  }
  return { start, changes };
}

for (const [name, shape] of Object.entries(shapes)) {
  test(`property: merged (deletes, then upserts) equals raw changes in order — ${name}`, () => {
    for (let seed = 1; seed <= 5000; seed++) {
      const { start, changes } = randomCase(prng(seed), shape);
      const raw = new Map(start);
      for (const c of changes) {
        if (c.before) raw.delete(keyString(c.before, shape.key));
        if (c.after) raw.set(keyString(c.after, shape.key), c.after);
      }
      const merged = mergeTableChanges(changes, shape.key);
      const applied = new Map(start);
      for (const row of merged.deletes) applied.delete(keyString(row, shape.key));
      for (const row of merged.upserts) applied.set(keyString(row, shape.key), row);
      assert.deepEqual(new Map([...applied].sort()), new Map([...raw].sort()), `seed ${seed}`);
      assert.equal(merged.deletes.length + merged.upserts.length, new Set([...merged.deletes, ...merged.upserts].map((r) => keyString(r, shape.key))).size, `seed ${seed}: a key twice`);
    }
  });
}
