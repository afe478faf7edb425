/**
 * End to end on real servers: random inserts, updates (including primary-key changes) and deletes
 * over several tables in multi-statement transactions; afterwards the target equals the source.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { checksum, Cluster, dumpTable, waitFor } from '../support/cluster.js';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { prng } from '../support/prng.js';

const TABLES = ['shop.orders', 'shop.items', 'shop.customers'];
const DDL = (t: string) => `CREATE TABLE ${t} (id INT PRIMARY KEY, qty INT NOT NULL, note VARCHAR(100), price DECIMAL(12,2), updated DATETIME(6))`;

let cluster: Cluster;
let src: Connection;
let dst: Connection;

before(async () => {
  cluster = await Cluster.start({ name: 'sync' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE shop');
    for (const t of TABLES) await c.query(DDL(t));
  }
  const out = await cluster.runPipelines(`pipelines:
  - id: shop
    source: src
    target: dst
    start: current
    tables:
${TABLES.map((t) => `      - source: ${t}`).join('\n')}
    batch: { maxRows: 500, maxWaitMs: 100 }
`);
  assert.match(out, /shop: started/);
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

test('random transactions over three tables arrive exactly, in order', async () => {
  const rand = prng(42);
  const live = new Map<string, Set<number>>(TABLES.map((t) => [t, new Set()]));
  let nextId = 1;
  let statements = 0;
  for (let tx = 0; tx < 300; tx++) {
    await src.query('BEGIN');
    const n = 1 + Math.floor(rand() * 6);
    for (let i = 0; i < n; i++) {
      const t = TABLES[Math.floor(rand() * TABLES.length)];
      const ids = live.get(t)!;
      const pick = () => [...ids][Math.floor(rand() * ids.size)];
      const r = rand();
      if (r < 0.5 || ids.size < 3) {
        const id = nextId++;
        await src.query(`INSERT INTO ${t} VALUES (?, ?, ?, ?, NOW(6))`, [id, Math.floor(rand() * 100), `n${id}`, (rand() * 1000).toFixed(2)]);
        ids.add(id);
      } else if (r < 0.75) {
        await src.query(`UPDATE ${t} SET qty = qty + 1, note = CONCAT(note, 'u'), updated = NOW(6) WHERE id = ?`, [pick()]);
      } else if (r < 0.85) {
        const old = pick();
        const id = nextId++;
        await src.query(`UPDATE ${t} SET id = ? WHERE id = ?`, [id, old]);
        ids.delete(old);
        ids.add(id);
      } else {
        const id = pick();
        await src.query(`DELETE FROM ${t} WHERE id = ?`, [id]);
        ids.delete(id);
      }
      statements++;
    }
    await src.query('COMMIT');
  }
  // A multi-row statement touching many rows at once, in one transaction with a delete.
  await src.query('BEGIN');
  await src.query('UPDATE shop.orders SET qty = qty * 2');
  await src.query('DELETE FROM shop.items WHERE qty < 20');
  await src.query('COMMIT');

  for (const t of TABLES) {
    const want = await dumpTable(src, t);
    await waitFor(`${t} to match`, async () => JSON.stringify(await dumpTable(dst, t)) === JSON.stringify(want), 90_000);
    assert.equal(await checksum(dst, t), await checksum(src, t), `CHECKSUM TABLE ${t}`);
  }
  const status = await pipelineStatus(cluster.client, 'shop');
  assert.equal(status.state, 'running');
  assert.equal(status.batchesInFlight, 0);
  const [cp] = await dst.query('SELECT seq FROM seaotter.seaotter_checkpoint WHERE pipeline = ?', ['shop']);
  assert.equal(Number((cp as { seq: number }[])[0].seq), status.committedSeq, 'checkpoint seq = committed seq');
  assert.ok(status.committedSeq >= 2, `several batches (${status.committedSeq})`);
  // The rows above came through capture's own binlog thread (the default; activities/capture/binlog-thread.ts).
  const log = readFileSync(cluster.workers[0]!.logFile, 'utf8');
  assert.match(log, /binlog stream opened[^}]*decodedOn: 'a thread of its own'/);
  console.log(`synced ${statements} statements in 300 transactions as ${status.committedSeq} batches, ${status.rowsApplied} row changes`);
});
