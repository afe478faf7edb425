/**
 * A source that folds table names (lower_case_table_names=1, as Windows and macOS servers and
 * many migrated ones run): its binlog's rows say `app.items`, while the statements its users
 * write say `App.Items`. DDL naming the table in any case is replayed on the target (it was
 * taken for another table's and skipped, and the rows after it then halted on a column the
 * target lacked), and row changes logged as a statement halt whatever case they name it in.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { checksum, Cluster, dumpTable, waitFor } from '../support/cluster.js';

let cluster: Cluster;
let src: Connection;
let dst: Connection;

before(async () => {
  cluster = await Cluster.start({ name: 'names', sourceArgs: ['--lower-case-table-names=1'] });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  await src.query('CREATE DATABASE App');
  await src.query('CREATE TABLE App.Items (id INT PRIMARY KEY, a INT NOT NULL)');
  await dst.query('CREATE DATABASE app_us');
  await dst.query('CREATE TABLE app_us.items (id INT PRIMARY KEY, a INT NOT NULL)');
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

async function layout(conn: Connection, schema: string, table: string): Promise<string[]> {
  const [rows] = await conn.query('SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [schema, table]);
  return (rows as Record<string, unknown>[]).map((r) => Object.values(r).join(' '));
}

test('lower_case_table_names=1: DDL naming App.Items in any case is replayed; rows after it load', async () => {
  const [[lctn]] = (await src.query('SELECT @@lower_case_table_names AS n')) as unknown as [{ n: number }[]];
  assert.equal(Number(lctn!.n), 1);
  await cluster.runPipelines(`pipelines:
  - id: folded
    source: src
    target: dst
    start: current
    ddl: apply
    tables: [{ source: app.items, target: app_us.items }]
`);
  await src.query('INSERT INTO App.Items VALUES (1, 10), (2, 20)');
  await src.query('ALTER TABLE App.Items ADD COLUMN Note VARCHAR(20) NULL');
  await src.query("INSERT INTO APP.ITEMS VALUES (3, 30, 'three')");
  await src.query('USE App');
  await src.query('ALTER TABLE ITEMS ADD COLUMN n2 INT NULL');
  await src.query("UPDATE Items SET n2 = id * 2, Note = 'x' WHERE id < 3");
  const want = await dumpTable(src, 'app.items');
  await waitFor('app_us.items equal to app.items', async () => {
    const st = await pipelineStatus(cluster.client, 'folded');
    if (st.state === 'halted') throw new Error(`halted: ${st.lastError?.message}`);
    return JSON.stringify(await dumpTable(dst, 'app_us.items')) === JSON.stringify(want);
  }, 90_000, 300);
  assert.deepEqual(await layout(dst, 'app_us', 'items'), ['id int(11)', 'a int(11)', 'Note varchar(20)', 'n2 int(11)']);
  assert.equal(await checksum(dst, 'app_us.items'), await checksum(src, 'app.items'));
});

test('lower_case_table_names=1: row changes of App.Items logged as a statement halt the pipeline, named', async () => {
  const session = await cluster.source.connect();
  await session.query("SET SESSION binlog_format = 'STATEMENT'");
  await session.query('UPDATE App.Items SET a = a + 1 WHERE id = 1');
  await session.end();
  const halted = await waitFor('folded halted', async () => {
    const st = await pipelineStatus(cluster.client, 'folded');
    return st.state === 'halted' ? st : null;
  }, 60_000, 300);
  assert.match(halted.lastError?.message ?? '', /row changes of app\.items were logged as a statement/i);
});
