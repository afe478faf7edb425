/**
 * Two datacenters, one worker fleet each: the source `hz`, the target `us`. Each worker polls only
 * `seaotter.<its dc>`. With only the hz worker, capture runs and batches are accepted, but their
 * loads wait on `seaotter.us`, visibly in `pipeline status`; the us worker then catches up with
 * nothing applied twice. The reverse: without an hz worker, capture waits on `seaotter.hz`.
 * Worker identities in the histories prove which worker ran what.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { NoWorkerError, pipelineStatus, type StatusReport } from '../../client/pipeline-commands.js';
import { Cluster, waitFor, type WorkerProcess } from '../support/cluster.js';
import { assertWorkloadInSync, createWorkloadSchema, WORKLOAD_TABLES, Workload } from '../support/workload.js';

const ID = 'xdc';
let cluster: Cluster;
let src: Connection;
let dst: Connection;
let hz: WorkerProcess | undefined;
let us: WorkerProcess | undefined;

async function targetRows(): Promise<number> {
  const [rows] = await dst.query('SELECT COUNT(*) AS n FROM wl.events');
  return Number((rows as { n: number }[])[0].n);
}

before(async () => {
  cluster = await Cluster.start({ name: 'dc' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  await createWorkloadSchema(src, dst);
  await cluster.writeConfig(`dataSources:
  src: { type: mariadb, host: 127.0.0.1, port: ${cluster.source.port}, user: seaotter, passwordEnv: SRC_PW, datacenter: hz }
  dst: { type: mariadb, host: 127.0.0.1, port: ${cluster.target.port}, user: seaotter, passwordEnv: DST_PW, datacenter: us }
stage: { type: local, dir: ${path.join(cluster.dir, 'stage')} }
pipelines:
  - id: ${ID}
    source: src
    target: dst
    tables:
${WORKLOAD_TABLES.map((t) => `      - source: ${t}`).join('\n')}
    batch: { maxRows: 20, maxWaitMs: 20, maxInFlight: 3 }
`);
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

test('only the hz worker: capture runs, batches are accepted, loads wait on seaotter.us', async () => {
  hz = cluster.startWorker('hz');
  await cluster.cliOk(['pipeline', 'apply', '--config', cluster.configPath]);
  const w = new Workload(src, 0);
  for (let i = 0; i < 30; i++) await w.one();

  const status = await waitFor('accepted batches whose loads wait on seaotter.us', async () => {
    const s = await pipelineStatus(cluster.client, ID);
    return s.acceptedSeq >= 1 && s.waiting.some((x) => x.task === 'loadBatch' && x.taskQueue === 'seaotter.us' && x.pollers === 0) ? s : null;
  }, 90_000, 500);
  assert.equal(status.committedSeq, 0, 'nothing committed without a us worker');
  assert.equal(status.sourceQueue, 'seaotter.hz');
  assert.equal(status.targetQueue, 'seaotter.us');
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(await targetRows(), 0, 'nothing loads without a us worker');

  const text = await cluster.cliOk(['pipeline', 'status', ID]);
  assert.match(text, /waiting: loadBatch of seaotter-batch-xdc-\d+ waits on seaotter\.us for \d+ s: no worker polling seaotter\.us \(start one: seaotter worker --dc us\)/);
  const json = JSON.parse(await cluster.cliOk(['pipeline', 'status', ID, '--json'])) as StatusReport;
  assert.ok(json.waiting.some((x) => x.task === 'loadBatch' && x.taskQueue === 'seaotter.us' && x.pollers === 0), JSON.stringify(json.waiting));

  us = cluster.startWorker('us');
  for (let i = 0; i < 20; i++) await w.one();
  await assertWorkloadInSync(src, dst, 120_000, cluster);
  const caughtUp = await waitFor('no batch in flight', async () => {
    const s = await pipelineStatus(cluster.client, ID);
    return s.batchesInFlight === 0 ? s : null;
  });
  assert.deepEqual(caughtUp.waiting, []);
  assert.ok(caughtUp.committedSeq >= 2, `several batches committed (${caughtUp.committedSeq})`);
});

test('each worker ran only its own datacenter\'s tasks', async () => {
  const identity = (w: WorkerProcess | undefined) => new RegExp(`^${w!.pid}@`);
  const batches: string[] = [];
  for await (const x of cluster.client.workflow.list({ query: `WorkflowType = 'syncBatchWorkflow' AND SeaotterPipeline = '${ID}'` })) batches.push(x.workflowId);
  assert.ok(batches.length >= 2, `batch workflows found: ${batches.length}`);
  const seen = { loads: 0, workflowTasks: 0, captures: 0 };
  for (const id of [...batches, `seaotter-pipeline-${ID}`]) {
    const history = await cluster.client.workflow.getHandle(id).fetchHistory();
    const events = history.events ?? [];
    const scheduled = new Map<string, string>();
    for (const e of events) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
      const started = e.activityTaskStartedEventAttributes;
      if (started) {
        const type = scheduled.get(String(started.scheduledEventId)) ?? '?';
        const want = type === 'loadBatch' || type === 'copyFiles' ? us : hz;
        assert.match(started.identity ?? '', identity(want), `${id}: ${type} started by ${started.identity}`);
        if (type === 'loadBatch') seen.loads++;
        if (type === 'captureBinlog') seen.captures++;
      }
      // The completing worker is recorded on completion (a started event may carry no identity).
      const wft = e.workflowTaskCompletedEventAttributes;
      if (wft) {
        assert.match(wft.identity ?? '', identity(hz), `${id}: workflow task completed by ${wft.identity}`);
        seen.workflowTasks++;
      }
    }
  }
  // Capture runs for good: its started event is written only when it ends; the pending one names its worker.
  const d = await cluster.client.workflow.getHandle(`seaotter-pipeline-${ID}`).describe();
  for (const a of d.raw.pendingActivities ?? []) {
    assert.equal(a.activityType?.name, 'captureBinlog');
    assert.match(a.lastWorkerIdentity ?? '', identity(hz), `capture runs on ${a.lastWorkerIdentity}`);
    seen.captures++;
  }
  assert.ok(seen.loads >= 2 && seen.captures >= 1 && seen.workflowTasks >= 2, JSON.stringify(seen));
});

test('without an hz worker capture waits on seaotter.hz, visibly; it resumes when one starts', async () => {
  await cluster.stopWorker(hz!);
  hz = undefined;
  const before = await targetRows();
  const w = new Workload(src, 0);
  for (let i = 0; i < 20; i++) await w.one();
  // A stopped worker stays in the task queue's poller list for a while: wait until it has aged out.
  const report = await waitFor('status naming capture waiting on seaotter.hz', async () => {
    try {
      await pipelineStatus(cluster.client, ID);
      return null;
    } catch (err) {
      if (!(err instanceof NoWorkerError)) throw err;
      return err.report.waiting.some((x) => x.task === 'captureBinlog' && x.taskQueue === 'seaotter.hz' && x.pollers === 0) ? err.report : null;
    }
  }, 240_000, 2000);
  assert.equal(report.answered, false);
  assert.equal(await targetRows(), before, 'nothing new arrives without capture');

  const r = await cluster.cli(['pipeline', 'status', ID]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /not answering/);
  assert.match(r.stdout, /waiting: captureBinlog of seaotter-pipeline-xdc waits on seaotter\.hz for \d+ s: no worker polling seaotter\.hz/);
  const json = JSON.parse((await cluster.cliOk(['pipeline', 'status', ID, '--json'])).trim()) as {
    answered: boolean; state: string; lagSeconds: null; committedSeq: number; waiting: Array<{ task: string; taskQueue: string }>;
  };
  assert.equal(json.answered, false);
  assert.equal(json.state, 'running');
  assert.equal(json.lagSeconds, null, 'unknown without an answer');
  assert.ok(json.committedSeq >= 2, 'the last committed batch, as the workflow published it');
  assert.ok(json.waiting.some((x) => x.task === 'captureBinlog' && x.taskQueue === 'seaotter.hz'), JSON.stringify(json));

  const apply = await cluster.cli(['pipeline', 'apply', '--config', cluster.configPath]);
  assert.equal(apply.code, 2, `apply without a worker to answer: ${apply.stdout}${apply.stderr}`);
  assert.match(apply.stderr, /pipeline xdc is running, but no worker polls seaotter\.hz to answer; start one with "seaotter worker --dc hz"/);

  hz = cluster.startWorker('hz');
  await assertWorkloadInSync(src, dst, 120_000, cluster);
  const s = await waitFor('answering again, nothing in flight', async () => {
    const st = await pipelineStatus(cluster.client, ID);
    return st.batchesInFlight === 0 ? st : null;
  });
  assert.equal(s.state, 'running');
  assert.equal(s.lastError, null);
});
