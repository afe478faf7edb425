/**
 * load.mode parallel: rows split by primary-key hash. Every row lands in exactly one part, a key
 * always in the same part, parts keep plan order, and (for tables without other unique keys)
 * applying the parts one after another in any order gives the same table as the plan itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planLoad, type LoadStep, type LoadTable } from '../../lib/load-plan.js';
import type { RowChange, SqlValue } from '../../lib/model.js';
import { partitionSteps, partOfKey } from '../../lib/partition.js';
import { prng as rng } from '../support/prng.js';

const tables: LoadTable[] = [
  { target: { schema: 'd', table: 'a' }, primaryKey: ['id'], uniqueKeys: [], weight: 1 },
  { target: { schema: 'd', table: 'b' }, primaryKey: ['k1', 'k2'], uniqueKeys: [], weight: 0 },
];

/** Random changes that are consistent with an initially empty table (as a binlog would be). */
function randomChanges(rand: () => number, n: number): RowChange[] {
  const live = { a: new Map<string, Record<string, SqlValue>>(), b: new Map<string, Record<string, SqlValue>>() };
  const out: RowChange[] = [];
  for (let i = 0; i < n; i++) {
    const table = rand() < 0.5 ? 'a' : 'b';
    const rows = live[table];
    const key: Record<string, SqlValue> = table === 'a' ? { id: Math.floor(rand() * 40) } : { k1: Math.floor(rand() * 6), k2: `x${Math.floor(rand() * 6)}` };
    const ks = JSON.stringify(key);
    const before = rows.get(ks);
    const after: Record<string, SqlValue> = { ...key, v: Math.floor(rand() * 1000) };
    if (!before) {
      out.push({ schema: 'd', table, action: 'insert', after });
      rows.set(ks, after);
    } else if (rand() < 0.4) {
      out.push({ schema: 'd', table, action: 'delete', before });
      rows.delete(ks);
    } else {
      out.push({ schema: 'd', table, action: 'update', before, after });
      rows.set(ks, after);
    }
  }
  return out;
}

/** Applies steps to an in-memory copy of the target tables. */
function apply(db: Map<string, Map<string, SqlValue[]>>, steps: readonly LoadStep[]): void {
  for (const s of steps) {
    const t = db.get(s.table.table) ?? new Map<string, SqlValue[]>();
    db.set(s.table.table, t);
    const keyAt = s.key.map((k) => s.columns.indexOf(k));
    for (const row of s.rows) {
      const key = JSON.stringify(keyAt.map((i) => row[i]));
      if (s.kind === 'delete') t.delete(key);
      else t.set(key, row);
    }
  }
}

const dump = (db: Map<string, Map<string, SqlValue[]>>) =>
  JSON.stringify([...db].sort().map(([name, t]) => [name, [...t].sort()]));

test('parts of 1 are the plan itself', () => {
  const steps = planLoad(randomChanges(rng(1), 50), tables, { maxStatementBytes: 1 << 20 });
  assert.deepEqual(partitionSteps(steps, 1), [steps]);
});

test('every row in exactly one part, each key always in the same part, plan order kept', () => {
  const steps = planLoad(randomChanges(rng(2), 400), tables, { maxStatementBytes: 2000 });
  const parts = partitionSteps(steps, 4);
  assert.equal(parts.length, 4);
  const total = (ss: LoadStep[]) => ss.reduce((n, s) => n + s.rows.length, 0);
  assert.equal(parts.reduce((n, p) => n + total(p), 0), total(steps));
  for (const [p, part] of parts.entries()) {
    for (const s of part) {
      assert.ok(s.rows.length > 0, 'no empty steps');
      const keyAt = s.key.map((k) => s.columns.indexOf(k));
      for (const row of s.rows) assert.equal(partOfKey(keyAt.map((i) => row[i]), 4), p);
    }
    // Plan order: the part's steps appear in the plan in the same order.
    const order = part.map((s) => steps.findIndex((t) => t.kind === s.kind && t.table.table === s.table.table && s.rows.every((r) => t.rows.includes(r))));
    assert.deepEqual(order, [...order].sort((x, y) => x - y));
  }
});

test('applying the parts in any order gives the same tables as the plan (200 random batches)', () => {
  const rand = rng(3);
  for (let round = 0; round < 200; round++) {
    const steps = planLoad(randomChanges(rand, 1 + Math.floor(rand() * 120)), tables, { maxStatementBytes: 300 + Math.floor(rand() * 3000) });
    const serial = new Map<string, Map<string, SqlValue[]>>();
    apply(serial, steps);
    const parts = partitionSteps(steps, 2 + Math.floor(rand() * 4));
    const shuffled = [...parts].sort(() => rand() - 0.5);
    const parallel = new Map<string, Map<string, SqlValue[]>>();
    for (const part of shuffled) apply(parallel, part);
    assert.equal(dump(parallel), dump(serial), `round ${round}`);
  }
});

test('keys spread evenly: 10,000 integer keys over 4 parts, each part 20–30%', () => {
  const counts = [0, 0, 0, 0];
  for (let id = 1; id <= 10_000; id++) counts[partOfKey([id], 4)]++;
  for (const c of counts) assert.ok(c > 2000 && c < 3000, `part sizes ${counts.join(', ')}`);
  assert.notEqual(partOfKey([1, 'x'], 7), undefined);
  assert.equal(partOfKey([5], 3), partOfKey([5], 3), 'stable');
  assert.equal(partOfKey([5], 1), 0);
});

test('steps marked whole (tables with other unique keys) stay in part 0, in order', () => {
  const steps = planLoad(randomChanges(rng(4), 200), tables, { maxStatementBytes: 1 << 20 });
  const parts = partitionSteps(steps, 3, (s) => s.table.table === 'b');
  const bSteps = steps.filter((s) => s.table.table === 'b');
  assert.deepEqual(parts[0].filter((s) => s.table.table === 'b'), bSteps);
  for (const p of parts.slice(1)) assert.ok(p.every((s) => s.table.table === 'a'));
});
