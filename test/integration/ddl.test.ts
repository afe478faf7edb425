/**
 * DDL in the binlog, against real servers: with `ddl: apply`, columns added, dropped and reordered
 * under a write load and in a backlog read after the fact (worker stopped) reach a target schema
 * with another name, rows and layout equal to the source; CREATE / RENAME / TRUNCATE / DROP of
 * tables a regex rule maps; DDL that cannot be mapped halts with the statement in `lastError`;
 * with `ddl: skip` a column the target lacks halts the pipeline until the target has it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { ddlLockName } from '../../activities/load/ddl-apply.js';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { checksum, Cluster, dumpTable, waitFor } from '../support/cluster.js';
import { retryDeadlocks } from '../support/deadlock.js';

let cluster: Cluster;
const PIPELINES = `pipelines:
  - id: live
    source: src
    target: dst
    tables: [{ source: app.items, target: app_us.items }]
    ddl: apply
  - id: logs
    source: src
    target: dst
    tables: [{ source: "app\\\\.log_(\\\\d+)", target: "app_us.log_$1" }]
    ddl: apply
  - id: people
    source: src
    target: dst
    tables: [{ source: app.people, target: app_us.people, columns: { exclude: [secret] } }]
    ddl: apply
  - id: skips
    source: src
    target: dst
    tables: [{ source: app.plain, target: app_us.plain }]
    ddl: skip
  - id: skiplogs
    source: src
    target: dst
    tables: [{ source: "app\\\\.slog_(\\\\d+)", target: "app_us.slog_$1" }]
    ddl: skip
  - id: mismatch
    source: src
    target: dst
    tables: [{ source: app.mm, target: app_us.mm }]
    ddl: apply
`;
let src: Connection;
let dst: Connection;

before(async () => {
  cluster = await Cluster.start({ name: 'ddl' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  await src.query('CREATE DATABASE app');
  await dst.query('CREATE DATABASE app_us');
  const tables = [
    'items (id INT AUTO_INCREMENT PRIMARY KEY, a INT NOT NULL, b VARCHAR(20) DEFAULT NULL)',
    'log_1 (id INT PRIMARY KEY, msg VARCHAR(50))',
    'people (id INT PRIMARY KEY, name VARCHAR(20), secret VARCHAR(20))',
    'plain (id INT PRIMARY KEY, v INT)',
    'slog_1 (id INT PRIMARY KEY)',
    'mm (id INT PRIMARY KEY)',
  ];
  for (const t of tables) await src.query(`CREATE TABLE app.${t}`);
  for (const t of tables) await dst.query(`CREATE TABLE app_us.${t.replace(', secret VARCHAR(20)', '')}`);
  await cluster.runPipelines(PIPELINES);
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

/** Column names, types, nullability and defaults in table order. */
async function layout(conn: Connection, schema: string, table: string): Promise<string[]> {
  const [rows] = await conn.query(
    'SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [schema, table],
  );
  return (rows as Record<string, unknown>[]).map((r) => Object.values(r).join(' '));
}

async function assertSame(table: string, timeoutMs = 180_000): Promise<void> {
  const want = await dumpTable(src, `app.${table}`);
  const wantLayout = await layout(src, 'app', table);
  await waitFor(`app_us.${table} equal to app.${table}`, async () => {
    const same = JSON.stringify(await layout(dst, 'app_us', table)) === JSON.stringify(wantLayout);
    return same && JSON.stringify(await dumpTable(dst, `app_us.${table}`)) === JSON.stringify(want);
  }, timeoutMs, 300);
  assert.equal(await checksum(dst, `app_us.${table}`), await checksum(src, `app.${table}`));
}

