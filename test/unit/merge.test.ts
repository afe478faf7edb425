import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepsBinlogOrder, keyString, mergeChanges, mergeTableChanges } from '../../lib/merge.js';
import type { Row, RowChange } from '../../lib/model.js';
import { intPrng as prng } from '../support/prng.js';

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
    assert.deepEqual(mergeTableChanges(r.changes, ['id']), { deletes: r.deletes, upserts: r.upserts, updates: [] });
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
    { schema: 's', table: 'u', deletes: [{ id: 1, v: 1 }], upserts: [], updates: [] },
    // Keyed on (id, v), the update changes the key.
    { schema: 's', table: 't', deletes: [{ id: 1, v: 1 }], upserts: [{ id: 1, v: 2 }], updates: [] },
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

// Field mode: updates carry `changed` (their non-key columns that changed); rows have v and w.
const FI = (id: number, v: number, w: number): RowChange => ({ schema: 's', table: 't', action: 'insert', after: { id, v, w } });
const FU = (id: number, before: [number, number], after: [number, number], changed: string[], to = id): RowChange => ({
  schema: 's', table: 't', action: 'update', before: { id, v: before[0], w: before[1] }, after: { id: to, v: after[0], w: after[1] }, changed,
});
const FD = (id: number, v: number, w: number): RowChange => ({ schema: 's', table: 't', action: 'delete', before: { id, v, w } });

const fieldRules: { name: string; changes: RowChange[]; deletes: Row[]; upserts: Row[]; updates: Row[] }[] = [
  { name: 'U → update of its changed columns', changes: [FU(1, [0, 0], [1, 0], ['v'])], deletes: [], upserts: [], updates: [{ id: 1, v: 1 }] },
  { name: 'U+U → update of the union, last values', changes: [FU(1, [0, 0], [1, 0], ['v']), FU(1, [1, 0], [1, 5], ['w'])],
    deletes: [], upserts: [], updates: [{ id: 1, v: 1, w: 5 }] },
  { name: 'U+U of one column → update of that column', changes: [FU(1, [0, 0], [1, 0], ['v']), FU(1, [1, 0], [2, 0], ['v'])],
    deletes: [], upserts: [], updates: [{ id: 1, v: 2 }] },
  { name: 'I+U → whole insert of the last image', changes: [FI(1, 0, 0), FU(1, [0, 0], [3, 0], ['v'])], deletes: [], upserts: [{ id: 1, v: 3, w: 0 }], updates: [] },
  { name: 'U+D → D', changes: [FU(1, [0, 0], [1, 0], ['v']), FD(1, 1, 0)], deletes: [{ id: 1, v: 1, w: 0 }], upserts: [], updates: [] },
  { name: 'D+I+U → whole upsert', changes: [FD(1, 0, 0), FI(1, 4, 4), FU(1, [4, 4], [4, 5], ['w'])], deletes: [], upserts: [{ id: 1, v: 4, w: 5 }], updates: [] },
  { name: 'U then key change → delete old + whole insert new', changes: [FU(1, [0, 0], [1, 0], ['v']), FU(1, [1, 0], [1, 0], [], 2)],
    deletes: [{ id: 1, v: 1, w: 0 }], upserts: [{ id: 2, v: 1, w: 0 }], updates: [] },
  { name: 'key change then U → whole insert of the new key', changes: [FU(1, [0, 0], [0, 0], [], 2), FU(2, [0, 0], [0, 7], ['w'])],
    deletes: [{ id: 1, v: 0, w: 0 }], upserts: [{ id: 2, v: 0, w: 7 }], updates: [] },
  { name: 'a row-mode update (no `changed`) makes the key whole', changes: [FU(1, [0, 0], [1, 0], ['v']), U(1, 1, 1, 2)],
    deletes: [], upserts: [{ id: 1, v: 2 }], updates: [] },
];

for (const r of fieldRules) {
  test(`merge rule, field mode: ${r.name}`, () => {
    assert.deepEqual(mergeTableChanges(r.changes, ['id']), { deletes: r.deletes, upserts: r.upserts, updates: r.updates });
  });
}

/**
 * Field mode applied to a target whose rows may differ from the source in columns no change
 * touches (a target-only column `t`, stale values): inserts write whole rows, updates only their
 * changed columns of a row that exists, deletes remove. Merged must equal raw, column by column.
 */
