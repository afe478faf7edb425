/**
 * TransactionBatcher: batches hold whole transactions, their positions chain without gaps, and
 * cuts are due by row count or by wait time on the injected clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransactionBatcher } from '../../lib/batcher.js';
import type { BinlogPosition, RowChange } from '../../lib/model.js';

let nextId = 1;
function rows(n: number): RowChange[] {
  return Array.from({ length: n }, () => ({ schema: 's', table: 't', action: 'insert' as const, after: { id: nextId++ } }));
}
const at = (pos: number, file = 'mysql-bin.000001'): BinlogPosition => ({ file, pos });
const START = at(4);

/** Feeds one transaction of `n` rows committing at `pos`. */
function tx(b: TransactionBatcher, n: number, pos: BinlogPosition, now = 0): void {
  if (n > 0) b.addRows(rows(n), 1000 + (pos.pos ?? 0));
  b.commit(pos, 1000 + (pos.pos ?? 0), now);
}

test('a batch never splits a transaction: maxRows 3 with a 5-row transaction gives one batch of 5', () => {
  const b = new TransactionBatcher({ maxRows: 3, maxWaitMs: 1000 }, START);
  b.addRows(rows(2), 1);
  b.addRows(rows(2), 1);
  assert.equal(b.due(0), false, 'nothing is due while the transaction is open');
  assert.equal(b.cut(), null);
  b.addRows(rows(1), 1);
  b.commit(at(500), 2, 0);
  assert.equal(b.due(0), true);
  const batch = b.cut()!;
  assert.equal(batch.changes.length, 5);
  assert.equal(batch.transactions, 1);
  assert.deepEqual(batch.from, START);
  assert.deepEqual(batch.to, at(500));
  assert.equal(b.cut(), null);
});

test('rows of several multi-statement transactions keep their order and counts', () => {
  const b = new TransactionBatcher({ maxRows: 100, maxWaitMs: 1000 }, START);
  const first = nextId;
  tx(b, 3, at(100));
  tx(b, 4, at(200));
  const batch = b.cut()!;
  assert.equal(batch.transactions, 2);
  assert.deepEqual(batch.changes.map((c) => c.after!.id), Array.from({ length: 7 }, (_, i) => first + i));
  assert.equal(batch.firstEventTime, 1100);
  assert.equal(batch.lastEventTime, 1200);
});

test('cut positions chain: from of batch n+1 is to of batch n', () => {
  const b = new TransactionBatcher({ maxRows: 2, maxWaitMs: 1000 }, START);
  const batches = [];
  let pos = 4;
  for (let i = 0; i < 20; i++) {
    pos += 37 + i;
    tx(b, 1 + (i % 3), at(pos));
    if (b.due(0)) batches.push(b.cut()!);
  }
  const last = b.cut();
  if (last) batches.push(last);
  assert.ok(batches.length >= 5, `${batches.length} batches`);
  assert.deepEqual(batches[0].from, START);
  for (let i = 1; i < batches.length; i++) assert.deepEqual(batches[i].from, batches[i - 1].to, `batch ${i}`);
  assert.deepEqual(batches.at(-1)!.to, at(pos));
  assert.equal(batches.reduce((n, x) => n + x.transactions, 0), 20);
  const expectedRows = Array.from({ length: 20 }, (_, i) => 1 + (i % 3)).reduce((a, n) => a + n, 0);
  assert.equal(batches.reduce((n, x) => n + x.changes.length, 0), expectedRows);
});