/** Small transactions on app.items until stopped; survives the table's layout changing under it. */
function writeItems(conn: Connection): { stop(): Promise<number> } {
  let running = true;
  let n = 0;
  const done = (async () => {
    while (running) {
      await retryDeadlocks(async () => {
        await conn.query('BEGIN');
        try {
          await conn.query('INSERT INTO app.items (a) VALUES (?), (?)', [n, n + 1]);
          await conn.query('UPDATE app.items SET a = a + 100 WHERE id = ?', [1 + (n % 50)]);
          if (n % 7 === 3) await conn.query('DELETE FROM app.items WHERE id = ?', [1 + ((n * 13) % 60)]);
          await conn.query('COMMIT');
        } catch (err) {
          await conn.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      });
      n++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return n;
    },
  };
}

test('ddl: apply — columns added, dropped and reordered under a write load reach the renamed target schema', async () => {
  const writer = writeItems(await cluster.source.connect());
  const alters = [
    "ALTER TABLE app.items ADD COLUMN c VARCHAR(10) NOT NULL DEFAULT 'c0'",
    'ALTER TABLE app.items DROP COLUMN b',
    'ALTER TABLE app.items MODIFY COLUMN a INT NOT NULL AFTER c',
    'ALTER TABLE app.items ADD COLUMN d DECIMAL(8,2) NULL FIRST',
  ];
  const ddlConn = await cluster.source.connect();
  try {
    for (const sql of alters) {
      await new Promise((r) => setTimeout(r, 700));
      await ddlConn.query(sql);
      await retryDeadlocks(() => ddlConn.query("UPDATE app.items SET c = CONCAT('v', id) WHERE id % 3 = 0 LIMIT 20"));
    }
    await new Promise((r) => setTimeout(r, 700));
  } finally {
    const transactions = await writer.stop();
    await ddlConn.end();
    assert.ok(transactions > 20, `writer ran ${transactions} transactions`);
  }
  await assertSame('items');
  assert.deepEqual((await layout(dst, 'app_us', 'items')).map((c) => c.split(' ')[0]), ['d', 'id', 'c', 'a']);
});

test('ddl: apply — a backlog spanning ADD, DROP and reorder is decoded with the layout each row was written in', async () => {
  await assertSame('items');
  const [w] = cluster.workers;
  await cluster.stopWorker(w);
  try {
    // Written while no worker runs: capture reads all of it later, after the table changed again.
    await src.query("INSERT INTO app.items (id, d, c, a) VALUES (9001, 1.5, 'x1', 1), (9002, 2.5, 'x2', 2)");
    await src.query("ALTER TABLE app.items ADD COLUMN e VARCHAR(10) NOT NULL DEFAULT 'e0' AFTER id");
    await src.query("INSERT INTO app.items (id, e, d, c, a) VALUES (9003, 'e3', 3.5, 'x3', 3)");
    await src.query("UPDATE app.items SET e = 'e1', a = 11 WHERE id = 9001");
    await src.query('ALTER TABLE app.items DROP COLUMN d');
    await src.query("INSERT INTO app.items (id, e, c, a) VALUES (9004, 'e4', 'x4', 4)");
    await src.query("UPDATE app.items SET c = 'y2' WHERE id = 9002");
    // Reorder: same columns, other order — decoding by the current layout would swap e and c.
    await src.query('ALTER TABLE app.items MODIFY COLUMN c VARCHAR(10) NOT NULL DEFAULT \'c0\' AFTER id');
    await src.query("INSERT INTO app.items (id, c, e, a) VALUES (9005, 'x5', 'e5', 5)");
    await src.query("UPDATE app.items SET e = 'e2', c = 'z2' WHERE id = 9002");
    await src.query('DELETE FROM app.items WHERE id = 9003');
    await src.query('ALTER TABLE app.items ADD COLUMN f INT NULL, DROP COLUMN e');
    await src.query('INSERT INTO app.items (id, c, a, f) VALUES (9006, \'x6\', 6, 66)');
  } finally {
    cluster.startWorker();
  }
  await assertSame('items');
  const [rows] = await dst.query('SELECT id, c, a, f FROM app_us.items WHERE id > 9000 ORDER BY id');
  assert.deepEqual(JSON.parse(JSON.stringify(rows)), [
    { id: 9001, c: 'x1', a: 11, f: null },
    { id: 9002, c: 'z2', a: 2, f: null },
    { id: 9004, c: 'x4', a: 4, f: null },
    { id: 9005, c: 'x5', a: 5, f: null },
    { id: 9006, c: 'x6', a: 6, f: 66 },
  ]);
});

test('ddl: apply — a DDL load retried after a crash between the statement and its checkpoint goes on; without its marker it halts', async () => {
  await assertSame('items');
  await cluster.cliOk(['pipeline', 'pause', 'live']);
  const before = await pipelineStatus(cluster.client, 'live');
  await src.query('ALTER TABLE app.items ADD COLUMN g INT NULL');
  const seq = before.committedSeq + 1;
  await waitFor('DDL batch accepted', async () => (await pipelineStatus(cluster.client, 'live')).acceptedSeq === seq);
  // What a crash right after the statement leaves: the column exists and the marker says "started".
  await dst.query('ALTER TABLE app_us.items ADD COLUMN g INT NULL');
  await dst.query('INSERT INTO seaotter.seaotter_ddl (pipeline, seq, statement) VALUES (?, ?, ?)', ['live', seq, 'ALTER TABLE `app_us`.`items` ADD COLUMN g INT NULL']);
  await src.query('INSERT INTO app.items (a, g) VALUES (5, 55)');
  await cluster.cliOk(['pipeline', 'resume', 'live']);
  await assertSame('items');
  const [marker] = await dst.query("SELECT attempts FROM seaotter.seaotter_ddl WHERE pipeline = 'live' AND seq = ?", [seq]);
  assert.deepEqual(JSON.parse(JSON.stringify(marker)), [{ attempts: 2 }], 'the load found the marker and counted its own attempt');

  // The same situation without a marker is a target that does not match the source: halt.
  await cluster.cliOk(['pipeline', 'pause', 'live']);
  await src.query('ALTER TABLE app.items ADD COLUMN h INT NULL');
  await dst.query('ALTER TABLE app_us.items ADD COLUMN h INT NULL');
  await cluster.cliOk(['pipeline', 'resume', 'live']);
  const halted = await waitFor('live halted', async () => {
    const st = await pipelineStatus(cluster.client, 'live');
    return st.state === 'halted' ? st : null;
  }, 90_000, 300);
  assert.match(halted.lastError!.message, /target refused the DDL of batch \d+: ER_DUP_FIELDNAME: Duplicate column name 'h' — in: ALTER TABLE `app_us`.`items` ADD COLUMN h INT NULL/);
  await dst.query('ALTER TABLE app_us.items DROP COLUMN h');
  await cluster.cliOk(['pipeline', 'resume', 'live']);
  await src.query('INSERT INTO app.items (a, h) VALUES (6, 66)');
  await assertSame('items');
});

test('ddl: apply — the statement runs only under the pipeline\'s DDL lock, and an attempt a newer one overtook gives way without running it', async () => {
  await assertSame('items');
  const before = await pipelineStatus(cluster.client, 'live');
  const seq = before.committedSeq + 1;
  // Another session holds the lock, as a previous attempt of the same load still running would.
  const holder = await cluster.target.connect();
  const lock = ddlLockName('seaotter', 'live');
  const [got] = await holder.query('SELECT GET_LOCK(?, 0) AS got', [lock]);
  assert.equal(Number((got as { got: number }[])[0]!.got), 1);
  const marker = async () => {
    const [rows] = await dst.query("SELECT attempts FROM seaotter.seaotter_ddl WHERE pipeline = 'live' AND seq = ?", [seq]);
    return (rows as { attempts: number }[])[0]?.attempts;
  };
  const wantLayout = await layout(dst, 'app_us', 'items');
  await src.query('ALTER TABLE app.items ADD COLUMN k INT NULL');
  // The load took its turn and wrote its marker; then it waits for the lock, the statement not run.
  assert.equal(await waitFor('the DDL batch marked as started', marker, 90_000, 200), 1);
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await layout(dst, 'app_us', 'items'), wantLayout, 'the statement did not run while another session held the lock');
  // A newer attempt of the load counts itself on the marker (as one started after this one was
  // given up on would): when the lock comes free, this one gives way, and the next runs it once.
  await dst.query("UPDATE seaotter.seaotter_ddl SET attempts = attempts + 1 WHERE pipeline = 'live' AND seq = ?", [seq]);
  await holder.query('SELECT RELEASE_LOCK(?)', [lock]);
  await holder.end();
  await src.query('INSERT INTO app.items (a, k) VALUES (7, 77)');
  await assertSame('items');
  assert.equal(await marker(), 3, 'the overtaken attempt gave way; its retry counted itself and ran the statement');
  const st = await pipelineStatus(cluster.client, 'live');
  assert.notEqual(st.state, 'halted');
});

test('ddl: apply — CREATE, RENAME, TRUNCATE and DROP of tables a regex rule maps, onto the renamed schema', async () => {
  await src.query("INSERT INTO app.log_1 VALUES (1, 'one')");
  await src.query('CREATE TABLE app.log_2 (id INT PRIMARY KEY, msg VARCHAR(50), at DATETIME(6) NULL)');
  await src.query("INSERT INTO app.log_2 VALUES (1, 'a', '2024-01-02 03:04:05.123456'), (2, 'b', NULL)");
  await assertSame('log_1');
  await assertSame('log_2');
  await src.query('RENAME TABLE app.log_2 TO app.log_3');
  await src.query("INSERT INTO app.log_3 VALUES (3, 'c', NULL)");
  await assertSame('log_3');
  await waitFor('app_us.log_2 renamed away', async () => (await layout(dst, 'app_us', 'log_2')).length === 0);
  // Unqualified, in the session's schema: the binlog carries it, and the rewrite qualifies it.
  const session = await cluster.source.connect();
  await session.query('USE app');
  await session.query('TRUNCATE TABLE log_3');
  await session.end();
  await src.query("INSERT INTO app.log_3 VALUES (9, 'after truncate', NULL)");
  await assertSame('log_3');
  await src.query('DROP TABLE app.log_3');
  await waitFor('app_us.log_3 dropped', async () => (await layout(dst, 'app_us', 'log_3')).length === 0);
  const s = await pipelineStatus(cluster.client, 'logs');
  assert.equal(s.state, 'running');
  assert.equal(s.lastError, null);
});

/**
 * Runs `write` (a DDL statement, then rows) while the logs pipeline's checkpoint row is held on
 * the target: the DDL's batch waits for its turn while the next batch, the rows', reaches the
 * target. `whileHeld` runs once both are loading and the rows' load has had time to look.
 */
async function behindHeldDdl(write: () => Promise<void>, whileHeld: () => Promise<void> = async () => {}): Promise<void> {
  const holder = await cluster.target.connect();
  await holder.query('BEGIN');
  await holder.query("SELECT * FROM seaotter.seaotter_checkpoint WHERE pipeline = 'logs' FOR UPDATE");
  const before = (await pipelineStatus(cluster.client, 'logs')).acceptedSeq;
  try {
    await write();
    await waitFor('both batches accepted and loading', async () => (await pipelineStatus(cluster.client, 'logs')).acceptedSeq >= before + 2, 60_000, 200);
    await new Promise((r) => setTimeout(r, 2000));
    await whileHeld();
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
}

test('ddl: apply — rows of a table created by the batch before theirs wait for that CREATE to commit, not halt', async () => {
  await behindHeldDdl(
    async () => {
      await src.query('CREATE TABLE app.log_5 (id INT PRIMARY KEY, msg VARCHAR(50))');
      await src.query("INSERT INTO app.log_5 VALUES (1, 'first'), (2, 'second')");
    },
    async () => {
      const st = await pipelineStatus(cluster.client, 'logs');
      assert.equal(st.lastError, null, `not halted while the CREATE waits: ${st.lastError?.message}`);
      assert.deepEqual(await layout(dst, 'app_us', 'log_5'), [], 'the CREATE has not run yet');
    },
  );
  await assertSame('log_5');
  const s = await pipelineStatus(cluster.client, 'logs');
  assert.equal(s.state, 'running');
  assert.equal(s.lastError, null);
});

test('ddl: apply — rows right behind a primary key change are merged and written by the new key', async () => {
  await src.query('CREATE TABLE app.log_6 (id INT NOT NULL, v VARCHAR(10) NOT NULL, PRIMARY KEY (id))');
  await src.query("INSERT INTO app.log_6 VALUES (1, 'x')");
  await assertSame('log_6'); // the worker now knows log_6's key: (id)
  await behindHeldDdl(async () => {
    await src.query('ALTER TABLE app.log_6 DROP PRIMARY KEY, ADD PRIMARY KEY (id, v)');
    // Under the old key these two rows are one; under the new one, two.
    await src.query("INSERT INTO app.log_6 VALUES (1, 'a'), (1, 'b')");
  });
  await assertSame('log_6');
  assert.equal((await dumpTable(dst, 'app_us.log_6')).length, 3);
  assert.equal((await pipelineStatus(cluster.client, 'logs')).lastError, null);
});

test('ddl: apply — DDL on a table with column rules halts with the statement in lastError', async () => {
  await src.query("INSERT INTO app.people VALUES (1, 'ann', 's1')");
  await waitFor('people row 1', async () => (await dumpTable(dst, 'app_us.people')).length === 1);
  await src.query('ALTER TABLE app.people ADD COLUMN age INT');
  const halted = await waitFor('people halted', async () => {
    const st = await pipelineStatus(cluster.client, 'people');
    return st.state === 'halted' ? st : null;
  }, 90_000, 300);
  assert.match(halted.lastError!.message, /cannot be replayed on the target: app\.people has column rules/);
  assert.match(halted.lastError!.message, /statement: ALTER TABLE app\.people ADD COLUMN age INT/);
  assert.deepEqual(await layout(dst, 'app_us', 'people'), ['id int(11) NO ', 'name varchar(20) YES NULL']);
  // The other pipelines of the same source go on.
  await src.query('INSERT INTO app.items (a) VALUES (7)');
  await assertSame('items');

  // The way out: the operator changes the target by hand, stops the pipeline and applies it
  // with ddl: skip; it starts again from the checkpoint and goes past the statement.
  await dst.query('ALTER TABLE app_us.people ADD COLUMN age INT');
  await cluster.cliOk(['pipeline', 'stop', 'people']);
  // `stopped` shows as soon as the signal is taken; apply starts afresh only once the workflow ended.
  const handle = cluster.client.workflow.getHandle('seaotter-pipeline-people');
  await waitFor('people workflow closed', async () => (await handle.describe()).status.name !== 'RUNNING', 60_000, 300);
  await cluster.writeConfig(`${cluster.dataSourcesYaml()}\n${PIPELINES.replace(/(id: people[\s\S]*?)ddl: apply/, '$1ddl: skip')}`);
  assert.match(await cluster.cliOk(['pipeline', 'apply', '--config', cluster.configPath]), /people.*started/);
  await src.query("INSERT INTO app.people VALUES (2, 'bob', 's2', 42)");
  await waitFor('people row 2', async () => JSON.stringify(await dumpTable(dst, 'app_us.people')) === JSON.stringify(['[1,"ann",null]', '[2,"bob",42]']), 60_000, 300);
  assert.equal((await pipelineStatus(cluster.client, 'people')).state, 'running');
});

test('ddl: apply — a statement the target refuses halts, and halts again on a resume without a fix (not taken for a replay)', async () => {
  // The target already has column a: ADD COLUMN a, ADD COLUMN b is refused whole.
  await dst.query('ALTER TABLE app_us.mm ADD COLUMN a INT');
  await src.query('ALTER TABLE app.mm ADD COLUMN a INT, ADD COLUMN b INT');
  const halted = async (after = '') =>
    waitFor('mismatch halted', async () => {
      const st = await pipelineStatus(cluster.client, 'mismatch');
      return st.state === 'halted' && st.lastError!.at !== after ? st : null;
    }, 90_000, 300);
  const first = await halted();
  assert.match(first.lastError!.message, /target refused the DDL of batch \d+: ER_DUP_FIELDNAME/);
  await cluster.cliOk(['pipeline', 'resume', 'mismatch']);
  const again = await halted(first.lastError!.at);
  assert.match(again.lastError!.message, /ER_DUP_FIELDNAME/, 'halted again: nothing taken as already done');
  assert.deepEqual(await layout(dst, 'app_us', 'mm'), ['id int(11) NO ', 'a int(11) YES NULL'], 'b was not silently left out');
  // Fixed on the target, a resume applies it.
  await dst.query('ALTER TABLE app_us.mm DROP COLUMN a');
  await cluster.cliOk(['pipeline', 'resume', 'mismatch']);
  await src.query('INSERT INTO app.mm VALUES (1, 2, 3)');
  await assertSame('mm');
});

test('ddl: apply — a swap retried after a crash between it and its checkpoint is not run again (it would undo itself): it halts', async () => {
  await assertSame('mm');
  await cluster.cliOk(['pipeline', 'pause', 'mismatch']);
  const before = await pipelineStatus(cluster.client, 'mismatch');
  await src.query('ALTER TABLE app.mm RENAME COLUMN a TO b, RENAME COLUMN b TO a');
  const seq = before.committedSeq + 1;
  await waitFor('DDL batch accepted', async () => (await pipelineStatus(cluster.client, 'mismatch')).acceptedSeq === seq);
  // What a crash right after the statement leaves: the target swapped, the marker saying "started".
  const swap = 'ALTER TABLE `app_us`.`mm` RENAME COLUMN a TO b, RENAME COLUMN b TO a';
  await dst.query(swap);
  await dst.query('INSERT INTO seaotter.seaotter_ddl (pipeline, seq, statement) VALUES (?, ?, ?)', ['mismatch', seq, swap]);
  const swapped = await dumpTable(dst, 'app_us.mm');
  await cluster.cliOk(['pipeline', 'resume', 'mismatch']);
  const halted = await waitFor('mismatch halted', async () => {
    const st = await pipelineStatus(cluster.client, 'mismatch');
    return st.state === 'halted' ? st : null;
  }, 90_000, 300);
  assert.match(halted.lastError!.message, /may have run before its load stopped, and running it again would undo it \(it swaps names\)/);
  assert.deepEqual(await dumpTable(dst, 'app_us.mm'), swapped, 'the target was not swapped back');
  // The halting attempt counted itself: an older attempt still waiting for the lock gives way.
  const [marker] = await dst.query("SELECT attempts FROM seaotter.seaotter_ddl WHERE pipeline = 'mismatch' AND seq = ?", [seq]);
  assert.deepEqual(JSON.parse(JSON.stringify(marker)), [{ attempts: 2 }]);
  assert.equal(JSON.stringify(await dumpTable(dst, 'app_us.mm')), JSON.stringify(await dumpTable(src, 'app.mm')));
});

test('ddl: skip — the statement is not replayed; a column the target lacks halts until the target has it', async () => {
  await src.query('INSERT INTO app.plain VALUES (1, 10)');
  await waitFor('plain row 1', async () => (await dumpTable(dst, 'app_us.plain')).length === 1);
  await src.query('ALTER TABLE app.plain ADD COLUMN w VARCHAR(10) NULL');
  await src.query("INSERT INTO app.plain VALUES (2, 20, 'two')");
  const halted = await waitFor('plain halted', async () => {
    const st = await pipelineStatus(cluster.client, 'skips');
    return st.state === 'halted' ? st : null;
  }, 90_000, 300);
  assert.match(halted.lastError!.message, /Unknown column 'w'/);
  assert.deepEqual(await layout(dst, 'app_us', 'plain'), ['id int(11) NO ', 'v int(11) YES NULL'], 'the DDL was not replayed');
  await dst.query('ALTER TABLE app_us.plain ADD COLUMN w VARCHAR(10) NULL');
  await cluster.cliOk(['pipeline', 'resume', 'skips']);
  await assertSame('plain');
  // A column dropped on the source stays on the target; new rows leave it at its default.
  await src.query('ALTER TABLE app.plain DROP COLUMN v');
  await src.query("INSERT INTO app.plain VALUES (3, 'three')");
  await src.query("UPDATE app.plain SET w = 'one' WHERE id = 1");
  await waitFor('plain rows after drop', async () => JSON.stringify(await dumpTable(dst, 'app_us.plain')) === JSON.stringify(['[1,10,"one"]', '[2,20,"two"]', '[3,null,"three"]']), 60_000, 300);
  assert.equal((await pipelineStatus(cluster.client, 'skips')).state, 'running');
});

test('ddl: skip — a table created later that a regex rule matches halts until the target has it', async () => {
  await src.query('CREATE TABLE app.slog_2 (id INT PRIMARY KEY, m VARCHAR(10))');
  await src.query("INSERT INTO app.slog_2 VALUES (1, 'one')");
  const halted = await waitFor('skiplogs halted', async () => {
    const st = await pipelineStatus(cluster.client, 'skiplogs');
    return st.state === 'halted' ? st : null;
  }, 90_000, 300);
  assert.match(halted.lastError!.message, /target table app_us\.slog_2 .* does not exist or has no primary key/);
  await dst.query('CREATE TABLE app_us.slog_2 (id INT PRIMARY KEY, m VARCHAR(10))');
  await cluster.cliOk(['pipeline', 'resume', 'skiplogs']);
  await assertSame('slog_2');
});
