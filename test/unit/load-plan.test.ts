import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateValueBytes, planLoad, type LoadStep, type LoadTable } from '../../lib/load-plan.js';
import type { Row, RowChange, SqlValue } from '../../lib/model.js';
import { intPrng as prng } from '../support/prng.js';

const table = (name: string, weight = 0, uniqueKeys: string[][] = [], primaryKey = ['id']): LoadTable =>
  ({ target: { schema: 'd', table: name }, primaryKey, uniqueKeys, weight });
const ins = (t: string, after: Row): RowChange => ({ schema: 'd', table: t, action: 'insert', after });
const upd = (t: string, before: Row, after: Row): RowChange => ({ schema: 'd', table: t, action: 'update', before, after });
const del = (t: string, before: Row): RowChange => ({ schema: 'd', table: t, action: 'delete', before });
const big = { maxStatementBytes: 1 << 20 };
/** Steps as `kind table columns: rows`, easy to compare. */
const brief = (steps: LoadStep[]): string[] =>
  steps.map((s) => `${s.kind} ${s.table.table}(${s.columns.join(',')}) ${JSON.stringify(s.rows)}`);

test('tables load higher weight first, equal weights in order of first appearance', () => {
  const tables = [table('a', 0), table('b', 5), table('c', 0), table('d', 10)];
  const steps = planLoad([ins('c', { id: 1 }), ins('a', { id: 1 }), ins('b', { id: 1 }), ins('d', { id: 1 }), ins('c', { id: 2 })], tables, big);
  assert.deepEqual(steps.map((s) => s.table.table), ['d', 'b', 'c', 'a']);
  assert.deepEqual(steps[2].rows, [[1], [2]]);
});

test('a table without other unique keys is merged: deletes, then upserts', () => {
  const steps = planLoad([
    ins('t', { id: 1, v: 'a' }), del('t', { id: 2, v: 'b' }), upd('t', { id: 1, v: 'a' }, { id: 1, v: 'c' }),
    upd('t', { id: 3, v: 'x' }, { id: 4, v: 'x' }), ins('t', { id: 2, v: 'again' }), del('t', { id: 5, v: 'y' }),
  ], [table('t')], big);
  assert.deepEqual(brief(steps), [
    'delete t(id) [[3],[5]]',
    'upsert t(id,v) [[1,"c"],[2,"again"],[4,"x"]]',
  ]);
  assert.deepEqual(steps[1].key, ['id']);
});

test('a table with a unique key keeps binlog order, coalescing runs of one kind', () => {
  const t = table('u', 0, [['email']]);
  const steps = planLoad([
    ins('u', { id: 1, email: 'a' }), ins('u', { id: 2, email: 'b' }), del('u', { id: 1, email: 'a' }),
    upd('u', { id: 2, email: 'b' }, { id: 2, email: 'a' }), upd('u', { id: 2, email: 'a' }, { id: 3, email: 'a' }),
    ins('u', { id: 1, email: 'b' }),
  ], [t], big);
  assert.deepEqual(brief(steps), [
    'upsert u(id,email) [[1,"a"],[2,"b"]]',
    'delete u(id) [[1]]',
    'upsert u(id,email) [[2,"a"]]',
    'delete u(id) [[2]]',
    'upsert u(id,email) [[3,"a"],[1,"b"]]',
  ]);
});

test('rows with different column sets go in separate steps', () => {
  const steps = planLoad([ins('t', { id: 1, a: 1 }), ins('t', { id: 2, a: 2 }), ins('t', { id: 3, b: 3 }), ins('t', { a: 4, id: 4 })], [table('t')], big);
  assert.deepEqual(brief(steps), ['upsert t(id,a) [[1,1],[2,2]]', 'upsert t(id,b) [[3,3]]', 'upsert t(a,id) [[4,4]]']);
});

test('composite keys: delete tuples in key order', () => {
  const steps = planLoad([del('t', { v: 0, b: 'x', a: 1 })], [table('t', 0, [], ['a', 'b'])], big);
  assert.deepEqual(steps, [{ kind: 'delete', table: { schema: 'd', table: 't' }, columns: ['a', 'b'], key: ['a', 'b'], rows: [[1, 'x']] }]);
});

