/**
 * Row filters: every malformed `where` is a problem by path; values compare exactly (decimals as
 * strings, code points, NULL as unknown); each change kind maps onto the filtered target as
 * PostgreSQL's row filters do; and, as a property, applying filtered changes to a target gives
 * exactly the filtered source, change by change and merged in batches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, resolveProcessorPaths } from '../../lib/config/parse.js';
import { compileFilter, filterChange, validateWhere, whereColumns, type WhereSpec } from '../../lib/filter.js';
import { compareCodePoints, compareFilterValue } from '../../lib/filter-values.js';
import { mergeTableChanges } from '../../lib/merge.js';
import type { Row, RowChange } from '../../lib/model.js';
import { prng } from '../support/prng.js';

test('malformed filters: each problem by path, with a useful message', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ status: { eq: 'paid' } }, 'status.eq', /unknown operator "eq".*value itself/],
    [{ status: { between: [1, 2] } }, 'status.between', /unknown operator "between" \(expected one of in, notIn, isNull, gt/],
    [{ status: { in: [] } }, 'status.in', /empty "in" list/],
    [{ status: { notIn: 'paid' } }, 'status.notIn', /expected a list of values, not string/],
    [{ status: { in: ['paid', { a: 1 }] } }, 'status.in.1', /expected a string, number or boolean, not a mapping/],
    [{ status: { in: ['paid', null] } }, 'status.in.1', /null never matches in "in"; combine with isNull/],
    [{ amount: { gt: [1] } }, 'amount.gt', /expected a single value, not a list/],
    [{ amount: { gte: null } }, 'amount.gte', /use \{ isNull: true \}/],
    [{ amount: { lt: { x: 1 } } }, 'amount.lt', /not a mapping/],
    [{ amount: { ne: Infinity } }, 'amount.ne', /finite/],
    [{ amount: 12345678901234567890 }, 'amount', /beyond 2\^53.*quoted/],
    [{ amount: {} }, 'amount', /no operator/],
    [{ amount: { isNull: 'yes' } }, 'amount.isNull', /true or false/],
    [{ amount: { isNull: true, gt: 1 } }, 'amount.isNull', /cannot be combined/],
    [{ status: ['paid', 'shipped'] }, 'status', /needs an operator: \{ in: \[\.\.\.\] \}/],
    [{}, '', /empty filter/],
    [['status'], '', /expected a mapping of column → condition/],
    [{ or: [] }, 'or', /empty "or" list/],
    [{ and: { a: 1 } }, 'and', /expected a list of filters/],
    [{ or: [{ a: 1 }, { b: { in: [] } }] }, 'or.1.b.in', /empty "in" list/],
    [{ not: { and: [{ c: { gt: [] } }] } }, 'not.and.0.c.gt', /not a list/],
    [{ not: 'x' }, 'not', /expected a mapping/],
    [{ a: { and: [1] } }, 'a.and', /belongs at the level of columns/],
  ];
  for (const [where, path, message] of cases) {
    const problems = validateWhere(where);
    assert.equal(problems.length, 1, `${JSON.stringify(where)}: ${JSON.stringify(problems)}`);
    assert.equal(problems[0].path.join('.'), path, JSON.stringify(where));
    assert.match(problems[0].message, message, JSON.stringify(where));
    assert.throws(() => compileFilter(where as WhereSpec), /invalid filter/);
  }
});

test('well-formed filters: no problems, and the columns they read', () => {
  const good: WhereSpec[] = [
    { status: { in: ['paid', 'shipped'] }, amount: { gte: 10 } },
    { status: 'paid', note: null, flag: true, n: -1.5, big: '12345678901234567890' },
    { a: { gt: 1, lte: '9.5', ne: 3 }, b: { isNull: false, notIn: ['x'] } },
    { or: [{ a: 1 }, { and: [{ b: 2 }, { not: { c: 3 } }] }], d: 4 },
  ];
  for (const w of good) assert.deepEqual(validateWhere(w), [], JSON.stringify(w));
  assert.deepEqual(whereColumns(good[3]), ['a', 'b', 'c', 'd']);
  assert.deepEqual(whereColumns(good[0]), ['status', 'amount']);
});

test('config: filter problems by their full path; processor paths resolve against the config', () => {
  const text = (where: string, extra = '') => `
dataSources:
  src: { type: mariadb, host: h, user: u, datacenter: hz }
  dst: { type: mariadb, host: h, user: u, datacenter: hz }
pipelines:
  - id: p
    source: src
    target: dst${extra}
    tables:
      - source: shop.a
      - source: shop.orders
        where: ${where}
        processor: ./procs/mask.mjs
`;
  const bad = parseConfig(text('{ status: { in: [] }, amount: { gt: [1] }, or: [{ x: { like: "a%" } }] }'));
  assert.ok(!bad.ok);
  assert.deepEqual(
    bad.problems.map((p) => p.path),
    ['pipelines[0].tables[1].where.status.in', 'pipelines[0].tables[1].where.amount.gt', 'pipelines[0].tables[1].where.or[0].x.like'],
  );
  assert.match(bad.problems[2].message, /unknown operator "like"/);
  const scalar = parseConfig(text('paid'));
  assert.ok(!scalar.ok);
  assert.equal(scalar.problems[0].path, 'pipelines[0].tables[1].where');

  const good = parseConfig(text('{ status: { in: [paid, shipped] }, amount: { gte: 10 } }', '\n    processor: /abs/all.mjs'));
  assert.ok(good.ok, JSON.stringify(!good.ok && good.problems));
  assert.deepEqual(good.config.pipelines[0].tables[1].where, { status: { in: ['paid', 'shipped'] }, amount: { gte: 10 } });
  const resolved = resolveProcessorPaths(good.config, (p) => (p.startsWith('/') ? p : `/etc/seaotter/${p.replace(/^\.\//, '')}`));
  assert.equal(resolved.pipelines[0].processor, '/abs/all.mjs');
  assert.equal(resolved.pipelines[0].tables[1].processor, '/etc/seaotter/procs/mask.mjs');
  assert.equal(resolved.pipelines[0].tables[0].processor, undefined);
  assert.equal(good.config.pipelines[0].tables[1].processor, './procs/mask.mjs', 'the parsed config is not modified');
});

test('values compare exactly: decimals as strings, numbers, code points, bytes, NULL unknown', () => {
  const cases: [Parameters<typeof compareFilterValue>[0], string | number | boolean, number | null][] = [
    ['10.00', 10, 0],
    ['9.99', 10, -1],
    ['100.50', 20, 1], // as text "100.50" < "20"
    ['-0.00', 0, 0],
    ['0.1', 0.1, 0],
    ['0.30', 0.1 + 0.2, -1], // 0.1 + 0.2 is 0.30000000000000004, exactly
    ['9007199254740993', '9007199254740992', 1],
    ['18446744073709551615', '18446744073709551614', 1],
    ['12345678901234567890.000000000000000001', '12345678901234567890', 1],
    ['-5', -4, -1],
    ['-5', '-50', 1],
    ['.5', '0.50', 0],
    [1e21, '1000000000000000000000', 0],
    [1.5e-7, '0.00000015', 0],
    [7, '007', 0],
    [1, true, 0],
    [0, false, 0],
    [true, 1, 0],
    [NaN, 1, null],
    [Infinity, '1e300', 1],
    [null, 1, null],
    [null, 'x', null],
    ['2024-01-02 00:00:00', '2024-01-01 23:59:59.999999', 1],
    ['2024-01-01 10:00:00.000000', '2024-01-01 10:00:00.000000', 0],
    ['2024-01-01', '2024-01-01 00:00:00', -1],
    // TIME values by duration: as text '100:00:00' < '99:00:00' and '-01:00:00' < '-02:00:00'.
    ['100:00:00', '99:00:00', 1],
    ['-01:00:00', '-02:00:00', 1],
    ['-00:00:01', '00:00:00', -1],
    ['9:30:00', '09:30:00', 0],
    ['09:30:00.5', '09:30:00.25', 1],
    ['838:59:59', '-838:59:59', 1],
    ['Paid', 'paid', -1],
    ['abc', 'abd', -1],
    ['abc', 'ab', 1],
    ['\u{1F600}', '\uFFFF', 1], // code point order, not UTF-16
    ['abc', 5, 1], // not numeric: as text
    [Buffer.from('abc'), 'abc', 0],
    [Buffer.from([0xff]), 'abc', 1],
    // BIT values come as bytes: against a number or a boolean they are a number.
    [Buffer.from([1]), true, 0],
    [Buffer.from([0]), true, -1],
    [Buffer.from([1]), 1, 0],
    [Buffer.from([0]), 0, 0],
    [Buffer.from([1, 0]), 255, 1],
    [Buffer.from([0, 5]), 5, 0],
  ];
  for (const [value, arg, want] of cases) {
    const got = compareFilterValue(value, arg);
    assert.equal(got === null ? null : Math.sign(got), want, `${String(value)} vs ${String(arg)}`);
  }
  assert.equal(compareCodePoints('\uE000', '\uD800\uDC00'), -1);
  assert.equal(compareCodePoints('', ''), 0);
});

test('filters evaluate with SQL semantics: NULL matches only isNull, unknown is not a match', () => {
  const rows: Record<string, Row> = {
    paid20: { status: 'paid', amount: '20.00', note: 'x' },
    paid9: { status: 'paid', amount: '9.99', note: null },
    new50: { status: 'new', amount: '50.00', note: 'y' },
    nullStatus: { status: null, amount: '50.00', note: 'z' },
    nullAmount: { status: 'shipped', amount: null, note: null },
  };
  const cases: [WhereSpec, string[]][] = [
    [{ status: { in: ['paid', 'shipped'] }, amount: { gte: 10 } }, ['paid20']],
    [{ status: 'paid' }, ['paid20', 'paid9']],
    [{ status: null }, ['nullStatus']],
    [{ note: null }, ['paid9', 'nullAmount']],
    [{ status: { isNull: false } }, ['paid20', 'paid9', 'new50', 'nullAmount']],
    [{ status: { ne: 'paid' } }, ['new50', 'nullAmount']],
    [{ status: { notIn: ['paid'] } }, ['new50', 'nullAmount']],
    [{ amount: { gt: 9.99, lt: '50' } }, ['paid20']],
    [{ amount: { gte: '9.99', lte: 50 } }, ['paid20', 'paid9', 'new50', 'nullStatus']],
    [{ not: { status: 'paid' } }, ['new50', 'nullAmount']],
    [{ not: { amount: { gt: 10 } } }, ['paid9']],
    [{ or: [{ status: 'new' }, { amount: { lt: 10 } }] }, ['paid9', 'new50']],
    [{ or: [{ status: null }, { amount: null }] }, ['nullStatus', 'nullAmount']],
    // NOT (status = 'paid' OR amount > 10): unknown for NULLs, so neither NULL row.
    [{ not: { or: [{ status: 'paid' }, { amount: { gt: 10 } }] } }, []],
    [{ and: [{ status: { in: ['paid', 'new'] } }, { not: { note: null } }] }, ['paid20', 'new50']],
    [{ status: 'paid', or: [{ note: 'x' }, { note: null }] }, ['paid20', 'paid9']],
  ];
  for (const [where, want] of cases) {
    const passes = compileFilter(where);
    const got = Object.entries(rows).filter(([, r]) => passes(r)).map(([k]) => k);
    assert.deepEqual(got, want, JSON.stringify(where));
  }
  assert.throws(() => compileFilter({ status: 'paid' })({ amount: '1' }), /the row has no column "status"/);
});

test('each change kind on the filtered target (PostgreSQL row-filter semantics)', () => {
  const passes = compileFilter({ status: 'paid' });
  const row = (id: number, status: string) => ({ id, status });
  const c = (action: RowChange['action'], before?: Row, after?: Row): RowChange => ({ schema: 's', table: 't', action, ...(before ? { before } : {}), ...(after ? { after } : {}) });
  const cases: [string, RowChange, RowChange | null][] = [
    ['insert passing → insert', c('insert', undefined, row(1, 'paid')), c('insert', undefined, row(1, 'paid'))],
    ['insert failing → dropped', c('insert', undefined, row(1, 'new')), null],
    ['update old✓ new✓ → update', c('update', row(1, 'paid'), row(2, 'paid')), c('update', row(1, 'paid'), row(2, 'paid'))],
    ['update old✗ new✓ → insert of the new row', c('update', row(1, 'new'), row(2, 'paid')), c('insert', undefined, row(2, 'paid'))],
    ['update old✓ new✗ → delete of the old row', c('update', row(1, 'paid'), row(2, 'new')), c('delete', row(1, 'paid'))],
    ['update old✗ new✗ → dropped', c('update', row(1, 'new'), row(1, 'cancelled')), null],
    ['delete passing → delete', c('delete', row(1, 'paid')), c('delete', row(1, 'paid'))],
    ['delete failing → dropped', c('delete', row(1, 'new')), null],
  ];
  for (const [name, change, want] of cases) assert.deepEqual(filterChange(change, passes), want, name);
});

/** Applies one change to a model table by primary key `id`. */
function applyChange(table: Map<unknown, Row>, c: RowChange): void {
  if (c.action !== 'insert') table.delete(c.before!.id);
  if (c.action !== 'delete') table.set(c.after!.id, c.after!);
}

