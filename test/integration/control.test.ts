/**
 * Operating a pipeline: pause and resume (with the `temporal` CLI, as operators do), stop and
 * apply again (resuming at the target's checkpoint), continue-as-new under a steady stream of
 * batches, and a target or source that goes away and comes back.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Connection } from 'mysql2/promise';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { resolveTemporalBin } from '../../client/servers/temporal-dev.js';
import { SA_STATE } from '../../workflows/messages.js';
import { Cluster, waitFor } from '../support/cluster.js';
import { assertWorkloadInSync, startWorkloadCluster, Workload } from '../support/workload.js';

const run = promisify(execFile);
let cluster: Cluster;
let src: Connection;
let dst: Connection;

async function countRows(c: Connection): Promise<number> {
  const [rows] = await c.query('SELECT COUNT(*) AS n FROM wl.events');
  return Number((rows as { n: number }[])[0].n);
}

const assertInSync = () => assertWorkloadInSync(src, dst, 90_000, cluster);

async function temporalSignal(name: string): Promise<void> {
  await run(resolveTemporalBin(), ['workflow', 'signal', '--address', cluster.temporal.address, '--workflow-id', 'seaotter-pipeline-ctl', '--name', name]);
}

before(async () => {
  ({ cluster, src, dst } = await startWorkloadCluster({
    name: 'control',
    pipeline: 'ctl',
    extraYaml: '    batch: { maxRows: 50, maxWaitMs: 20 }\n    continueAsNewEvery: 3',
  }));
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

test('pause with the temporal CLI holds new writes back; resume lets them through', async () => {
  const w = new Workload(src, 0);
  for (let i = 0; i < 20; i++) await w.one();
  await assertInSync();
  await temporalSignal('pause');
  await waitFor('state paused', async () => (await pipelineStatus(cluster.client, 'ctl')).state === 'paused');
  // The Web UI's SeaotterState follows, though no batch was in flight to finish.
  await waitFor('SeaotterState paused', async () => (await stateAttribute()) === 'paused', 10_000);
  const before = await countRows(dst);
  for (let i = 0; i < 20; i++) await w.one();
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await countRows(dst), before, 'nothing loads while paused');
  const paused = await pipelineStatus(cluster.client, 'ctl');
  assert.ok(paused.batchesInFlight > 0, 'batches wait in flight while paused');
  await temporalSignal('resume');
  await assertInSync();
  assert.equal((await pipelineStatus(cluster.client, 'ctl')).state, 'running');
  await waitFor('SeaotterState running', async () => (await stateAttribute()) === 'running', 10_000);
});

/** The pipeline workflow's SeaotterState search attribute, as the Web UI shows it. */
async function stateAttribute(): Promise<string | undefined> {
  return (await cluster.client.workflow.getHandle('seaotter-pipeline-ctl').describe()).typedSearchAttributes.get(SA_STATE);
}

/**
 * Runs of the ctl pipeline, and how many batches each took over from the run before: capture goes
 * on while a run drains, and a batch accepted then starts in the next run, in that run's first
 * workflow task, before it accepts any batch of its own.
 */
async function pipelineRuns(): Promise<{ continued: number; carried: number[] }> {
  let continued = 0;
  const carried: number[] = [];
  for await (const x of cluster.client.workflow.list({ query: `WorkflowId = 'seaotter-pipeline-ctl'` })) {
    if (x.status.name === 'CONTINUED_AS_NEW') continued++;
    const events = (await cluster.client.workflow.getHandle(x.workflowId, x.runId).fetchHistory()).events ?? [];
    const firstAccept = events.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    const early = firstAccept < 0 ? events : events.slice(0, firstAccept);
    carried.push(early.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length);
  }
  return { continued, carried };
}

/** Times the worker's capture took over the binlog stream its previous run parked. */
function streamTakeovers(): number {
  return cluster.workers.map((w) => (readFileSync(w.logFile, 'utf8').match(/capture takes over the stream of the previous run/g) ?? []).length).reduce((a, b) => a + b, 0);
}

test('continue-as-new every 3 batches loses and reorders nothing; batches accepted while a run drains start in the next, and its capture keeps its stream', async () => {
  const w = new Workload(src, 3);
  w.start();
  let runs = await pipelineRuns();
  try {
    await waitFor('three continue-as-new cycles under load, batches carried over, a capture stream taken over', async () => {
      runs = await pipelineRuns();
      return runs.continued >= 3 && runs.carried.some((n) => n > 0) && streamTakeovers() > 0;
    }, 90_000, 500);
  } finally {
    await w.stop();
  }
  await assertInSync();
  const continued = (runs = await pipelineRuns()).continued;
  const status = await waitFor('pipeline idle', async () => {
    const st = await pipelineStatus(cluster.client, 'ctl');
    return st.batchesInFlight === 0 ? st : null;
  });
  const [cp] = await dst.query('SELECT seq FROM seaotter.seaotter_checkpoint WHERE pipeline = ?', ['ctl']);
  assert.equal(Number((cp as { seq: number }[])[0].seq), status.committedSeq);
  console.log(`continue-as-new: ${continued} cycles, ${status.committedSeq} batches committed; batches carried into each run: ${runs.carried.join(', ')}; streams taken over: ${streamTakeovers()}`);
});

