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
import { freePort } from '../../client/servers/ports.js';
import { Cluster, dumpTable, metricValue, scrapeMetrics, waitFor } from '../support/cluster.js';

let cluster: Cluster;
let src: Connection;
let dst: Connection;
let metricsPort: number;

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
  const pipelines = `pipelines:
  - id: halts
    source: src
    target: dst
    tables: [{ source: app.h }]
  - id: skips
    source: src
    target: dst
    tables: [{ source: app.s }]
    load: { onError: skip }
`;
  // The worker serves its metrics, which the tests read as an alarm would.
  await cluster.writeConfig(`${cluster.dataSourcesYaml()}\n${pipelines}`);
  metricsPort = await freePort();
  cluster.startWorker('hz', { metricsPort });
  await cluster.runPipelines(pipelines);
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

  // What an alarm sees meanwhile: the refused load, and changes accepted but not applied.
  const h = { pipeline: 'halts' };
  const stuck = await waitFor('row 4 accepted', async () => {
    const m = await scrapeMetrics(metricsPort);
    return (metricValue(m, 'seaotter_rows_captured_total', h) ?? 0) >= 4 ? m : null;
  });
  assert.ok((metricValue(stuck, 'seaotter_load_failures_total', { ...h, error: 'TargetRefused' }) ?? 0) >= 1, 'the refused load is counted');
  assert.equal(metricValue(stuck, 'seaotter_rows_applied_total', h), 1);
  assert.ok(metricValue(stuck, 'seaotter_accepted_event_timestamp_seconds', h)! > metricValue(stuck, 'seaotter_applied_event_timestamp_seconds', h)!, 'accepted changes are newer than applied ones');
  assert.ok(Date.now() / 1000 - metricValue(stuck, 'seaotter_last_commit_timestamp_seconds', h)! >= 1.5, 'no commit since the halt');

  await dst.query('ALTER TABLE app.h MODIFY v VARCHAR(50)');
  await cluster.cliOk(['pipeline', 'resume', 'halts']);
  const want = await dumpTable(src, 'app.h');
  await waitFor('caught up after resume', async () => JSON.stringify(await dumpTable(dst, 'app.h')) === JSON.stringify(want), 60_000);
  const status = await pipelineStatus(cluster.client, 'halts');
  assert.equal(status.state, 'running');

  // Every row change counted once (the refused batch's two rows when they committed), one lag
  // observation per committed batch, and nothing accepted that is not applied.
  const m = await scrapeMetrics(metricsPort);
  assert.equal(metricValue(m, 'seaotter_rows_applied_total', h), 4);
  assert.equal(metricValue(m, 'seaotter_rows_captured_total', h), 4);
  assert.equal(metricValue(m, 'seaotter_batches_committed_total', h), status.committedSeq);
  assert.equal(metricValue(m, 'seaotter_commit_lag_seconds_count', h), status.committedSeq);
  assert.equal(metricValue(m, 'seaotter_accepted_event_timestamp_seconds', h), metricValue(m, 'seaotter_applied_event_timestamp_seconds', h));
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
  const m = await scrapeMetrics(metricsPort);
  assert.equal(metricValue(m, 'seaotter_rows_dead_lettered_total', { pipeline: 'skips' }), 1);
  assert.equal(metricValue(m, 'seaotter_load_failures_total', { pipeline: 'skips' }), undefined, 'a dead-lettered row fails no load');
});

test('a paused pipeline is reported by its capture, so the stall alarm leaves it alone', async () => {
  // The halted-then-resumed pipeline was never paused: nothing reported for it.
  assert.equal(metricValue(await scrapeMetrics(metricsPort), 'seaotter_pipeline_paused_seen_timestamp_seconds', { pipeline: 'halts' }), undefined);
  await cluster.cliOk(['pipeline', 'pause', 'skips']);
  const since = Date.now() / 1000;
  await src.query("INSERT INTO app.s VALUES (10, 'p')");
  // Capture asks every 15 s.
  const seen = await waitFor('pause reported', async () => {
    const v = metricValue(await scrapeMetrics(metricsPort), 'seaotter_pipeline_paused_seen_timestamp_seconds', { pipeline: 'skips' });
    return v !== undefined && v >= since ? v : null;
  }, 40_000, 500);
  assert.ok(seen <= Date.now() / 1000);
  await cluster.cliOk(['pipeline', 'resume', 'skips']);
  await waitFor('row after resume', async () => (await dumpTable(dst, 'app.s')).some((r) => r.startsWith('[10,')), 60_000);
  // Once resumed, it is not reported again: the value ages, and with it the alarm's exception.
  await new Promise((r) => setTimeout(r, 16_000));
  assert.equal(metricValue(await scrapeMetrics(metricsPort), 'seaotter_pipeline_paused_seen_timestamp_seconds', { pipeline: 'skips' }), seen);
});