test('steps are split to stay under maxStatementBytes and maxParams', () => {
  const text = 'é'.repeat(100); // 200 UTF-8 bytes, estimated at 402
  const changes = Array.from({ length: 100 }, (_, i) => ins('t', { id: i, text }));
  const steps = planLoad(changes, [table('t')], { maxStatementBytes: 5000 });
  assert.ok(steps.length > 5, `${steps.length} steps`);
  assert.deepEqual(steps.flatMap((s) => s.rows.map((r) => r[0])), changes.map((_, i) => i));
  for (const s of steps) {
    const valueBytes = s.rows.flat().reduce((n: number, v) => n + estimateValueBytes(v as SqlValue), 0);
    assert.ok(valueBytes < 5000, `step of ${valueBytes} value bytes`);
  }
  const byParams = planLoad(changes, [table('t')], { maxStatementBytes: 1 << 30, maxParams: 50 });
  assert.deepEqual(byParams.map((s) => s.rows.length), [25, 25, 25, 25]);
});

test('a row bigger than the limit still loads, alone in its step', () => {
  const steps = planLoad([ins('t', { id: 1 }), ins('t', { id: 2, blob: Buffer.alloc(10_000) }), ins('t', { id: 3 })], [table('t')], { maxStatementBytes: 1000 });
  assert.deepEqual(steps.map((s) => s.rows.length), [1, 1, 1]);
});

test('value size estimates', () => {
  assert.equal(estimateValueBytes('😀'), 10);
  assert.equal(estimateValueBytes(Buffer.alloc(3)), 9);
  assert.equal(estimateValueBytes(1.5), 24);
  assert.equal(estimateValueBytes(null), 4);
});

test('unknown tables, missing keys and keyless tables are refused', () => {
  assert.throws(() => planLoad([ins('nope', { id: 1 })], [table('t')], big), /no table mapping for target table d\.nope/);
  assert.throws(() => planLoad([ins('t', { v: 1 })], [table('t')], big), /lacks key column id/);
  assert.throws(() => planLoad([ins('u', { v: 1 })], [table('u', 0, [['v']])], big), /upsert on d\.u: row image lacks key column id/);
  assert.throws(() => planLoad([ins('t', { id: 1 })], [table('t', 0, [], [])], big), /d\.t has no primary key/);
  assert.deepEqual(planLoad([], [table('t')], big), []);
});

test('property: the plan applied step by step equals the raw changes, and never collides on a unique key', () => {
  const tables = [table('m', 1), table('u', 2, [['email']])];
  for (let seed = 1; seed <= 2000; seed++) {
    const rand = prng(seed);
    const start: Record<string, Map<number, Row>> = { m: new Map(), u: new Map() };
    const live: Record<string, Map<number, Row>> = { m: new Map(), u: new Map() };
    const freeEmail = (t: string): number | undefined => {
      const e = rand(4);
      return [...live[t].values()].some((r) => r.email === e) ? undefined : e;
    };
    const changes: RowChange[] = [];
    for (const t of ['m', 'u']) {
      for (let i = rand(4); i > 0; i--) {
        const id = 1 + rand(6);
        const email = freeEmail(t);
        if (live[t].has(id) || email === undefined) continue;
        live[t].set(id, { id, email });
        start[t].set(id, { id, email });
      }
    }
    for (let n = 1 + rand(14); n > 0; n--) {
      const t = rand(2) ? 'm' : 'u';
      const rows = [...live[t].values()];
      const id = 1 + rand(6);
      const op = rand(3);
      if (op === 0 && !live[t].has(id)) {
        const email = freeEmail(t);
        if (email === undefined) continue;
        changes.push(ins(t, { id, email }));
        live[t].set(id, { id, email });
      } else if (op === 1 && rows.length) {
        const before = rows[rand(rows.length)];
        const email = rand(2) ? freeEmail(t) : before.email;
        const newId = rand(3) === 0 && !live[t].has(id) ? id : (before.id as number);
        if (email === undefined) continue;
        changes.push(upd(t, before, { id: newId, email }));
        live[t].delete(before.id as number);
        live[t].set(newId, { id: newId, email });
      } else if (op === 2 && rows.length) {
        const before = rows[rand(rows.length)];
        changes.push(del(t, before));
        live[t].delete(before.id as number);
      }
    }
    const applied = { m: new Map(start.m), u: new Map(start.u) };
    const steps = planLoad(changes, tables, { maxStatementBytes: 1 + rand(400) });
    for (const s of steps) {
      const rows = applied[s.table.table as 'm' | 'u'];
      for (const values of s.rows) {
        const row: Row = Object.fromEntries(s.columns.map((c, i) => [c, values[i]]));
        if (s.kind === 'delete') {
          rows.delete(row.id as number);
          continue;
        }
        if (s.table.table === 'u') {
          const clash = [...rows.values()].find((r) => r.email === row.email && r.id !== row.id);
          assert.equal(clash, undefined, `seed ${seed}: upsert ${JSON.stringify(row)} collides on email`);
        }
        rows.set(row.id as number, row);
      }
    }
    assert.deepEqual(applied, live, `seed ${seed}`);
    assert.deepEqual([...new Set(steps.map((s) => s.table.table))], [...new Set(['u', 'm'].filter((t) => changes.some((c) => c.table === t)))], `seed ${seed}: weight order`);
  }
});

