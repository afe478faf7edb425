/** Which DDL statements would undo themselves when run a second time (lib/ddl/replay.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replayUndoes } from '../../lib/ddl/replay.js';

test('swaps undo themselves when run again; renames, chains and everything else fail instead (which says they ran)', () => {
  const cases: [string, boolean][] = [
    ['RENAME TABLE `x`.`a` TO `x`.`tmp`, `x`.`b` TO `x`.`a`, `x`.`tmp` TO `x`.`b`', true],
    ['RENAME TABLE `x`.`a` TO `x`.`b`', false],
    ['RENAME TABLE `x`.`a` TO `x`.`b`, `x`.`b` TO `x`.`c`', false],
    ['RENAME TABLE `x`.`a` TO `x`.`a_old`, `x`.`a_new` TO `x`.`a`', false],
    ['ALTER TABLE `x`.`t` RENAME COLUMN a TO b, RENAME COLUMN b TO a', true],
    ['ALTER TABLE `x`.`t` CHANGE a b INT, CHANGE COLUMN b a INT', true],
    ['ALTER TABLE `x`.`t` RENAME COLUMN a TO b', false],
    ['ALTER TABLE `x`.`t` RENAME COLUMN a TO b, RENAME COLUMN b TO c', false],
    ['ALTER TABLE `x`.`t` CHANGE a a BIGINT', false],
    ['ALTER TABLE `x`.`t` ADD COLUMN c INT', false],
    ['TRUNCATE TABLE `x`.`t`', false],
    ['CREATE DATABASE y', false],
  ];
  for (const [sql, undoes] of cases) assert.equal(replayUndoes(sql), undoes, sql);
});