test('to advances over commits of transactions with no rows (and across a file rotate)', () => {
  const b = new TransactionBatcher({ maxRows: 10, maxWaitMs: 1000 }, START);
  tx(b, 2, at(100));
  tx(b, 0, at(150)); // e.g. a transaction on an unmapped table
  tx(b, 0, at(4, 'mysql-bin.000002'));
  assert.equal(b.readyRows, 2);
  const first = b.cut()!;
  assert.deepEqual(first.from, START);
  assert.deepEqual(first.to, at(4, 'mysql-bin.000002'));
  assert.equal(first.transactions, 1, 'empty transactions are not counted');
  // Only empty transactions: nothing to cut, but the next batch starts after them.
  tx(b, 0, at(300, 'mysql-bin.000002'));
  assert.equal(b.due(10_000), false);
  assert.equal(b.msUntilDue(0), null);
  assert.equal(b.cut(), null);
  tx(b, 1, at(400, 'mysql-bin.000002'));
  const second = b.cut()!;
  assert.deepEqual(second.from, at(4, 'mysql-bin.000002'), 'from is the previous to');
  assert.deepEqual(second.to, at(400, 'mysql-bin.000002'));
});

test('due() by maxRows', () => {
  const b = new TransactionBatcher({ maxRows: 5, maxWaitMs: 60_000 }, START);
  assert.equal(b.due(0), false, 'nothing buffered');
  tx(b, 1, at(40), 0);
  tx(b, 1, at(50), 0);
  b.cut(); // a busy stream from here on: only rows (or the long wait) make a cut due
  tx(b, 2, at(100), 0);
  assert.equal(b.due(1), false);
  tx(b, 2, at(200), 1);
  assert.equal(b.due(2), false, '4 < 5');
  tx(b, 1, at(300), 2);
  assert.equal(b.readyRows, 5);
  assert.equal(b.due(3), true, '5 rows');
  b.cut();
  assert.equal(b.due(3), false, 'emptied by the cut');
  tx(b, 9, at(400), 4);
  assert.equal(b.due(4), true, 'one big transaction over the limit');
});

test('due() by maxWaitMs on the injected clock, counted from the first buffered commit', () => {
  const b = new TransactionBatcher({ maxRows: 1000, maxWaitMs: 200 }, START);
  // Two commits just before: the next one, the third within 200 ms, finds the stream busy.
  tx(b, 1, at(40), 990);
  tx(b, 1, at(50), 995);
  b.cut();
  b.addRows(rows(1), 1);
  assert.equal(b.due(10_000), false, 'an open transaction never makes a batch due');
  assert.equal(b.msUntilDue(10_000), null);
  b.commit(at(100), 2, 1_000);
  assert.equal(b.due(1_000), false);
  assert.equal(b.msUntilDue(1_050), 150);
  tx(b, 1, at(200), 1_150); // a later commit does not restart the clock
  assert.equal(b.due(1_199), false);
  assert.equal(b.msUntilDue(1_199), 1);
  assert.equal(b.due(1_200), true);
  assert.equal(b.msUntilDue(5_000), 0);
  assert.equal(b.cut()!.transactions, 2);
  // The clock restarts with the next buffered commit (still busy: 1_000 and 1_150 are within 200 ms).
  tx(b, 1, at(300), 1_190);
  assert.equal(b.due(1_389), false);
  assert.equal(b.due(1_390), true);
});

test('a commit on a quiet stream ships at once (adaptive cut); a busy stream batches for maxWaitMs', () => {
  const b = new TransactionBatcher({ maxRows: 1000, maxWaitMs: 50 }, START);
  tx(b, 1, at(100), 1_000);
  assert.equal(b.due(1_000), true, 'the first commit ever: nothing to wait for');
  assert.equal(b.msUntilDue(1_000), 0);
  b.cut();
  // Low traffic written in pairs (a row and a heartbeat, 100 ms apart): every commit ships at once.
  let pos = 100;
  for (const t of [1_100, 1_101, 1_200, 1_202, 1_300, 1_301]) {
    tx(b, 1, at((pos += 100)), t);
    assert.equal(b.due(t), true, `commit at ${t} is on a quiet stream`);
    assert.equal(b.cut()!.transactions, 1);
  }
  // Under load: commits 5 ms apart. The first two still ship alone; then one cut per 50 ms.
  const cuts: number[] = [];
  for (let t = 1_405; t <= 1_700; t += 5) {
    tx(b, 1, at((pos += 100)), t);
    if (b.due(t)) cuts.push(b.cut()!.transactions);
  }
  assert.deepEqual(cuts, [1, 1, 11, 11, 11, 11, 11], 'one cut per maxWaitMs, not one per commit');
});

