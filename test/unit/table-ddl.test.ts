import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTableDdl, targetTableDef, type SourceColumn, type SourceTableDef } from '../../lib/dialects/table-ddl.js';

const c = (name: string, columnType: string, extra: Partial<SourceColumn> = {}): SourceColumn => ({
  name, dataType: columnType.replace(/\(.*$/, '').replace(/ unsigned$/, ''), columnType, nullable: true, charMaxLength: null, octetLength: null,
  precision: null, scale: null, datetimePrecision: null, charset: null, collation: null, isJson: false, ...extra,
});
const utf8 = { charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' };

const orders: SourceTableDef = {
  schema: 'shop',
  table: 'orders',
  columns: [
    c('id', 'bigint(20) unsigned', { nullable: false }),
    c('buyer', 'varchar(100)', { charMaxLength: 100, octetLength: 400, ...utf8, nullable: false }),
    c('total', 'decimal(12,2)', { precision: 12, scale: 2 }),
    c('placed', 'datetime(6)', { datetimePrecision: 6 }),
    c('meta', 'longtext', { charMaxLength: 4294967295, octetLength: 4294967295, charset: 'utf8mb4', collation: 'utf8mb4_bin', isJson: true }),
    c('internal_note', 'text', { charMaxLength: 65535, octetLength: 65535, ...utf8 }),
    c('code', 'char(8)', { charMaxLength: 8, octetLength: 32, ...utf8, nullable: false }),
  ],
  primaryKey: ['id'],
  uniqueKeys: [{ name: 'uk_code', columns: ['code'] }, { name: 'uk_note', columns: ['internal_note'] }],
};
// The mapping renames buyer and drops internal_note (so its unique key cannot be carried over).
const mapping = [
  { source: 'id', target: 'ID' },
  { source: 'buyer', target: 'BUYER_ID' },
  { source: 'total', target: 'TOTAL' },
  { source: 'placed', target: 'PLACED' },
  { source: 'meta', target: 'META' },
  { source: 'code', target: 'CODE' },
];

test('DDL for a mapped table, per dialect side by side', () => {
  const def = targetTableDef(orders, { schema: 'SHOP_US', table: 'ORDERS' }, mapping);
  const expected: Record<'mysql' | 'oracle', string[]> = {
    mysql: [
      'CREATE DATABASE IF NOT EXISTS `SHOP_US`',
      'CREATE TABLE IF NOT EXISTS `SHOP_US`.`ORDERS` (\n' +
        '  `ID` bigint(20) unsigned NOT NULL,\n' +
        '  `BUYER_ID` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,\n' +
        '  `TOTAL` decimal(12,2) NULL,\n' +
        '  `PLACED` datetime(6) NULL,\n' +
        '  `META` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL CHECK (json_valid(`META`)),\n' +
        '  `CODE` char(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,\n' +
        '  PRIMARY KEY (`ID`),\n' +
        '  UNIQUE KEY `uk_code` (`CODE`)\n' +
        ') ENGINE=InnoDB',
    ],
    oracle: [
      'CREATE TABLE "SHOP_US"."ORDERS" (\n' +
        '  "ID" NUMBER(20) NOT NULL,\n' +
        '  "BUYER_ID" VARCHAR2(100 CHAR) NOT NULL,\n' +
        '  "TOTAL" NUMBER(12,2),\n' +
        '  "PLACED" TIMESTAMP(6),\n' +
        '  "META" CLOB CHECK ("META" IS JSON),\n' +
        '  "CODE" VARCHAR2(8 CHAR) NOT NULL,\n' +
        '  PRIMARY KEY ("ID"),\n' +
        '  UNIQUE ("CODE")\n' +
        ')',
    ],
  };
  for (const dialect of ['mysql', 'oracle'] as const) assert.deepEqual(createTableDdl(dialect, def), expected[dialect], dialect);
  assert.match(createTableDdl('oracle', def, { json: 'json' })[0], /"META" JSON,/);
});

test('composite primary keys keep their order; names with quote characters', () => {
  const t: SourceTableDef = { schema: "o'k", table: 'a`b', columns: [c('b', 'int(11)', { nullable: false }), c('a', 'int(11)', { nullable: false })], primaryKey: ['a', 'b'], uniqueKeys: [] };
  const def = targetTableDef(t, { schema: "o'k", table: 'a`b' }, [{ source: 'b', target: 'b' }, { source: 'a', target: 'a' }]);
  assert.deepEqual(createTableDdl('mysql', def)[1], "CREATE TABLE IF NOT EXISTS `o'k`.`a``b` (\n  `b` int(11) NOT NULL,\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`, `b`)\n) ENGINE=InnoDB");
  assert.deepEqual(createTableDdl('oracle', def)[0], 'CREATE TABLE "o\'k"."a`b" (\n  "b" NUMBER(10) NOT NULL,\n  "a" NUMBER(10) NOT NULL,\n  PRIMARY KEY ("a", "b")\n)');
  const quoted = targetTableDef(t, { schema: 'S', table: 'T' }, [{ source: 'b', target: 'b"' }, { source: 'a', target: 'a' }]);
  assert.throws(() => createTableDdl('oracle', quoted), /not a valid Oracle identifier/);
});

test('a mapping that drops a primary-key column, or a table without one, is refused', () => {
  assert.throws(() => targetTableDef(orders, { schema: 's', table: 't' }, mapping.filter((m) => m.source !== 'id')), /shop\.orders: primary key column\(s\) id are not mapped/);
  assert.throws(() => targetTableDef({ ...orders, primaryKey: [] }, { schema: 's', table: 't' }, mapping), /shop\.orders has no primary key/);
  assert.throws(() => targetTableDef(orders, { schema: 's', table: 't' }, [...mapping, { source: 'nope', target: 'x' }]), /has no column nope/);
});
