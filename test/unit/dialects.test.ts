import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dialectFor, type CompiledStep, type QueryCompiler, type SqlDialect } from '../../lib/dialects/index.js';
import type { LoadStep } from '../../lib/load-plan.js';
import type { SqlValue } from '../../lib/model.js';

const dialects: SqlDialect[] = [dialectFor('mysql'), dialectFor('oracle')];
type Name = SqlDialect['name'];
type Expected = { sql: string; params?: SqlValue[]; rows?: SqlValue[][] } | { error: RegExp };

const step = (kind: LoadStep['kind'], table: string, columns: string[], key: string[], rows: SqlValue[][]): LoadStep =>
  ({ kind, table: { schema: 'S', table }, columns, key, rows });

/** Every case runs for every dialect; the expected SQL of each dialect sits side by side. */
const cases: { name: string; compile: (c: QueryCompiler) => CompiledStep; expect: Record<Name, Expected> }[] = [
  {
    name: 'upsert, single-column primary key',
    compile: (c) => c.compileStep(step('upsert', 'T', ['ID', 'NAME', 'PIC'], ['ID'], [[1, 'a', Buffer.from([1])], [2, null, Buffer.alloc(0)]])),
    expect: {
      mysql: {
        sql: 'INSERT INTO `S`.`T` (`ID`,`NAME`,`PIC`) VALUES (?,?,?),(?,?,?) ON DUPLICATE KEY UPDATE `NAME`=VALUES(`NAME`), `PIC`=VALUES(`PIC`)',
        params: [1, 'a', Buffer.from([1]), 2, null, Buffer.alloc(0)],
      },
      oracle: {
        sql: 'MERGE INTO "S"."T" t USING (SELECT :1 "ID", :2 "NAME", :3 "PIC" FROM dual) s ON (t."ID" = s."ID")' +
          ' WHEN MATCHED THEN UPDATE SET t."NAME" = s."NAME", t."PIC" = s."PIC"' +
          ' WHEN NOT MATCHED THEN INSERT ("ID","NAME","PIC") VALUES (s."ID", s."NAME", s."PIC")',
        rows: [[1, 'a', Buffer.from([1])], [2, null, Buffer.alloc(0)]],
      },
    },
  },
  {
    name: 'upsert, composite primary key not leading',
    compile: (c) => c.compileUpsert(step('upsert', 'T', ['V', 'A', 'B'], ['A', 'B'], [['x', 1, 2]])),
    expect: {
      mysql: { sql: 'INSERT INTO `S`.`T` (`V`,`A`,`B`) VALUES (?,?,?) ON DUPLICATE KEY UPDATE `V`=VALUES(`V`)', params: ['x', 1, 2] },
      oracle: {
        sql: 'MERGE INTO "S"."T" t USING (SELECT :1 "V", :2 "A", :3 "B" FROM dual) s ON (t."A" = s."A" AND t."B" = s."B")' +
          ' WHEN MATCHED THEN UPDATE SET t."V" = s."V" WHEN NOT MATCHED THEN INSERT ("V","A","B") VALUES (s."V", s."A", s."B")',
        rows: [['x', 1, 2]],
      },
    },
  },
  {
    name: 'upsert, every column in the primary key',
    compile: (c) => c.compileUpsert(step('upsert', 'TAGS', ['A', 'B'], ['A', 'B'], [[1, 'x'], [2, 'y']])),
    expect: {
      mysql: { sql: 'INSERT INTO `S`.`TAGS` (`A`,`B`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `A`=`A`', params: [1, 'x', 2, 'y'] },
      oracle: {
        sql: 'MERGE INTO "S"."TAGS" t USING (SELECT :1 "A", :2 "B" FROM dual) s ON (t."A" = s."A" AND t."B" = s."B")' +
          ' WHEN NOT MATCHED THEN INSERT ("A","B") VALUES (s."A", s."B")',
        rows: [[1, 'x'], [2, 'y']],
      },
    },
  },
  {
    name: 'delete, single-column key',
    compile: (c) => c.compileStep(step('delete', 'T', ['ID'], ['ID'], [[1], ['18446744073709551615']])),
    expect: {
      mysql: { sql: 'DELETE FROM `S`.`T` WHERE `ID` IN (?,?)', params: [1, '18446744073709551615'] },
      oracle: { sql: 'DELETE FROM "S"."T" WHERE "ID" = :1', rows: [[1], ['18446744073709551615']] },
    },
  },
  {
    name: 'delete, composite key',
    compile: (c) => c.compileDelete(step('delete', 'T', ['A', 'B'], ['A', 'B'], [[1, 'x'], [2, 'y']])),
    expect: {
      mysql: { sql: 'DELETE FROM `S`.`T` WHERE (`A`,`B`) IN ((?,?),(?,?))', params: [1, 'x', 2, 'y'] },
      oracle: { sql: 'DELETE FROM "S"."T" WHERE "A" = :1 AND "B" = :2', rows: [[1, 'x'], [2, 'y']] },
    },
  },
  {
    name: 'field-mode update, one row: a plain UPDATE by key',
    compile: (c) => c.compileStep(step('update', 'T', ['ID', 'NAME', 'PIC'], ['ID'], [[1, 'a', null]])),
    expect: {
      mysql: { sql: 'UPDATE `S`.`T` SET `NAME` = ?, `PIC` = ? WHERE `ID` = ?', params: ['a', null, 1] },
      oracle: { sql: 'UPDATE "S"."T" SET "NAME" = :1, "PIC" = :2 WHERE "ID" = :3', rows: [['a', null, 1]] },
    },
  },
  {
    name: 'field-mode update, several rows, two columns',
    compile: (c) => c.compileStep(step('update', 'T', ['ID', 'A', 'B'], ['ID'], [[1, 'a1', 'b1'], [2, 'a2', Buffer.from([2])]])),
    expect: {
      mysql: {
        sql: 'UPDATE `S`.`T` SET `A`=CASE WHEN `ID`=? THEN ? WHEN `ID`=? THEN ? ELSE `A` END,' +
          ' `B`=CASE WHEN `ID`=? THEN ? WHEN `ID`=? THEN ? ELSE `B` END WHERE `ID` IN (?,?)',
        params: [1, 'a1', 2, 'a2', 1, 'b1', 2, Buffer.from([2]), 1, 2],
      },
      oracle: { sql: 'UPDATE "S"."T" SET "A" = :1, "B" = :2 WHERE "ID" = :3', rows: [['a1', 'b1', 1], ['a2', Buffer.from([2]), 2]] },
    },
  },
  {
    name: 'field-mode update, several rows, composite key not leading',
    compile: (c) => c.compileUpdate(step('update', 'T', ['V', 'A', 'B'], ['A', 'B'], [['x', 1, 2], ['y', 3, 4]])),
    expect: {
      mysql: {
        sql: 'UPDATE `S`.`T` SET `V`=CASE WHEN `A`=? AND `B`=? THEN ? WHEN `A`=? AND `B`=? THEN ? ELSE `V` END WHERE (`A`,`B`) IN ((?,?),(?,?))',
        params: [1, 2, 'x', 3, 4, 'y', 1, 2, 3, 4],
      },
      oracle: { sql: 'UPDATE "S"."T" SET "V" = :1 WHERE "A" = :2 AND "B" = :3', rows: [['x', 1, 2], ['y', 3, 4]] },
    },
  },
  {
    name: 'an update step with nothing to set is refused',
    compile: (c) => c.compileStep(step('update', 'T', ['ID'], ['ID'], [[1], [2]])),
    expect: { mysql: { error: /S\.T: update step without a column to set/ }, oracle: { error: /S\.T: update step without a column to set/ } },
  },
  {
    name: 'checkpoint select, locking the row',
    compile: (c) => c.compileCheckpointSelect('meta', 'orders'),
    expect: {
      mysql: { sql: 'SELECT `seq`, `position`, `rows_applied` FROM `meta`.`seaotter_checkpoint` WHERE `pipeline` = ? FOR UPDATE', params: ['orders'] },
      oracle: {
        sql: 'SELECT "SEQ" "seq", "POSITION" "position", "ROWS_APPLIED" "rows_applied" FROM "meta"."SEAOTTER_CHECKPOINT" WHERE "PIPELINE" = :1 FOR UPDATE',
        params: ['orders'],
      },
    },
  },
  {
    name: 'checkpoint upsert, rows accumulated',
    compile: (c) => c.compileCheckpointUpsert('meta', { pipeline: 'orders', seq: 42, position: 'bin.000003:1234', rows: 10 }),
    expect: {
      mysql: {
        sql: 'INSERT INTO `meta`.`seaotter_checkpoint` (`pipeline`,`seq`,`position`,`rows_applied`,`updated_at`) VALUES (?,?,?,?,CURRENT_TIMESTAMP(6))' +
          ' ON DUPLICATE KEY UPDATE `seq`=VALUES(`seq`), `position`=VALUES(`position`), `rows_applied`=`rows_applied`+VALUES(`rows_applied`),' +
          ' `updated_at`=VALUES(`updated_at`)',
        params: ['orders', 42, 'bin.000003:1234', 10],
      },
      oracle: {
        sql: 'MERGE INTO "meta"."SEAOTTER_CHECKPOINT" t USING (SELECT :1 "PIPELINE", :2 "SEQ", :3 "POSITION", :4 "ROWS_APPLIED" FROM dual) s' +
          ' ON (t."PIPELINE" = s."PIPELINE") WHEN MATCHED THEN UPDATE SET t."SEQ" = s."SEQ", t."POSITION" = s."POSITION",' +
          ' t."ROWS_APPLIED" = t."ROWS_APPLIED" + s."ROWS_APPLIED", t."UPDATED_AT" = SYSTIMESTAMP' +
          ' WHEN NOT MATCHED THEN INSERT ("PIPELINE","SEQ","POSITION","ROWS_APPLIED","UPDATED_AT")' +
          ' VALUES (s."PIPELINE", s."SEQ", s."POSITION", s."ROWS_APPLIED", SYSTIMESTAMP)',
        params: ['orders', 42, 'bin.000003:1234', 10],
      },
    },
  },
  {
    name: 'checkpoint table DDL',
    compile: (c) => c.compileCheckpointTableDdl('meta'),
    expect: {
      mysql: {
        sql: 'CREATE TABLE IF NOT EXISTS `meta`.`seaotter_checkpoint` (`pipeline` VARCHAR(190) NOT NULL, `seq` BIGINT NOT NULL,' +
          ' `position` VARCHAR(512) NOT NULL, `rows_applied` BIGINT NOT NULL DEFAULT 0,' +
          ' `updated_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (`pipeline`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
        params: [],
      },
      oracle: {
        sql: 'CREATE TABLE "meta"."SEAOTTER_CHECKPOINT" ("PIPELINE" VARCHAR2(190 CHAR) NOT NULL, "SEQ" NUMBER(19) NOT NULL,' +
          ' "POSITION" VARCHAR2(512 CHAR) NOT NULL, "ROWS_APPLIED" NUMBER(19) DEFAULT 0 NOT NULL,' +
          ' "UPDATED_AT" TIMESTAMP(6) DEFAULT SYSTIMESTAMP NOT NULL, PRIMARY KEY ("PIPELINE"))',
        params: [],
      },
    },
  },
  {
    name: 'identifiers with quote characters in them',
    compile: (c) => c.compileDelete({ kind: 'delete', table: { schema: "o'clock", table: 'back`tick' }, columns: ['i"d'], key: ['i"d'], rows: [[1]] }),
    expect: {
      mysql: { sql: "DELETE FROM `o'clock`.`back``tick` WHERE `i\"d` IN (?)", params: [1] },
      // Oracle cannot quote a double quote inside an identifier.
      oracle: { error: /not a valid Oracle identifier: "i\\"d"/ },
    },
  },
  {
    name: 'identifiers with a backtick, unquoted in Oracle',
    compile: (c) => c.compileDelete({ kind: 'delete', table: { schema: 'S', table: 'a`b' }, columns: ['ID'], key: ['ID'], rows: [[1]] }),
    expect: {
      mysql: { sql: 'DELETE FROM `S`.`a``b` WHERE `ID` IN (?)', params: [1] },
      oracle: { sql: 'DELETE FROM "S"."a`b" WHERE "ID" = :1', rows: [[1]] },
    },
  },
  {
    name: 'malformed steps are refused',
    compile: (c) => c.compileUpsert(step('upsert', 'T', ['NAME'], ['ID'], [['a']])),
    expect: { mysql: { error: /S\.T: upsert step lacks key column ID/ }, oracle: { error: /S\.T: upsert step lacks key column ID/ } },
  },
];

/** Placeholder positions in order of appearance: MySQL's `?` count 1, 2, 3…; Oracle's are written. */
function placeholderIndexes(dialect: Name, sql: string): number[] {
  const noQuoted = sql.replace(/`[^`]*`|"[^"]*"|'[^']*'/g, '');
  if (dialect === 'mysql') return [...noQuoted.matchAll(/\?/g)].map((_, i) => i + 1);
  return [...noQuoted.matchAll(/:(\d+)/g)].map((m) => Number(m[1]));
}

for (const dialect of dialects) {
  for (const c of cases) {
    test(`${dialect.name}: ${c.name}`, () => {
      const expected = c.expect[dialect.name];
      if ('error' in expected) {
        assert.throws(() => c.compile(dialect.compiler), expected.error);
        return;
      }
      const compiled = c.compile(dialect.compiler);
      assert.equal(compiled.sql, expected.sql);
      const indexes = placeholderIndexes(dialect.name, compiled.sql);
      if (compiled.kind === 'query') {
        assert.deepEqual(compiled.params, expected.params);
        assert.deepEqual(indexes, compiled.params.map((_, i) => i + 1), 'one placeholder per param, in order');
      } else {
        assert.equal(dialect.capabilities.supportsMultiRowValues, false, 'only executeMany dialects return batches');
        assert.deepEqual(compiled.rows, expected.rows);
        for (const row of compiled.rows) assert.deepEqual(indexes, row.map((_, i) => i + 1), 'one bind per value, in order');
      }
    });
  }
}

test('load steps compile to a query exactly on multi-row dialects', () => {
  for (const d of dialects) {
    const compiled = d.compiler.compileStep(step('upsert', 'T', ['ID'], ['ID'], [[1]]));
    assert.equal(compiled.kind, d.capabilities.supportsMultiRowValues ? 'query' : 'batch', d.name);
  }
});

test('dialectFor: MySQL and MariaDB share a dialect; Oracle has its own', () => {
  assert.equal(dialectFor('mariadb'), dialectFor('mysql'));
  assert.equal(dialectFor('mysql').name, 'mysql');
  assert.equal(dialectFor('oracle').name, 'oracle');
  assert.throws(() => dialectFor('s3' as 'mysql'), /no SQL dialect for data source type s3/);
});