test('property, field mode: merged (deletes, upserts, then updates) equals raw changes applied in order', () => {
  const key = ['id'];
  const apply = (target: Map<string, Row>, kind: 'delete' | 'upsert' | 'update', row: Row): void => {
    const k = keyString(row, key);
    if (kind === 'delete') target.delete(k);
    else if (kind === 'upsert') target.set(k, { ...(target.get(k) ?? {}), ...row });
    else if (target.has(k)) target.set(k, { ...target.get(k)!, ...row });
  };
  for (let seed = 1; seed <= 5000; seed++) {
    const rand = prng(seed);
    const source = new Map<string, Row>();
    const target = new Map<string, Row>();
    for (let i = rand(5); i > 0; i--) {
      const row = { id: 1 + rand(6), v: rand(4), w: rand(4) };
      source.set(keyString(row, key), row);
      // The target has the row, with a target-only column and sometimes a stale w.
      target.set(keyString(row, key), { ...row, w: rand(3) === 0 ? 99 : row.w, t: `t${row.id}` });
    }
    const changes: RowChange[] = [];
    for (let n = 1 + rand(12); n > 0; n--) {
      const live = [...source.values()];
      const id = 1 + rand(6);
      const free = !source.has(keyString({ id }, key));
      const op = rand(3);
      if ((op === 0 || live.length === 0) && free) {
        const after = { id, v: rand(4), w: rand(4) };
        changes.push({ schema: 's', table: 't', action: 'insert', after });
        source.set(keyString(after, key), after);
      } else if (live.length > 0 && op !== 2) {
        const before = live[rand(live.length)];
        const after = { ...before, v: rand(3) ? before.v : rand(4), w: rand(3) ? before.w : rand(4), ...(rand(4) === 0 && free ? { id } : {}) };
        const keyChange = after.id !== before.id;
        const changed = ['v', 'w'].filter((c) => after[c as 'v'] !== before[c as 'v']);
        if (!keyChange && changed.length === 0) continue; // transform drops updates that change nothing
        changes.push({ schema: 's', table: 't', action: 'update', before, after, ...(keyChange ? {} : { changed }) });
        source.delete(keyString(before, key));
        source.set(keyString(after, key), after);
      } else if (live.length > 0) {
        const before = live[rand(live.length)];
        changes.push({ schema: 's', table: 't', action: 'delete', before });
        source.delete(keyString(before, key));
      }
    }
    const raw = new Map([...target].map(([k, r]) => [k, { ...r }]));
    for (const c of changes) {
      if (c.action === 'insert') apply(raw, 'upsert', c.after!);
      else if (c.action === 'delete') apply(raw, 'delete', c.before!);
      else if (c.changed) apply(raw, 'update', Object.fromEntries(Object.entries(c.after!).filter(([col]) => col === 'id' || c.changed!.includes(col))));
      else {
        apply(raw, 'delete', c.before!);
        apply(raw, 'upsert', c.after!);
      }
    }
    // D+I merges into an upsert, which keeps a target-only column that raw delete-then-insert
    // drops (the row rule, unchanged by field mode): compare those keys on source columns only.
    const recreated = new Set<string>();
    for (const c of changes) if (c.before && !c.changed) recreated.add(keyString(c.before, key));
    const merged = mergeTableChanges(changes, key);
    const applied = new Map([...target].map(([k, r]) => [k, { ...r }]));
    for (const row of merged.deletes) apply(applied, 'delete', row);
    for (const row of merged.upserts) apply(applied, 'upsert', row);
    for (const row of merged.updates) apply(applied, 'update', row);
    const sorted = (m: Map<string, Row>) =>
      new Map([...m].sort().map(([k, r]) => [k, recreated.has(k) ? Object.fromEntries(Object.entries(r).filter(([c]) => c !== 't')) : r]));
    assert.deepEqual(sorted(applied), sorted(raw), `seed ${seed}`);
    const all = [...merged.deletes, ...merged.upserts, ...merged.updates];
    assert.equal(all.length, new Set(all.map((r) => keyString(r, key))).size, `seed ${seed}: a key twice`);
  }
});
