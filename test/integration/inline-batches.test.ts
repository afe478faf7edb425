/**
 * batch.inlineMaxBytes: small transformed batches travel in the load activity's input instead
 * of the stage (from 8 KiB on gzip'd), big ones still go through the stage, and the target ends
 * equal either way.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { Cluster, waitFor } from '../support/cluster.js';
import { assertWorkloadInSync, startWorkloadCluster, Workload } from '../support/workload.js';

let cluster: Cluster;
let src: Connection;
let dst: Connection;

before(async () => {
  ({ cluster, src, dst } = await startWorkloadCluster({
    name: 'inline',
    pipeline: 'inl',
    extraYaml: '    batch: { maxRows: 5000, maxWaitMs: 20, inlineMaxBytes: 65536 }',
  }));
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

/** Files under the stage's transformed/ folder of the pipeline. */
async function transformedFiles(): Promise<string[]> {
  return readdir(path.join(cluster.dir, 'stage', 'inl', 'transformed')).catch(() => []);
}

test('small batches travel inline, mid-sized ones gzip\'d, a big one through the stage; the target ends equal, nothing twice', async () => {
  const w = new Workload(src, 2);
  w.start();
  await new Promise((r) => setTimeout(r, 4000));
  await w.stop();
  await assertWorkloadInSync(src, dst, undefined, cluster);

  // Paused, batches wait transformed: the small ones leave nothing on the stage.
  await cluster.cliOk(['pipeline', 'pause', 'inl']);
  for (let i = 0; i < 5; i++) await w.one();
  await waitFor('small batches waiting', async () => (await pipelineStatus(cluster.client, 'inl')).batchesInFlight > 0);
  await new Promise((r) => setTimeout(r, 1000));
  // One transaction of 300 rows (~30 KB of JSON): inline, gzip'd.
  const before = (await pipelineStatus(cluster.client, 'inl')).acceptedSeq;
  await src.query('INSERT INTO wl.events (k, body) VALUES ?', [Array.from({ length: 300 }, (_, i) => [900_000 + i, `mid ${i} ${'y'.repeat(30)}`])]);
  await waitFor('the mid-sized batch accepted', async () => (await pipelineStatus(cluster.client, 'inl')).acceptedSeq > before);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(await transformedFiles(), [], 'no small or mid-sized batch was staged after transform');
  // One transaction of 3000 rows (~150 KB of JSON) is over the limit: it is staged.
  const rows = Array.from({ length: 3000 }, (_, i) => [1_000_000 + i, `big ${i} ${'x'.repeat(30)}`]);
  await src.query('INSERT INTO wl.events (k, body) VALUES ?', [rows]);
  await waitFor('the big batch staged', async () => (await transformedFiles()).length > 0, 60_000);

  await cluster.cliOk(['pipeline', 'resume', 'inl']);
  await assertWorkloadInSync(src, dst, undefined, cluster);
  const forms: string[] = [];
  for await (const wf of cluster.client.workflow.list({ query: `WorkflowType = 'syncBatchWorkflow'` })) {
    const history = await cluster.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityType?.name !== 'loadBatch') continue;
      const payload = s.input?.payloads?.[0]?.data;
      const text = payload ? Buffer.from(payload).toString('utf8') : '';
      forms.push(text.includes('"inline"') ? 'inline' : text.includes('"inlineGzip"') ? 'gzip' : 'stage');
    }
  }
  for (const form of ['inline', 'gzip', 'stage']) assert.ok(forms.includes(form), `a load with its changes ${form}: ${JSON.stringify(forms)}`);
});
