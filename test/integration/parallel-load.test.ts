/**
 * load.mode parallel: rows split by primary-key hash over several connections, the checkpoint
 * after all parts. The target ends equal to the source under a write load; parts that get in
 * each other's way fall back to one atomic transaction: proven on the writer itself (a foreign
 * key, with checks on), and end to end with parts that deadlock on the target.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool, type Connection } from 'mysql2/promise';
import { writeParts } from '../../activities/load/parallel-load.js';
import { partOfKey } from '../../lib/partition.js';
import { Cluster, checksum, dumpTable, waitFor } from '../support/cluster.js';
import { assertWorkloadInSync, createWorkloadSchema, Workload, WORKLOAD_TABLES } from '../support/workload.js';

let cluster: Cluster;
let src: Connection;
let dst: Connection;

before(async () => {
  cluster = await Cluster.start({ name: 'parallel' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  await createWorkloadSchema(src, dst);
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE IF NOT EXISTS par');
    await c.query('CREATE TABLE par.contended (id INT PRIMARY KEY, v INT NOT NULL)');
    await c.query('CREATE TABLE par.uniq (id INT PRIMARY KEY, email VARCHAR(40) NOT NULL UNIQUE)');
  }
  await dst.query('CREATE DATABASE IF NOT EXISTS fk');
  await dst.query('CREATE TABLE fk.parent (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)');
  await cluster.runPipelines(`pipelines:
  - id: par
    source: src
    target: dst
    tables:
${WORKLOAD_TABLES.map((t) => `      - source: ${t}`).join('\n')}
      - source: par.contended
      - source: par.uniq
    batch: { maxRows: 400, maxWaitMs: 100 }
    load: { mode: parallel, parallelism: 4 }
`);
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

/** How each committed batch was written, from the batch workflows' results. */
async function writtenAs(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const w of cluster.client.workflow.list({ query: `WorkflowType = 'syncBatchWorkflow' AND ExecutionStatus = 'Completed'` })) {
    const r = (await cluster.client.workflow.getHandle(w.workflowId, w.runId).result()) as { writtenAs?: string };
    counts.set(r.writtenAs ?? 'none', (counts.get(r.writtenAs ?? 'none') ?? 0) + 1);
  }
  return counts;
}

test('under a write load, parallel parts leave the target equal to the source, nothing applied twice', async () => {
  const w = new Workload(src, 2);
  w.start();
  await new Promise((r) => setTimeout(r, 8000));
  await w.stop();
  assert.ok(w.transactions > 100, `${w.transactions} transactions written`);
  await assertWorkloadInSync(src, dst, undefined, cluster);
  const how = await writtenAs();
  assert.ok((how.get('parallel') ?? 0) > 0, `some batches written in parallel: ${JSON.stringify([...how])}`);
});

test('a batch touching a table with another unique key loads atomically (its binlog order is not safe to apply twice)', async () => {
  await src.query("INSERT INTO par.uniq VALUES (1, 'b')");
  await waitFor('row 1', async () => (await dumpTable(dst, 'par.uniq')).length === 1, 60_000);
  // Replayed over its own result, this transaction would collide on email: (2,'a') meets row 1's 'a'.
  await src.query('BEGIN');
  await src.query("INSERT INTO par.uniq VALUES (2, 'a')");
  await src.query("UPDATE par.uniq SET email = 'c' WHERE id = 2");
  await src.query("UPDATE par.uniq SET email = 'a' WHERE id = 1");
  await src.query('COMMIT');
  const want = await dumpTable(src, 'par.uniq');
  await waitFor('par.uniq equal', async () => JSON.stringify(await dumpTable(dst, 'par.uniq')) === JSON.stringify(want), 60_000);
  assert.equal(await checksum(dst, 'par.uniq'), await checksum(src, 'par.uniq'));
  let last: { writtenAs?: string; rowsApplied?: number } | undefined;
  for await (const w of cluster.client.workflow.list({ query: `WorkflowType = 'syncBatchWorkflow' AND ExecutionStatus = 'Completed'` })) {
    const r = (await cluster.client.workflow.getHandle(w.workflowId, w.runId).result()) as { seq: number; writtenAs?: string; rowsApplied?: number };
    if (!last || r.seq > (last as { seq: number }).seq) last = r;
  }
  assert.equal(last?.writtenAs, 'atomic', JSON.stringify(last));
});