test('quiet means at most 2 commits within maxWaitMs: batches a second stay bounded at every rate', () => {
  for (const [gapMs, perCommit] of [[33, true], [25, true], [20, false], [10, false], [1, false]] as const) {
    const b = new TransactionBatcher({ maxRows: 100_000, maxWaitMs: 50 }, START);
    let cuts = 0;
    let pos = 100;
    for (let t = 0; t < 10_000; t += gapMs) {
      tx(b, 1, at((pos += 100)), t);
      if (b.due(t)) {
        b.cut();
        cuts++;
      }
    }
    const perSecond = cuts / 10;
    if (perCommit) assert.ok(perSecond > 1000 / gapMs - 2, `${gapMs} ms apart: every commit ships at once (${perSecond}/s)`);
    else assert.ok(perSecond <= 1000 / 50 + 1, `${gapMs} ms apart: at most one cut per maxWaitMs (${perSecond}/s)`);
  }
});

test('uncommitted rows are never cut', () => {
  const b = new TransactionBatcher({ maxRows: 2, maxWaitMs: 10 }, START);
  tx(b, 3, at(100), 0);
  b.addRows(rows(4), 5); // open transaction
  assert.equal(b.inTransaction, true);
  assert.equal(b.readyRows, 3);
  const first = b.cut()!;
  assert.equal(first.changes.length, 3);
  assert.deepEqual(first.to, at(100));
  // The open rows are still there, not cut, not due.
  assert.equal(b.cut(), null);
  assert.equal(b.due(1_000_000), false);
  assert.equal(b.inTransaction, true);
  b.commit(at(200), 6, 100);
  assert.equal(b.inTransaction, false);
  const second = b.cut()!;
  assert.equal(second.changes.length, 4);
  assert.deepEqual(second.from, at(100));
  assert.deepEqual(second.to, at(200));
});

test('a cut while a transaction is open ends at the last commit, not at the open transaction', () => {
  const b = new TransactionBatcher({ maxRows: 1, maxWaitMs: 10 }, START);
  tx(b, 1, at(100));
  b.addRows(rows(2), 1);
  const batch = b.cut()!;
  assert.deepEqual(batch.to, at(100));
  tx(b, 0, at(250)); // commits the open transaction's rows
  assert.deepEqual(b.cut()!.from, at(100));
});

test('a cut takes whole transactions up to maxRows, and the rest in later cuts', () => {
  const b = new TransactionBatcher({ maxRows: 5, maxWaitMs: 1000 }, { file: 'f.000001', pos: 4 });
  const row = (i: number) => ({ schema: 's', table: 't', action: 'insert' as const, after: { id: i } });
  let pos = 4;
  for (const size of [2, 2, 2, 7, 1]) {
    b.addRows(Array.from({ length: size }, (_, i) => row(pos * 10 + i)), 1);
    b.commit({ file: 'f.000001', pos: (pos += 100) }, 1, 0);
  }
  const sizes: number[] = [];
  const froms: number[] = [];
  for (let c = b.cut(); c; c = b.cut()) {
    sizes.push(c.changes.length);
    froms.push(c.from.pos!, c.to.pos!);
  }
  assert.deepEqual(sizes, [4, 2, 7, 1]);
  assert.deepEqual(froms, [4, 204, 204, 304, 304, 404, 404, 504]);
  assert.equal(b.readyRows, 0);
});

