/**
 * Crashes under load: the worker is killed with SIGKILL repeatedly while the source takes a steady
 * write load, and restarted each time. Afterwards the target equals the source, the checkpoint seq
 * equals the number of batches that ran, and no row was applied twice. Then a worker hangs
 * (SIGSTOP) inside a load: its session, idle in its transaction, is ended by the server after the
 * workers' idle limit, and the load runs again on another worker.
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

test('a worker that hangs inside a load (SIGSTOP): the server ends its idle session, and the load runs again on another worker', async () => {
  // A short idle limit for the test (the default is 600 s): the hung worker's session, idle in its
  // transaction, holds the checkpoint row until the server ends it.
  const env = { SEAOTTER_SESSION_IDLE_SECONDS: '5' };
  for (const w of [...cluster.workers]) await cluster.stopWorker(w);
  const hung = cluster.startWorker('hz', { env });
  const workload = new Workload(src, 2);
  workload.start();
  const lockHolder = await cluster.target.connect();
  let stopped = false;
  try {
    await new Promise((r) => setTimeout(r, 1500));
    await blockNextLoad(lockHolder);
    const [waiting] = await lockHolder.query("SELECT ID FROM information_schema.PROCESSLIST WHERE STATE = 'Update' AND INFO LIKE 'INSERT INTO `wl`.`counters`%'");
    const session = Number((waiting as { ID: number }[])[0]!.ID);
    process.kill(hung.pid, 'SIGSTOP');
    stopped = true;
    // The load's statement goes through; its worker, stopped, never commits: its session sits idle
    // in the transaction that holds the checkpoint row, until the server ends it.
    await lockHolder.query('ROLLBACK');
    const idleSince = Date.now();
    await waitFor('the hung worker\'s session ended by the server', async () => {
      const [rows] = await lockHolder.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?', [session]);
      return Number((rows as { n: number }[])[0]!.n) === 0;
    }, 30_000, 250);
    console.log(`hung-worker test: its session ended ${((Date.now() - idleSince) / 1000).toFixed(1)} s after it went idle, the worker still stopped`);
  } finally {
    await workload.stop();
    await lockHolder.end();
    if (stopped) process.kill(hung.pid, 'SIGCONT');
    await cluster.killWorker(hung);
  }
  cluster.startWorker('hz', { env });
  await assertWorkloadInSync(src, dst, 120_000, cluster);
});