test('stop while a batch loads: stopping (apply refuses) until that load commits, then stopped; apply again resumes at the checkpoint, nothing twice', async () => {
  const w = new Workload(src, 0);
  // Hold the checkpoint row on the target, so the next batch's load waits in the middle.
  const holder = await cluster.target.connect();
  await holder.query('BEGIN');
  await holder.query("SELECT * FROM seaotter.seaotter_checkpoint WHERE pipeline = 'ctl' FOR UPDATE");
  const before = await countRows(dst);
  for (let i = 0; i < 5; i++) await w.one();
  await waitFor('a batch loading', async () => (await pipelineStatus(cluster.client, 'ctl')).batchesInFlight > 0);
  // `stop --wait` returns only once the workflow has ended: after the held load commits.
  let stopReturned = false;
  const stop = cluster.cli(['pipeline', 'stop', 'ctl', '--wait']).finally(() => void (stopReturned = true));
  await waitFor('state stopping', async () => (await pipelineStatus(cluster.client, 'ctl')).state === 'stopping');
  const refused = await cluster.cli(['pipeline', 'apply', '--config', cluster.configPath]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /pipeline ctl is stopping .*apply again once/);
  assert.equal(await countRows(dst), before, 'nothing loaded while the checkpoint row was held');
  assert.equal(stopReturned, false, 'stop --wait waits for the load that is under way');
  await holder.query('ROLLBACK');
  await holder.end();
  const stopped = await stop;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, /ctl: stop sent\nctl: stopped; committed batch \d+ at mysql-bin/);
  const handle = cluster.client.workflow.getHandle('seaotter-pipeline-ctl');
  const final = (await handle.result()) as { state: string; committedSeq: number };
  assert.equal(final.state, 'stopped');
  assert.match(stopped.stdout, new RegExp(`committed batch ${final.committedSeq} at`));
  assert.ok((await countRows(dst)) > before, 'the batch that was loading committed before the stop completed');
  const after = await pipelineStatus(cluster.client, 'ctl');
  assert.equal(after.state, 'stopped');
  for (let i = 0; i < 30; i++) await w.one();
  const out = await cluster.cliOk(['pipeline', 'apply', '--config', cluster.configPath]);
  assert.match(out, new RegExp(`ctl: started .*resuming after batch ${final.committedSeq}`));
  await assertInSync();
  const status = await pipelineStatus(cluster.client, 'ctl');
  assert.ok(status.committedSeq > final.committedSeq, 'seq continues after the checkpoint');
});

test('apply --replace under load ends the workflow and resumes from the checkpoint, nothing twice', async () => {
  const w = new Workload(src, 3);
  w.start();
  try {
    await new Promise((r) => setTimeout(r, 1500));
    // A config that apply refuses (a mapped table the source lacks) replaces nothing: the running
    // workflow is left as it was, not ended first.
    const good = await readFile(cluster.configPath, 'utf8');
    assert.match(good, /source: wl\.events/);
    const badPath = path.join(cluster.dir, 'refused.yaml');
    await writeFile(badPath, good.replace(/source: wl\.events/, 'source: wl.no_such_table'));
    const refused = await cluster.cli(['pipeline', 'apply', '--replace', '--config', badPath]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /cannot apply:[\s\S]*no_such_table/);
    assert.equal((await cluster.client.workflow.getHandle('seaotter-pipeline-ctl').describe()).status.name, 'RUNNING', 'a refused --replace ends nothing');
    const before = (await pipelineStatus(cluster.client, 'ctl')).committedSeq;
    const out = await cluster.cliOk(['pipeline', 'apply', '--replace', '--config', cluster.configPath]);
    assert.match(out, /ctl: started .*resuming after batch \d+/);
    await waitFor('batches after the replace', async () => (await pipelineStatus(cluster.client, 'ctl')).committedSeq > before + 2, 60_000, 300);
  } finally {
    await w.stop();
  }
  await assertInSync();
  let terminated = 0;
  for await (const x of cluster.client.workflow.list({ query: `WorkflowId = 'seaotter-pipeline-ctl' AND ExecutionStatus = 'Terminated'` })) if (x) terminated++;
  assert.equal(terminated, 1);
});

test('target down: loads retry visibly, then catch up when it returns', async () => {
  const w = new Workload(src, 0);
  await cluster.target.stop();
  for (let i = 0; i < 10; i++) await w.one();
  const seen = await waitFor('a retrying load in status', async () => {
    const s = await pipelineStatus(cluster.client, 'ctl');
    return s.retrying.find((r) => r.activity === 'loadBatch');
  }, 60_000, 500);
  assert.match(seen.error, /ECONNREFUSED|connect|closed|lost/i);
  const json = await cluster.cliOk(['pipeline', 'status', 'ctl', '--json']);
  assert.ok(JSON.parse(json).retrying.length > 0, 'status --json shows the retry');
  await cluster.target.restart();
  dst = await cluster.target.connect();
  await assertInSync();
  await waitFor('retries cleared', async () => (await pipelineStatus(cluster.client, 'ctl')).retrying.length === 0, 30_000, 500);
});

test('source down: capture retries visibly, then resumes when it returns', async () => {
  await cluster.source.stop();
  let last = '';
  const down = Date.now();
  const status = await waitFor('a retrying capture in status', async () => {
    const s = await pipelineStatus(cluster.client, 'ctl');
    last = JSON.stringify(s);
    return s.retrying.some((r) => r.activity === 'captureBinlog') ? s : null;
  }, 60_000, 500).catch((err) => {
    throw new Error(`${(err as Error).message}; last status: ${last}`);
  });
  assert.ok(status.retrying.find((r) => r.activity === 'captureBinlog')!.attempt > 1);
  // Nothing in flight, yet the lag is not 0: at least as long as the source has been down.
  assert.ok(status.lagSeconds >= Math.max(1, (Date.now() - down) / 1000 - 1), `lag ${status.lagSeconds} s while the source is down`);
  await cluster.source.restart();
  src = await cluster.source.connect();
  const w = new Workload(src, 0);
  for (let i = 0; i < 10; i++) await w.one();
  await assertInSync();
});
