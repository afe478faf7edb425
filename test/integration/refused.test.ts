/**
 * A row the target refuses: by default the pipeline halts with the batch, statement and error
 * visible, loads nothing of that batch, and continues after the operator fixes the target and
 * resumes; with `load.onError: skip` the row goes to a dead-letter file and the rest commits.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { Cluster, dumpTable, waitFor } from '../support/cluster.js';

let cluster: Cluster;
let src: Connection;
let dst: Connection;

before(async () => {
  cluster = await Cluster.start({ name: 'refused' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) await c.query('CREATE DATABASE app');
  // The target's columns are narrower than the source's: long values are refused.
  await src.query('CREATE TABLE app.h (id INT PRIMARY KEY, v VARCHAR(50))');
  await dst.query('CREATE TABLE app.h (id INT PRIMARY KEY, v VARCHAR(5))');
  await src.query('CREATE TABLE app.s (id INT PRIMARY KEY, v VARCHAR(50))');
  await dst.query('CREATE TABLE app.s (id INT PRIMARY KEY, v VARCHAR(5))');
  await cluster.runPipelines(`pipelines:
  - id: halts
    source: src
    target: dst
    tables: [{ source: app.h }]
  - id: skips
    source: src
    target: dst
    tables: [{ source: app.s }]
    load: { onError: skip }
`);
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

test('default: the pipeline halts on a refused row, then resumes once the target is fixed', async () => {
  await src.query("INSERT INTO app.h VALUES (1, 'ok')");
  await waitFor('row 1', async () => (await dumpTable(dst, 'app.h')).length === 1);
  await src.query("INSERT INTO app.h VALUES (2, 'fine'), (3, 'much too long for the target')");
  const halted = await waitFor('halted', async () => {
    const s = await pipelineStatus(cluster.client, 'halts');
    return s.state === 'halted' ? s : null;
  }, 60_000, 300);
  assert.match(halted.lastError!.message, /value too long|Data too long/i);
  assert.match(halted.lastError!.message, /INSERT INTO `app`.`h`/);
  assert.equal(halted.lastError!.workflowId, `seaotter-batch-halts-${halted.lastError!.seq}`);
  const text = await cluster.cliOk(['pipeline', 'status', 'halts']);
  assert.match(text, /HALTED at batch \d+/);
  // Nothing of the refused batch is on the target (one transaction), and later writes wait.
  await src.query("INSERT INTO app.h VALUES (4, 'late')");
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await dumpTable(dst, 'app.h'), ['[1,"ok"]']);

  await dst.query('ALTER TABLE app.h MODIFY v VARCHAR(50)');
  await cluster.cliOk(['pipeline', 'resume', 'halts']);
  const want = await dumpTable(src, 'app.h');
  await waitFor('caught up after resume', async () => JSON.stringify(await dumpTable(dst, 'app.h')) === JSON.stringify(want), 60_000);
  assert.equal((await pipelineStatus(cluster.client, 'halts')).state, 'running');
});

test('onError: skip dead-letters the refused row and applies the rest', async () => {
  await src.query("INSERT INTO app.s VALUES (1, 'a'), (2, 'this one is far too long'), (3, 'c')");
  await src.query("UPDATE app.s SET v = 'cc' WHERE id = 3");
  await waitFor('rows 1 and 3', async () => JSON.stringify(await dumpTable(dst, 'app.s')) === JSON.stringify(['[1,"a"]', '[3,"cc"]']), 60_000);
  const s = await waitFor('dead-letter count', async () => {
    const st = await pipelineStatus(cluster.client, 'skips');
    return st.deadLettered === 1 ? st : null;
  });
  assert.equal(s.state, 'running');
  const batches: number[] = [];
  for await (const w of cluster.client.workflow.list({ query: `SeaotterPipeline = 'skips' AND WorkflowType = 'syncBatchWorkflow'` })) batches.push(Number(w.workflowId.split('-').pop()));
  const files = await Promise.allSettled(batches.map((seq) => readFile(`${cluster.dir}/stage/skips/dead-letter/batch-${seq}.jsonl`, 'utf8')));
  const lines = files.flatMap((f) => (f.status === 'fulfilled' ? f.value.trim().split('\n') : []));
  assert.equal(lines.length, 1);
  const dead = JSON.parse(lines[0]);
  assert.equal(dead.table, 'app.s');
  assert.deepEqual(dead.row, { id: 2, v: 'this one is far too long' });
  assert.equal(dead.errno, 1406);
});