test('property: filtered changes applied to the target = the filter of the final source', () => {
  const filters: WhereSpec[] = [
    { status: { in: ['paid', 'shipped'] }, amount: { gte: 10 } },
    { or: [{ status: 'new' }, { amount: { lt: '10.00' } }] },
    { not: { status: { in: ['cancelled'] } }, amount: { isNull: false } },
    { not: { or: [{ status: 'paid' }, { amount: null }] } },
    { status: { notIn: ['new'], ne: 'paid' } },
  ];
  const statuses = ['new', 'paid', 'shipped', 'cancelled', null];
  const amounts = ['9.99', '10.00', '10.01', '250.50', '-3.00', null];
  let checked = 0;
  for (const [f, where] of filters.entries()) {
    const passes = compileFilter(where);
    for (let seed = 1; seed <= 40; seed++) {
      const rand = prng(seed * 100 + f);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
      const source = new Map<unknown, Row>();
      const target = new Map<unknown, Row>();
      const merged = new Map<unknown, Row>();
      let batch: RowChange[] = [];
      let nextId = 1;
      const flush = () => {
        const m = mergeTableChanges(batch, ['id']);
        for (const r of m.deletes) merged.delete(r.id);
        for (const r of m.upserts) merged.set(r.id, r);
        batch = [];
      };
      for (let i = 0; i < 200; i++) {
        const r = rand();
        const ids = [...source.keys()];
        let change: RowChange;
        if (r < 0.35 || ids.length < 2) {
          change = { schema: 's', table: 't', action: 'insert', after: { id: nextId++, status: pick(statuses), amount: pick(amounts) } };
        } else if (r < 0.85) {
          const before = source.get(pick(ids))!;
          const after: Row = { ...before, ...(rand() < 0.6 ? { status: pick(statuses) } : {}), ...(rand() < 0.6 ? { amount: pick(amounts) } : {}) };
          if (rand() < 0.1) after.id = nextId++;
          change = { schema: 's', table: 't', action: 'update', before, after };
        } else {
          change = { schema: 's', table: 't', action: 'delete', before: source.get(pick(ids))! };
        }
        applyChange(source, change);
        const filtered = filterChange(change, passes);
        if (filtered) {
          applyChange(target, filtered);
          batch.push(filtered);
        }
        if (rand() < 0.05) flush();
      }
      flush();
      const want = [...source.values()].filter(passes).sort((a, b) => Number(a.id) - Number(b.id));
      const sorted = (m: Map<unknown, Row>) => [...m.values()].sort((a, b) => Number(a.id) - Number(b.id));
      assert.deepEqual(sorted(target), want, `filter ${f}, seed ${seed}: change by change`);
      assert.deepEqual(sorted(merged), want, `filter ${f}, seed ${seed}: merged batches`);
      checked++;
    }
  }
  assert.equal(checked, 200);
});
