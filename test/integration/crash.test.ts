/**
 * Crashes under load: the worker is killed with SIGKILL repeatedly while the source takes a steady
 * write load, and restarted each time. Afterwards the target equals the source, the checkpoint seq
 * equals the number of batches that ran, and no row was applied twice.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { Cluster, waitFor } from '../support/cluster.js';
import { assertWorkloadInSync, startWorkloadCluster, Workload } from '../support/workload.js';

let cluster: Cluster;
let src: Connection;
let dst: Connection;

before(async () => {
  ({ cluster, src, dst } = await startWorkloadCluster({ name: 'crash', pipeline: 'crash', extraYaml: '    batch: { maxRows: 200, maxWaitMs: 50 }' }));
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

/**
 * Holds a lock on the target's counters so the next load blocks inside its transaction, and
 * resolves once a load is waiting on it: a kill now lands in the middle of a load.
 */
async function blockNextLoad(lockHolder: Connection): Promise<void> {
  await lockHolder.query('BEGIN');
  await lockHolder.query('SELECT * FROM wl.counters FOR UPDATE');
  await waitFor('a load waiting on the lock', async () => {
    const [rows] = await lockHolder.query(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE STATE = 'Update' AND INFO LIKE 'INSERT INTO `wl`.`counters`%'",
    );
    return Number((rows as { n: number }[])[0].n) > 0;
  }, 30_000, 50);
}

test('kill -9 of the worker, six times under load, loses and duplicates nothing', async () => {
  const workload = new Workload(src, 2);
  workload.start();
  const lockHolder = await cluster.target.connect();
  let kills = 0;
  let duringLoad = 0;
  try {
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 1500 + (i % 3) * 700));
      // Every other kill lands inside a load transaction (proved by the load waiting on a lock);
      // the others land wherever the worker happens to be.
      const inLoad = i % 2 === 0;
      if (inLoad) await blockNextLoad(lockHolder);
      const [w] = cluster.workers;
      await cluster.killWorker(w);
      kills++;
      console.log(`kill ${kills} at ${new Date().toISOString()}${inLoad ? ' (inside a load transaction)' : ''}`);
      if (inLoad) {
        duringLoad++;
        await lockHolder.query('ROLLBACK');
      }
      await new Promise((r) => setTimeout(r, 300));
      cluster.startWorker();
    }
  } finally {
    await workload.stop();
    await lockHolder.end();
  }
  assert.equal(kills, 6);

  await assertWorkloadInSync(src, dst, undefined, cluster);

  const status = await waitFor('pipeline idle', async () => {
    const s = await pipelineStatus(cluster.client, 'crash');
    return s.batchesInFlight === 0 ? s : null;
  });
  const [cp] = await dst.query('SELECT seq FROM seaotter.seaotter_checkpoint WHERE pipeline = ?', ['crash']);
  const seq = Number((cp as { seq: number }[])[0].seq);
  assert.equal(seq, status.committedSeq);
  // Every batch number from 1 to seq ran to completion exactly once (a retried workflow keeps its id).
  const done = await waitFor('visibility of completed batches', async () => {
    const ids = new Set<string>();
    for await (const w of cluster.client.workflow.list({ query: `WorkflowType = 'syncBatchWorkflow' AND SeaotterPipeline = 'crash' AND ExecutionStatus = 'Completed'` })) ids.add(w.workflowId);
    return ids.size === seq ? ids : null;
  }, 20_000, 500);
  for (let s = 1; s <= seq; s++) assert.ok(done.has(`seaotter-batch-crash-${s}`), `batch ${s} completed`);
  console.log(`crash test: ${kills} kills (${duringLoad} while loading), ${workload.transactions} source transactions, ${seq} batches, ${status.rowsApplied} row changes applied`);
});
