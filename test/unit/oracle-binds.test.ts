import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BindError, bindKindOf, oracleBindRows, toOracleBind, type OracleBindKind } from '../../lib/dialects/oracle/oracle-binds.js';
import type { SqlValue } from '../../lib/model.js';

test('bind kinds from ALL_TAB_COLUMNS.DATA_TYPE', () => {
  const want: [string, OracleBindKind][] = [
    ['NUMBER', 'number'], ['FLOAT', 'number'], ['BINARY_DOUBLE', 'binary_double'], ['BINARY_FLOAT', 'binary_double'],
    ['DATE', 'date'], ['TIMESTAMP(6)', 'timestamp'], ['TIMESTAMP(0)', 'timestamp'], ['TIMESTAMP(6) WITH TIME ZONE', 'timestamp_tz'],
    ['VARCHAR2', 'text'], ['NVARCHAR2', 'text'], ['CHAR', 'text'], ['CLOB', 'clob'], ['JSON', 'clob'], ['RAW', 'raw'], ['BLOB', 'blob'],
  ];
  for (const [type, kind] of want) assert.equal(bindKindOf(type), kind, type);
  assert.throws(() => bindKindOf('SDO_GEOMETRY'), /SDO_GEOMETRY is not supported/);
});

const cases: [string, OracleBindKind, SqlValue, string | number | Buffer | null][] = [
  ['null stays null', 'number', null, null],
  ['integer into NUMBER as text', 'number', 42, '42'],
  ['negative integer', 'number', -7, '-7'],
  ['unsigned BIGINT beyond 2^53 stays exact', 'number', '18446744073709551615', '18446744073709551615'],
  ['DECIMAL text stays exact', 'number', '-12345678901234567890.123456789', '-12345678901234567890.123456789'],
  ['double into NUMBER', 'number', 0.1, '0.1'],
  ['boolean into NUMBER', 'number', true, '1'],
  ['BIT(1) bytes into NUMBER', 'number', Buffer.from([1]), '1'],
  ['BIT(64) all ones into NUMBER', 'number', Buffer.alloc(8, 0xff), '18446744073709551615'],
  ['float into BINARY_DOUBLE', 'binary_double', 1.5e-300, 1.5e-300],
  ['text float into BINARY_DOUBLE', 'binary_double', '2.5', 2.5],
  ['text', 'text', 'héllo 😀', 'héllo 😀'],
  ['number into text', 'text', 12, '12'],
  ['JSON text into CLOB', 'clob', '{"a": [1, 2]}', '{"a": [1, 2]}'],
  ['bytes into RAW', 'raw', Buffer.from([0, 255]), Buffer.from([0, 255])],
  ['Uint8Array into BLOB', 'blob', new Uint8Array([1, 2, 3]), Buffer.from([1, 2, 3])],
  ['DATETIME(6) keeps microseconds', 'timestamp', '2024-02-29 23:59:59.123456', '2024-02-29 23:59:59.123456'],
  ['DATETIME(3) padded to six digits', 'timestamp', '2024-02-29 23:59:59.123', '2024-02-29 23:59:59.123000'],
  ['DATETIME without fraction', 'timestamp', '1999-12-31 00:00:00', '1999-12-31 00:00:00.000000'],
  ['DATE into TIMESTAMP', 'timestamp', '1999-12-31', '1999-12-31 00:00:00.000000'],
  ['into TIMESTAMP WITH TIME ZONE, as UTC', 'timestamp_tz', '2024-01-02 03:04:05.000006', '2024-01-02 03:04:05.000006 +00:00'],
  ['DATE', 'date', '2024-01-02', '2024-01-02 00:00:00'],
  ['DATETIME with a zero fraction into DATE', 'date', '2024-01-02 03:04:05.000000', '2024-01-02 03:04:05'],
];
for (const [name, kind, v, want] of cases) {
  test(`bind: ${name}`, () => assert.deepEqual(toOracleBind(kind, v, 'c'), want));
}

const refused: [string, OracleBindKind, SqlValue, RegExp][] = [
  ['the zero date', 'timestamp', '0000-00-00 00:00:00', /column c: the zero date 0000-00-00 00:00:00 has no Oracle equivalent/],
  ['a zero month', 'date', '2024-00-10', /zero date/],
  ['a fraction into DATE', 'date', '2024-01-02 03:04:05.5', /DATE cannot keep the fraction/],
  ['text that is no date', 'timestamp', 'yesterday', /is not a date\/time value/],
  ['NaN into NUMBER', 'number', NaN, /NaN cannot be stored in a NUMBER/],
  ['text that is no number', 'number', '12abc', /"12abc" is not a number/],
  ['bytes into text', 'text', Buffer.from('x'), /bytes cannot be stored in a text column/],
  ['a number into RAW', 'raw', 5, /cannot be stored in a binary column/],
];
for (const [name, kind, v, re] of refused) {
  test(`bind refused: ${name}`, () => assert.throws(() => toOracleBind(kind, v, 'c'), (err: unknown) => err instanceof BindError && re.test((err as Error).message)));
}

test('bind rows: values converted per column, bind definitions sized by the longest value', () => {
  const { rows, defs } = oracleBindRows(
    ['number', 'text', 'raw', 'clob', 'timestamp', 'binary_double', 'blob'],
    ['ID', 'NAME', 'PIC', 'DOC', 'AT', 'F', 'B'],
    [
      [1, 'ab', Buffer.from([1, 2, 3]), '{}', '2024-01-01 00:00:00', 1.5, Buffer.from([9])],
      ['18446744073709551615', 'é', null, null, null, null, null],
      [3, null, Buffer.alloc(0), 'x'.repeat(5000), '2024-01-01 00:00:00.5', 2, null],
    ],
  );
  assert.deepEqual(rows[1], ['18446744073709551615', 'é', null, null, null, null, null]);
  assert.equal(rows[2][4], '2024-01-01 00:00:00.500000');
  assert.deepEqual(defs, [
    { type: 'varchar', maxSize: 20 },
    { type: 'varchar', maxSize: 2 },
    { type: 'raw', maxSize: 3 },
    { type: 'clob' },
    { type: 'varchar', maxSize: 26 },
    { type: 'binary_double' },
    { type: 'blob' },
  ]);
});

test('text longer than a VARCHAR bind goes as a CLOB (the target decides whether it fits)', () => {
  const { defs } = oracleBindRows(['text'], ['T'], [['x'.repeat(40000)]]);
  assert.deepEqual(defs, [{ type: 'clob' }]);
});
