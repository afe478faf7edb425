import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideTurn } from '../../lib/checkpoint-turn.js';
import type { NumberedBatch } from '../../lib/model.js';

const batch = (seq: number, from: number, to: number): NumberedBatch => ({
  seq, from: { file: 'bin.000001', pos: from }, to: { file: 'bin.000001', pos: to }, ref: 'r', rows: 1, transactions: 1, firstEventTime: 0, lastEventTime: 0,
});

const cases: [string, { seq: number; position: string } | undefined, NumberedBatch, string][] = [
  ['no checkpoint row: the first batch goes', undefined, batch(1, 4, 100), 'mine'],
  ['seq 0 row: the first batch goes whatever the position', { seq: 0, position: '-' }, batch(1, 4, 100), 'mine'],
  ['the previous batch is in and ends where this one starts', { seq: 4, position: 'bin.000001:500' }, batch(5, 500, 600), 'mine'],
  ['the previous batch is not in yet', { seq: 3, position: 'bin.000001:400' }, batch(5, 500, 600), 'wait'],
  ['this batch is in already (a retried load)', { seq: 5, position: 'bin.000001:600' }, batch(5, 500, 600), 'done'],
  ['a later batch is in already', { seq: 9, position: 'bin.000001:900' }, batch(5, 500, 600), 'done'],
  ['the previous batch ended elsewhere', { seq: 4, position: 'bin.000001:450' }, batch(5, 500, 600), 'mismatch'],
  ['this seq is in but ended elsewhere', { seq: 5, position: 'bin.000001:650' }, batch(5, 500, 600), 'mismatch'],
];
for (const [name, row, b, want] of cases) {
  test(`turn: ${name} → ${want}`, () => {
    const t = decideTurn(row, b);
    assert.equal(t.turn, want);
    if (t.turn === 'mismatch') assert.match(t.message, /does not chain with the target's checkpoint.*--replace/);
  });
}

test('GTID-only positions are not compared (nothing to compare)', () => {
  const b: NumberedBatch = { ...batch(2, 0, 0), from: { gtid: '0-1-5' }, to: { gtid: '0-1-9' } };
  assert.equal(decideTurn({ seq: 1, position: 'bin.000001:1' }, b).turn, 'mine');
});