test('field mode: partial updates load after upserts as update steps, grouped by the columns they set', () => {
  const fu = (t: string, before: Row, after: Row, changed: string[]): RowChange => ({ ...upd(t, before, after), changed });
  const steps = planLoad([
    fu('t', { id: 1, a: 0, b: 0 }, { id: 1, a: 1, b: 0 }, ['a']),
    fu('t', { id: 2, a: 0, b: 0 }, { id: 2, a: 0, b: 2 }, ['b']),
    fu('t', { id: 3, a: 0, b: 0 }, { id: 3, a: 3, b: 0 }, ['a']),
    ins('t', { id: 4, a: 4, b: 4 }),
    fu('t', { id: 4, a: 4, b: 4 }, { id: 4, a: 5, b: 4 }, ['a']),
  ], [table('t')], big);
  assert.deepEqual(brief(steps), [
    'upsert t(id,a,b) [[4,5,4]]',
    'update t(id,a) [[1,1],[3,3]]',
    'update t(id,b) [[2,2]]',
  ]);
  // In binlog order (another unique key), a partial update stays an update where it happened.
  const u = table('u', 0, [['a']]);
  const ordered = planLoad([ins('u', { id: 1, a: 1, b: 0 }), fu('u', { id: 1, a: 1, b: 0 }, { id: 1, a: 1, b: 9 }, ['b'])], [u], big);
  assert.deepEqual(brief(ordered), ['upsert u(id,a,b) [[1,1,0]]', 'update u(id,b) [[1,9]]']);
  // Two updates of one row in a row: a multi-row UPDATE would take the first values given for
  // its key (MySQL: the first matching WHEN), so the second goes into a step of its own.
  const twice = planLoad([
    fu('u', { id: 1, a: 1, b: 5 }, { id: 1, a: 1, b: 6 }, ['b']),
    fu('u', { id: 2, a: 2, b: 0 }, { id: 2, a: 2, b: 1 }, ['b']),
    fu('u', { id: 1, a: 1, b: 6 }, { id: 1, a: 1, b: 7 }, ['b']),
    fu('u', { id: 3, a: 3, b: 0 }, { id: 3, a: 3, b: 1 }, ['b']),
  ], [u], big);
  assert.deepEqual(brief(twice), ['update u(id,b) [[1,6],[2,1]]', 'update u(id,b) [[1,7],[3,1]]']);
});

test(`field mode: update steps hold at most MAX_UPDATE_ROWS rows`, async () => {
  const { MAX_UPDATE_ROWS } = await import('../../lib/load-plan.js');
  const changes = Array.from({ length: MAX_UPDATE_ROWS * 2 + 1 }, (_, i): RowChange => ({ ...upd('t', { id: i, a: 0 }, { id: i, a: 1 }), changed: ['a'] }));
  const steps = planLoad(changes, [table('t')], big);
  assert.deepEqual(steps.map((s) => `${s.kind} ${s.rows.length}`), [`update ${MAX_UPDATE_ROWS}`, `update ${MAX_UPDATE_ROWS}`, 'update 1']);
});