test('a DDL statement is a batch of its own: cut before and after it, positions chaining', () => {
  const b = new TransactionBatcher({ maxRows: 100, maxWaitMs: 10_000 }, START);
  tx(b, 2, at(100));
  tx(b, 1, at(200));
  b.addDdl({ schema: 's', statement: 'ALTER TABLE t ADD c INT' }, at(300), 5, 0);
  tx(b, 3, at(400));
  assert.equal(b.due(0), true, 'a queued DDL makes the cut due at once, whatever maxWaitMs says');
  assert.equal(b.msUntilDue(0), 0);
  const before = b.cut()!;
  assert.equal(before.changes.length, 3);
  assert.equal(before.ddl, undefined);
  assert.deepEqual(before.to, at(200));
  const ddl = b.cut()!;
  assert.deepEqual(ddl.ddl, { schema: 's', statement: 'ALTER TABLE t ADD c INT' });
  assert.equal(ddl.changes.length, 0);
  assert.deepEqual(ddl.from, at(200));
  assert.deepEqual(ddl.to, at(300));
  assert.equal(b.due(0), false, 'rows after the DDL wait for their own cut');
  const after = b.cut()!;
  assert.deepEqual(after.from, at(300));
  assert.equal(after.changes.length, 3);
  assert.equal(after.ddl, undefined);
});

test('two DDL statements in a row make two batches; the commit that follows one only moves its end', () => {
  const b = new TransactionBatcher({ maxRows: 100, maxWaitMs: 10_000 }, START);
  b.addDdl({ schema: 's', statement: 'CREATE TABLE a (id INT)' }, at(100), 1, 0);
  b.commit(at(100), 1, 0);
  b.addDdl({ schema: 's', statement: 'DROP TABLE a' }, at(200), 2, 0);
  b.commit(at(200), 2, 0);
  const one = b.cut()!;
  const two = b.cut()!;
  assert.equal(one.ddl?.statement, 'CREATE TABLE a (id INT)');
  assert.equal(two.ddl?.statement, 'DROP TABLE a');
  assert.deepEqual(two.from, one.to);
  assert.deepEqual(two.to, at(200));
  assert.equal(b.cut(), null);
  assert.equal(b.due(0), false);
});

test('while only other tables are written, an empty batch carries the position every idleAdvanceSeconds', () => {
  const b = new TransactionBatcher({ maxRows: 100, maxWaitMs: 50, idleAdvanceSeconds: 60 }, START);
  tx(b, 2, at(100), 0);
  assert.deepEqual(b.cut()?.to, at(100));
  // Commits without rows of ours: nothing is due until 60 s after the first of them.
  tx(b, 0, at(200), 1_000);
  tx(b, 0, at(300), 30_000);
  assert.equal(b.due(60_999), false);
  tx(b, 0, at(400), 61_000);
  assert.equal(b.due(61_000), true);
  assert.equal(b.cut(), null, 'only when asked at a time it is due');
  const empty = b.cut(61_000)!;
  assert.deepEqual({ from: empty.from, to: empty.to, rows: empty.changes.length, transactions: empty.transactions }, { from: at(100), to: at(400), rows: 0, transactions: 0 });
  assert.deepEqual(b.nextFrom, at(400));
  // Rows of ours make an ordinary batch, and no empty one follows it at once.
  tx(b, 0, at(450), 62_000);
  tx(b, 1, at(500), 63_000);
  assert.equal(b.due(200_000), true);
  const next = b.cut()!;
  assert.deepEqual({ from: next.from, to: next.to, rows: next.changes.length }, { from: at(400), to: at(500), rows: 1 });
  assert.equal(b.due(300_000), false, 'nothing since');
  assert.equal(b.cut(300_000), null);
});

test('a batch may delete files when one of its transactions was said to', () => {
  const b = new TransactionBatcher({ maxRows: 2, maxWaitMs: 50 }, START);
  b.addRows(rows(1), 1);
  b.commit(at(100), 1, 0);
  b.addRows(rows(1), 2, true);
  b.commit(at(200), 2, 0);
  b.addRows(rows(1), 3);
  b.commit(at(300), 3, 0);
  const first = b.cut()!;
  assert.equal(first.changes.length, 2);
  assert.equal(first.mayDeleteFiles, true);
  const second = b.cut()!;
  assert.equal(second.mayDeleteFiles, undefined, 'the flag stays with its transaction');
});