test('a part refused for a foreign key makes the writer report a conflict; no other error hides', async () => {
  await dst.query('CREATE TABLE fk.lone (id INT PRIMARY KEY, parent_id INT NOT NULL, FOREIGN KEY (parent_id) REFERENCES fk.parent (id))');
  const pool = createPool({ host: '127.0.0.1', port: cluster.target.port, user: cluster.target.user, password: cluster.target.password, connectionLimit: 4 });
  try {
    const ok = [{ kind: 'query' as const, sql: 'INSERT INTO fk.parent (id, name) VALUES (?, ?)', params: [900_001, 'p'] }];
    const orphan = [{ kind: 'query' as const, sql: 'INSERT INTO fk.lone (id, parent_id) VALUES (?, ?)', params: [1, 999_999] }];
    const outcome = await writeParts(pool, [ok, orphan], () => undefined);
    assert.equal(outcome.kind, 'conflict');
    const [rows] = await dst.query('SELECT COUNT(*) AS n FROM fk.lone');
    assert.equal(Number((rows as { n: number }[])[0].n), 0, 'the refused part rolled back');
    const bad = [{ kind: 'query' as const, sql: 'INSERT INTO fk.nowhere (id) VALUES (1)', params: [] }];
    await assert.rejects(writeParts(pool, [ok, bad], () => undefined), /nowhere/, 'a missing table is not a conflict');
  } finally {
    await dst.query('DELETE FROM fk.parent WHERE id = 900001');
    await dst.query('DROP TABLE fk.lone');
    await pool.end();
  }
});

test('parts that deadlock on the target fall back to one atomic transaction; the target ends equal', async () => {
  // A target-only trigger makes rows with odd and even ids take two shared rows in opposite
  // order, with a pause between: two parts writing such rows at the same time must deadlock.
  await dst.query('CREATE TABLE par.hits (id INT PRIMARY KEY, n INT NOT NULL)');
  await dst.query('INSERT INTO par.hits VALUES (1, 0), (2, 0)');
  await dst.query(`CREATE TRIGGER par.contend BEFORE INSERT ON par.contended FOR EACH ROW BEGIN
    IF NEW.id % 2 = 1 THEN UPDATE par.hits SET n = n + 1 WHERE id = 1; DO SLEEP(0.3); UPDATE par.hits SET n = n + 1 WHERE id = 2;
    ELSE UPDATE par.hits SET n = n + 1 WHERE id = 2; DO SLEEP(0.3); UPDATE par.hits SET n = n + 1 WHERE id = 1; END IF; END`);
  // Pairs of one odd and one even id that the hash puts in different parts.
  const pairs: [number, number][] = [];
  for (let odd = 1; pairs.length < 5; odd += 2) {
    const even = odd + 1001;
    if (partOfKey([odd], 4) !== partOfKey([even], 4)) pairs.push([odd, even]);
  }
  for (const [odd, even] of pairs) await src.query('INSERT INTO par.contended VALUES (?, ?), (?, ?)', [odd, 1, even, 2]);
  await src.query('UPDATE par.contended SET v = v * 10');
  const want = await dumpTable(src, 'par.contended');
  await waitFor('par.contended in sync', async () => JSON.stringify(await dumpTable(dst, 'par.contended')) === JSON.stringify(want), 120_000, 300);
  assert.equal(await checksum(dst, 'par.contended'), await checksum(src, 'par.contended'));
  const how = await writtenAs();
  assert.ok((how.get('parallel, fell back to atomic') ?? 0) > 0, `some batches fell back: ${JSON.stringify([...how])}`);
});
