/** Binlog Query events as capture classes them (activities/capture/statements.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dmlTable, queryKind } from '../../activities/capture/statements.js';

test('query kinds: transaction control, savepoints, XA, DML as statements, the rest', () => {
  const cases: [string, string][] = [
    ['BEGIN', 'begin'],
    ['SAVEPOINT `s1`', 'savepoint'],
    ['ROLLBACK TO SAVEPOINT s1', 'savepoint'],
    ['ROLLBACK WORK TO s1', 'savepoint'],
    ['RELEASE SAVEPOINT s1', 'savepoint'],
    ["XA START X'7831',X'',1", 'xa-start'],
    ["XA END X'7831',X'',1", 'xa'],
    ["XA ROLLBACK X'7831',X'',1", 'xa'],
    ['COMMIT', 'commit'],
    ['/* app */ UPDATE t SET v = 1', 'dml'],
    ['insert into t values (1)', 'dml'],
    ['REPLACE INTO t VALUES (1)', 'dml'],
    ['DELETE FROM t WHERE id = 1', 'dml'],
    ["LOAD DATA INFILE 'x' INTO TABLE t", 'dml'],
    ['ROLLBACK', 'statement'],
    ['CREATE TABLE t (id INT PRIMARY KEY)', 'statement'],
    ['GRANT SELECT ON *.* TO u', 'statement'],
  ];
  for (const [sql, kind] of cases) assert.equal(queryKind(sql), kind, sql);
});

test('the table a DML statement changes, or undefined when it cannot say', () => {
  assert.deepEqual(dmlTable('UPDATE app.st SET v = 1 WHERE id = 1', 'x'), { schema: 'app', table: 'st' });
  assert.deepEqual(dmlTable('update `my db`.`t``1` set v = 1', 'x'), { schema: 'my db', table: 't`1' });
  assert.deepEqual(dmlTable('INSERT IGNORE INTO t (id) VALUES (1)', 'app'), { schema: 'app', table: 't' });
  assert.deepEqual(dmlTable('INSERT INTO t VALUES (1)', 'app'), { schema: 'app', table: 't' });
  assert.deepEqual(dmlTable('insert into app . t select * from u', 'x'), { schema: 'app', table: 't' });
  assert.deepEqual(dmlTable('DELETE LOW_PRIORITY FROM t WHERE id = 2', 'app'), { schema: 'app', table: 't' });
  assert.deepEqual(dmlTable('DELETE FROM t', 'app'), { schema: 'app', table: 't' });
  assert.deepEqual(dmlTable("LOAD DATA LOCAL INFILE '/x' REPLACE INTO TABLE app.t", 'x'), { schema: 'app', table: 't' });
  // Several tables, or an alias: it cannot say (capture then halts rather than guess).
  assert.equal(dmlTable('UPDATE a, b SET a.v = b.v WHERE a.id = b.id', 'app'), undefined);
  assert.equal(dmlTable('DELETE a FROM a JOIN b ON a.id = b.id', 'app'), undefined);
  assert.equal(dmlTable('UPDATE t AS x SET v = 1', 'app'), undefined);
});
