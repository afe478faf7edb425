/**
 * Query events inside a row-based binlog that capture must not take for what they are not:
 * - a SAVEPOINT inside a transaction does not end it (a batch never ends mid-transaction);
 * - row changes of a mapped table logged as a statement (a session with binlog_format=STATEMENT)
 *   halt the pipeline, named, instead of being skipped; another table's are let be;
 * - an XA transaction that changed mapped rows halts the pipeline: its rows are never applied
 *   before its outcome (here XA ROLLBACK) is known;
 * - while only other tables are written, empty batches carry the position to the target's
 *   checkpoint (batch.idleAdvanceSeconds), so a restart does not resume in a purged binlog;
 * - YEAR 0000 arrives as it is (the decoder gives 1900), the invalid ENUM value '' reaches the load
 *   (the decoder gives nothing, which could not be staged);
 * - a FLOAT arrives as the decimal the source holds (1.1), not widened to a double (1.100000023841858);
 *   a FLOAT in the table's key keeps its exact value, which the target matches deletes by.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { SA_ROWS } from '../../workflows/messages.js';
import { Cluster, dumpTable, waitFor } from '../support/cluster.js';

let cluster: Cluster;
let src: Connection;
let dst: Connection;

before(async () => {
  cluster = await Cluster.start({ name: 'capture-edges' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE app');
    for (const t of ['sp', 'st', 'xa', 'other']) await c.query(`CREATE TABLE app.${t} (id INT PRIMARY KEY, v VARCHAR(20))`);
    await c.query("CREATE TABLE app.vals (id INT PRIMARY KEY, y YEAR NULL, e ENUM('a','b') NULL)");
    await c.query('CREATE TABLE app.quiet (id INT PRIMARY KEY)');
  }
  // A FLOAT at the source, a DOUBLE at the target (as an Oracle NUMBER would be).
  await src.query('CREATE TABLE app.flt (id INT PRIMARY KEY, f FLOAT NULL)');
  await dst.query('CREATE TABLE app.flt (id INT PRIMARY KEY, f DOUBLE NULL)');
  // A FLOAT key (matched on the target as a double), and a FLOAT beside it.
  await src.query('CREATE TABLE app.fltkey (k FLOAT PRIMARY KEY, f FLOAT NULL)');
  await dst.query('CREATE TABLE app.fltkey (k FLOAT PRIMARY KEY, f DOUBLE NULL)');
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

async function run(id: string, table: string, batch = 'maxRows: 2, maxWaitMs: 20'): Promise<void> {
  await cluster.runPipelines(`pipelines:
  - id: ${id}
    source: src
    target: dst
    start: current
    batch: { ${batch} }
    tables:
      - source: ${table}
`);
}

/** The pipeline's status once it has halted. */
const haltedStatus = (id: string) =>
  waitFor('halted', async () => {
    const s = await pipelineStatus(cluster.client, id);
    return s.state === 'halted' && s;
  }, 60_000);

const inSync = (table: string) => waitFor(`${table} in sync`, async () => JSON.stringify(await dumpTable(dst, table)) === JSON.stringify(await dumpTable(src, table)), 60_000);

test('a SAVEPOINT inside a transaction does not end it: its 6 rows load in one batch though maxRows is 2', async () => {
  await run('sp', 'app.sp');
  await src.query('BEGIN');
  await src.query("INSERT INTO app.sp VALUES (1,'a'),(2,'b'),(3,'c')");
  await src.query('SAVEPOINT s1');
  await src.query("INSERT INTO app.sp VALUES (4,'d'),(5,'e')");
  await src.query('SAVEPOINT s2');
  await src.query("INSERT INTO app.sp VALUES (99,'rolled back')");
  await src.query('ROLLBACK TO SAVEPOINT s2');
  await src.query("INSERT INTO app.sp VALUES (6,'f')");
  await src.query('RELEASE SAVEPOINT s1');
  await src.query('COMMIT');
  await inSync('app.sp');
  const rows: number[] = [];
  for await (const w of cluster.client.workflow.list({ query: `SeaotterPipeline = 'sp' AND WorkflowType = 'syncBatchWorkflow'` })) {
    rows.push(Number(w.typedSearchAttributes.get(SA_ROWS) ?? 0));
  }
  assert.deepEqual(rows.filter((n) => n > 0), [6], 'one batch of the whole transaction');
  assert.deepEqual((await dumpTable(dst, 'app.sp')).length, 6);
});

test("row changes logged as a statement halt the pipeline, named; another table's are let be", async () => {
  await run('st', 'app.st');
  await src.query("INSERT INTO app.st VALUES (1,'row')");
  await inSync('app.st');
  const session = await cluster.source.connect();
  await session.query("SET SESSION binlog_format = 'STATEMENT'");
  // Not the pipeline's table: nothing to say.
  await session.query("INSERT INTO app.other VALUES (1,'statement')");
  await src.query("INSERT INTO app.st VALUES (2,'row')");
  await inSync('app.st');
  assert.equal((await pipelineStatus(cluster.client, 'st')).state, 'running');
  // The pipeline's table, as a statement: its change cannot be captured, so the pipeline halts.
  await session.query("UPDATE app.st SET v = 'statement' WHERE id = 1");
  await session.end();
  const halted = await haltedStatus('st');
  assert.match(halted.lastError?.message ?? '', /row changes of app\.st were logged as a statement/);
  assert.deepEqual(await dumpTable(dst, 'app.st'), ['[1,"row"]', '[2,"row"]']);
});

