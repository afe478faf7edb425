/**
 * The Temporal server restarts mid-run (its database file kept): workers reconnect, the pipeline
 * workflow carries on from its history, and the target ends equal to the source.
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
  ({ cluster, src, dst } = await startWorkloadCluster({ name: 'trestart', temporalDb: true, pipeline: 'tr', extraYaml: '    batch: { maxRows: 200, maxWaitMs: 50 }' }));
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

test('Temporal dev server restarted mid-run: the pipeline continues', async () => {
  const w = new Workload(src, 5);
  w.start();
  try {
    await waitFor('some batches committed', async () => (await pipelineStatus(cluster.client, 'tr')).committedSeq >= 3, 30_000);
    const before = await pipelineStatus(cluster.client, 'tr');
    await cluster.temporal.stop();
    await new Promise((r) => setTimeout(r, 4000));
    await cluster.temporal.restart();
    // Batches in flight at the stop can commit without capture: wait for ones it cut afterwards.
    await cluster.explainFailure(() =>
      waitFor(
        'batches captured and committed after the restart',
        async () => {
          const s = await pipelineStatus(cluster.client, 'tr');
          return s.acceptedSeq > before.acceptedSeq + 2 && s.committedSeq > before.acceptedSeq;
        },
        90_000,
        500,
      ),
    );
  } finally {
    await w.stop();
  }
  await assertWorkloadInSync(src, dst, undefined, cluster);
  const s = await pipelineStatus(cluster.client, 'tr');
  assert.equal(s.state, 'running');
  console.log(`temporal restart: ${w.transactions} transactions, ${s.committedSeq} batches`);
});
