import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oracleColumnType } from '../../lib/dialects/oracle/oracle-types.js';
import type { SourceColumn } from '../../lib/dialects/table-ddl.js';

/** A source column as information_schema would describe it; only what a case sets differs. */
export function col(columnType: string, extra: Partial<SourceColumn> = {}): SourceColumn {
  const dataType = columnType.replace(/\(.*$/, '').replace(/ unsigned$/, '');
  return {
    name: 'c', dataType, columnType, nullable: true, charMaxLength: null, octetLength: null,
    precision: null, scale: null, datetimePrecision: null, charset: null, collation: null, isJson: false, ...extra,
  };
}
const text = (columnType: string, chars: number, bytesPerChar = 4) =>
  col(columnType, { charMaxLength: chars, octetLength: chars * bytesPerChar, charset: 'utf8mb4', collation: 'utf8mb4_bin' });

const cases: [string, SourceColumn, string][] = [
  ['tinyint', col('tinyint(4)'), 'NUMBER(3)'],
  ['tinyint unsigned', col('tinyint(3) unsigned'), 'NUMBER(3)'],
  ['smallint', col('smallint(6)'), 'NUMBER(5)'],
  ['mediumint', col('mediumint(9)'), 'NUMBER(7)'],
  ['mediumint unsigned (16777215)', col('mediumint(8) unsigned'), 'NUMBER(8)'],
  ['int', col('int(11)'), 'NUMBER(10)'],
  ['bigint', col('bigint(20)'), 'NUMBER(19)'],
  ['bigint unsigned stays exact (20 digits)', col('bigint(20) unsigned'), 'NUMBER(20)'],
  ['decimal(12,2)', col('decimal(12,2)', { precision: 12, scale: 2 }), 'NUMBER(12,2)'],
  ['decimal(38,10), the widest NUMBER', col('decimal(38,10)', { precision: 38, scale: 10 }), 'NUMBER(38,10)'],
  ['decimal(65,30) kept as text', col('decimal(65,30)', { precision: 65, scale: 30 }), 'VARCHAR2(67)'],
  ['float', col('float'), 'BINARY_FLOAT'],
  ['double', col('double'), 'BINARY_DOUBLE'],
  ['bit(1)', col('bit(1)', { precision: 1 }), 'NUMBER(1)'],
  ['bit(64)', col('bit(64)', { precision: 64 }), 'NUMBER(20)'],
  ['year', col('year(4)'), 'NUMBER(4)'],
  ['date', col('date'), 'DATE'],
  ['datetime', col('datetime'), 'TIMESTAMP(0)'],
  ['datetime(6)', col('datetime(6)', { datetimePrecision: 6 }), 'TIMESTAMP(6)'],
  ['timestamp(3)', col('timestamp(3)', { datetimePrecision: 3 }), 'TIMESTAMP(3)'],
  ['time(6)', col('time(6)', { datetimePrecision: 6 }), 'VARCHAR2(17)'],
  ['char(20)', text('char(20)', 20), 'VARCHAR2(20 CHAR)'],
  ['varchar(300) utf8mb4 (1200 bytes)', text('varchar(300)', 300), 'VARCHAR2(300 CHAR)'],
  ['varchar(1000) utf8mb4 = 4000 bytes', text('varchar(1000)', 1000), 'VARCHAR2(1000 CHAR)'],
  ['varchar(1001) utf8mb4 is past 4000 bytes', text('varchar(1001)', 1001), 'CLOB'],
  ['varchar(4000) latin1', text('varchar(4000)', 4000, 1), 'VARCHAR2(4000 CHAR)'],
  ['tinytext', text('tinytext', 255), 'VARCHAR2(255 CHAR)'],
  ['text', text('text', 65535), 'CLOB'],
  ['longtext', text('longtext', 4294967295, 1), 'CLOB'],
  ['enum', text("enum('a','b','c d')", 3), 'VARCHAR2(3 CHAR)'],
  ['set', text("set('x','y')", 3), 'VARCHAR2(3 CHAR)'],
  ['binary(16)', col('binary(16)', { charMaxLength: 16, octetLength: 16 }), 'RAW(16)'],
  ['varbinary(2000)', col('varbinary(2000)', { charMaxLength: 2000, octetLength: 2000 }), 'RAW(2000)'],
  ['varbinary(2001)', col('varbinary(2001)', { charMaxLength: 2001, octetLength: 2001 }), 'BLOB'],
  ['tinyblob', col('tinyblob', { charMaxLength: 255, octetLength: 255 }), 'RAW(255)'],
  ['blob', col('blob', { charMaxLength: 65535, octetLength: 65535 }), 'BLOB'],
  ['longblob', col('longblob', { charMaxLength: 4294967295, octetLength: 4294967295 }), 'BLOB'],
  ['MariaDB JSON (longtext + json_valid)', { ...text('longtext', 4294967295, 1), isJson: true }, 'CLOB'],
  ['MySQL JSON', col('json'), 'CLOB'],
];

for (const [name, c, want] of cases) {
  test(`Oracle type of ${name}: ${want}`, () => assert.equal(oracleColumnType(c), want));
}

test('JSON columns may use the native JSON type', () => {
  assert.equal(oracleColumnType(col('json'), { json: 'json' }), 'JSON');
  assert.equal(oracleColumnType({ ...text('longtext', 4294967295, 1), isJson: true }, { json: 'json' }), 'JSON');
});

test('types without an exact Oracle counterpart are refused by name', () => {
  assert.throws(() => oracleColumnType(col('geometry', { name: 'shape' })), /column shape: type geometry has no Oracle mapping/);
});
