import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { classifyOracleError, isOracleRefused } from '../../activities/load/oracle-errors.js';
import { BindError } from '../../lib/dialects/oracle/oracle-binds.js';
import { isOracleUnreachable } from '../../client/oracle-target-info.js';

/** An error shaped like node-oracledb's. */
const ora = (num: number, text: string) => Object.assign(new Error(`ORA-${String(num).padStart(5, '0')}: ${text}`), { errorNum: num, code: `ORA-${String(num).padStart(5, '0')}` });
const njs = (code: string, text: string) => Object.assign(new Error(`${code}: ${text}`), { code });

const refused: [Error, RegExp][] = [
  [ora(12899, 'value too large for column "S"."T"."NAME" (actual: 30, maximum: 20)'), /value too large for column/],
  [ora(1400, 'cannot insert NULL into ("S"."T"."NAME")'), /a NOT NULL column got NULL/],
  [ora(1, 'unique constraint (S.UK) violated'), /duplicate key/],
  [ora(2291, 'integrity constraint (S.FK) violated - parent key not found'), /foreign key \(missing parent\)/],
  [ora(942, 'table or view does not exist'), /table does not exist/],
  [ora(1722, 'invalid number'), /invalid number/],
  [ora(1858, 'a non-numeric character was found where a numeric was expected'), /non-numeric character/],
  [ora(1438, 'value larger than specified precision allowed for this column'), /precision/],
  [ora(2290, 'check constraint (S.C) violated'), /check constraint/],
  [ora(904, '"X": invalid identifier'), /unknown column/],
  [new BindError('column AT: the zero date 0000-00-00 has no Oracle equivalent'), /value cannot be bound/],
];
for (const [err, reason] of refused) {
  test(`refused, halts the pipeline: ${err.message.slice(0, 40)}`, () => {
    assert.equal(isOracleRefused(err), true);
    const out = classifyOracleError(err, 'MERGE INTO "S"."T" t USING (SELECT :1 "ID" FROM dual) s …', 7);
    assert.ok(out instanceof ApplicationFailure);
    assert.equal(out.type, 'TargetRefused');
    assert.equal(out.nonRetryable, true);
    assert.match(out.message, /^target refused batch 7 /);
    assert.match(out.message, reason);
    assert.match(out.message, /in: MERGE INTO "S"\."T"/);
  });
}

const passing: Error[] = [
  njs('NJS-500', 'connection to the Oracle Database was broken'),
  njs('NJS-503', 'connection to host 127.0.0.1 port 1521 could not be established'),
  ora(60, 'deadlock detected while waiting for resource'),
  ora(3113, 'end-of-file on communication channel'),
  ora(3135, 'connection lost contact'),
  new Error('socket hang up'),
];
for (const err of passing) {
  test(`passing fault, retried: ${err.message.slice(0, 40)}`, () => {
    assert.equal(isOracleRefused(err), false);
    const out = classifyOracleError(err, 'DELETE …', 1);
    assert.equal(out, err, 'the same error goes back for Temporal to retry');
    assert.ok(!(out instanceof ApplicationFailure));
  });
}

test('a long statement is cut in the message', () => {
  const out = classifyOracleError(ora(1, 'unique constraint'), 'x'.repeat(1000), 3);
  assert.match(out.message, /in: x{300}…$/);
});

test('cannot reach an Oracle server: network-level driver errors only', () => {
  assert.equal(isOracleUnreachable(njs('NJS-503', 'connection to host could not be established')), true);
  assert.equal(isOracleUnreachable(njs('NJS-530', 'unresolvable host')), true);
  assert.equal(isOracleUnreachable(ora(12541, 'TNS:no listener')), true);
  assert.equal(isOracleUnreachable(ora(1017, 'invalid username/password; logon denied')), false);
});
