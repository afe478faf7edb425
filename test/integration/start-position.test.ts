/**
 * Where a new pipeline starts: at a GTID, or at a binlog file and offset. Rows written before that
 * point are the user's initial copy (made here by hand on the target); only later changes flow.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { checksum, Cluster, dumpTable, waitFor } from '../support/cluster.js';

let cluster: Cluster;
let src: Connection;
let dst: Connection;

before(async () => {
  cluster = await Cluster.start({ name: 'start' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE app');
    await c.query('CREATE TABLE app.a (id INT PRIMARY KEY, v VARCHAR(20))');
    await c.query('CREATE TABLE app.b (id INT PRIMARY KEY, v VARCHAR(20))');
  }
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

async function startPipeline(id: string, table: string, start: string): Promise<void> {
  const out = await cluster.runPipelines(`pipelines:
  - id: ${id}
    source: src
    target: dst
    start: ${start}
    tables:
      - source: ${table}
`);
  assert.match(out, new RegExp(`${id}: started`));
}

test('start at a GTID: earlier transactions are not replayed, later ones arrive', async () => {
  // The "initial copy": rows 1-3 exist on both sides; a change to row 1 before the start point
  // must not be replayed (the target keeps the copied value for it only if the copy was taken then).
  await src.query("INSERT INTO app.a VALUES (1,'one'),(2,'two'),(3,'three')");
  await dst.query("INSERT INTO app.a VALUES (1,'one'),(2,'two'),(3,'three')");
  const [[pos]] = (await src.query('SELECT @@gtid_binlog_pos AS g')) as unknown as [{ g: string }[]];
  await src.query("INSERT INTO app.a VALUES (4,'four')");
  await src.query("UPDATE app.a SET v = 'uno' WHERE id = 1");
  await src.query('DELETE FROM app.a WHERE id = 2');
  await startPipeline('bygtid', 'app.a', `{ gtid: "${pos.g}" }`);
  const want = await dumpTable(src, 'app.a');
  await waitFor('app.a in sync', async () => JSON.stringify(await dumpTable(dst, 'app.a')) === JSON.stringify(want), 60_000);
  assert.equal(await checksum(dst, 'app.a'), await checksum(src, 'app.a'));
});

test('start at a binlog file and offset', async () => {
  await src.query("INSERT INTO app.b VALUES (1,'x'),(2,'y')");
  await dst.query("INSERT INTO app.b VALUES (1,'x'),(2,'y')");
  // A row only on the target that a replay from the beginning would delete: it must stay.
  await dst.query("INSERT INTO app.b VALUES (99,'target only')");
  const [[st]] = (await src.query('SHOW MASTER STATUS')) as unknown as [{ File: string; Position: number }[]];
  await src.query("INSERT INTO app.b VALUES (3,'z')");
  await src.query("UPDATE app.b SET v = 'yy' WHERE id = 2");
  await startPipeline('byfile', 'app.b', `{ file: ${st.File}, pos: ${st.Position} }`);
  await waitFor('row 3 arrives', async () => (await dumpTable(dst, 'app.b')).length === 4, 60_000);
  await waitFor('row 2 updated', async () => (await dumpTable(dst, 'app.b')).includes('[2,"yy"]'), 30_000);
  const rows = await dumpTable(dst, 'app.b');
  assert.deepEqual(rows, ['[1,"x"]', '[2,"yy"]', '[3,"z"]', '[99,"target only"]']);
});