test('an XA transaction that changed mapped rows halts the pipeline; its rows (rolled back) never load', async () => {
  await run('xa', 'app.xa');
  await src.query("INSERT INTO app.xa VALUES (1,'before')");
  await inSync('app.xa');
  const session = await cluster.source.connect();
  await session.query("XA START 'x1'");
  await session.query("INSERT INTO app.xa VALUES (2,'in xa')");
  await session.query("XA END 'x1'");
  await session.query("XA PREPARE 'x1'");
  await session.query("XA ROLLBACK 'x1'");
  await session.end();
  const halted = await haltedStatus('xa');
  assert.match(halted.lastError?.message ?? '', /an XA transaction changed 1 row\(s\) of the pipeline's tables/);
  assert.deepEqual(await dumpTable(dst, 'app.xa'), ['[1,"before"]']);
});

test("YEAR 0000 arrives as it is; an ENUM's invalid value '' reaches the load, which a strict target refuses, halting", async () => {
  await run('vals', 'app.vals');
  const session = await cluster.source.connect();
  await session.query("SET SESSION sql_mode = ''");
  await session.query("INSERT INTO app.vals VALUES (1, 0000, 'a'), (2, 2024, 'b'), (3, NULL, NULL), (4, 1901, 'a')");
  await inSync('app.vals');
  assert.deepEqual(await dumpTable(dst, 'app.vals'), ['[1,0,"a"]', '[2,2024,"b"]', '[3,null,null]', '[4,1901,"a"]']);
  // Not a member: stored as the invalid value '' (index 0). The decoder gives nothing for it,
  // which capture could not stage (every retry failed the same way); now '' travels, and the
  // target, in strict mode, refuses it: a visible halt, not a load retried forever.
  await session.query("UPDATE app.vals SET e = 'x' WHERE id = 2");
  await session.end();
  const halted = await haltedStatus('vals');
  assert.match(halted.lastError?.message ?? '', /Data truncated for column 'e'/);
  assert.equal(halted.committedSeq >= 1, true);
});

test('a FLOAT arrives as the decimal the source holds: into a DOUBLE it loads as 1.1, not 1.100000023841858', async () => {
  await run('flt', 'app.flt');
  await src.query('INSERT INTO app.flt VALUES (1, 1.1), (2, 0.1), (3, 123456.7), (4, -3.40282e38), (5, NULL), (6, 0)');
  await src.query('UPDATE app.flt SET f = 2.2 WHERE id = 2');
  await src.query('INSERT INTO app.flt VALUES (7, 7)');
  await waitFor('flt rows', async () => (await dumpTable(dst, 'app.flt')).length === 7, 60_000);
  assert.deepEqual(await dumpTable(dst, 'app.flt'), ['[1,1.1]', '[2,2.2]', '[3,123456.7]', '[4,-3.40282e+38]', '[5,null]', '[6,0]', '[7,7]']);
});

test('a FLOAT key keeps its exact value, so deletes and key changes find their rows; the FLOAT beside it is shortened', async () => {
  await run('fltkey', 'app.fltkey');
  await src.query('INSERT INTO app.fltkey VALUES (1.1, 1.1), (2.5, 0.3), (3.3, 3.3)');
  await src.query('DELETE FROM app.fltkey WHERE f > 1 AND f < 2');
  await src.query('UPDATE app.fltkey SET k = 4.4 WHERE f > 3');
  await src.query('INSERT INTO app.fltkey VALUES (7, 7)');
  await waitFor('fltkey rows', async () => (await dumpTable(dst, 'app.fltkey', 'k')).some((r) => r.startsWith('[7,')), 60_000);
  const [rows] = await dst.query('SELECT COUNT(*) AS n FROM app.fltkey');
  assert.equal(Number((rows as { n: number }[])[0]!.n), 3, 'the deleted row and the old key are gone');
  const [f] = await dst.query('SELECT f FROM app.fltkey ORDER BY k');
  assert.deepEqual((f as { f: number }[]).map((r) => r.f), [0.3, 3.3, 7]);
});

test("while only other tables are written, empty batches carry the position to the target's checkpoint", async () => {
  await run('idle', 'app.quiet', 'maxRows: 2, maxWaitMs: 20, idleAdvanceSeconds: 1');
  await src.query('INSERT INTO app.quiet VALUES (1)');
  await inSync('app.quiet');
  const [[{ pos: afterRow }]] = (await src.query('SELECT @@gtid_binlog_pos AS pos')) as unknown as [{ pos: string }[]];
  // Only another table is written from here on.
  for (let i = 10; i < 20; i++) await src.query('INSERT INTO app.other VALUES (?, ?)', [i, 'busy']);
  const [[{ pos: now }]] = (await src.query('SELECT @@gtid_binlog_pos AS pos')) as unknown as [{ pos: string }[]];
  assert.notEqual(now, afterRow);
  await waitFor('the checkpoint at the binlog position of the last write', async () => {
    const [rows] = await dst.query('SELECT position FROM seaotter.seaotter_checkpoint WHERE pipeline = ?', ['idle']);
    return String((rows as { position: string }[])[0]?.position ?? '').endsWith(`gtid ${now}`);
  }, 30_000, 250);
  const empty: number[] = [];
  for await (const w of cluster.client.workflow.list({ query: `SeaotterPipeline = 'idle' AND WorkflowType = 'syncBatchWorkflow'` })) {
    if (Number(w.typedSearchAttributes.get(SA_ROWS) ?? -1) === 0) empty.push(1);
  }
  assert.ok(empty.length >= 1, 'an empty batch carried it');
  assert.deepEqual(await dumpTable(dst, 'app.quiet'), ['[1]']);
});
